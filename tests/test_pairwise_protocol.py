"""PairwiseLogAmplitude: a new model implements two methods and gets every fast route."""

import re

import equinox as eqx
import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import pytest
from jaxtyping import Array, Float

import eqxnqs
from helpers import SineJastrow, random_configurations


class NonlinearPairs(eqxnqs.PairwiseLogAmplitude):
    """Pair terms as a dict of a vector and a scalar, and a readout that mixes them."""

    weight: Float[Array, "2 3"]
    box: tuple[float, ...] = eqx.field(static=True)
    n_particles: int = eqx.field(static=True)

    def pair_terms(self, u):
        s = jnp.sin(jnp.pi * u / jnp.asarray(self.box)) ** 2
        return {"vector": jnp.stack([s[0], s[1], s[0] * s[1]]), "scalar": jnp.cos(2 * s[0])}

    def readout(self, pair_sum):
        hidden = jnp.tanh(self.weight @ pair_sum["vector"] / self.n_particles)
        return jnp.sum(hidden) + 0.1 * pair_sum["scalar"] * hidden[0]


class UnsummedPairs(NonlinearPairs):
    """The same pair terms, but its forward pass takes a max: not a pair sum."""

    @property
    def sums_pairs(self):
        return False

    def __call__(self, x):
        terms = jax.vmap(self.pair_terms)(self.pair_displacements(x))
        return jnp.max(terms["scalar"]) + jnp.sum(terms["vector"])


def _nonlinear(cls=NonlinearPairs, n=5):
    weight = jax.random.normal(jax.random.key(0), (2, 3))
    return cls(weight, (3.0, 4.0), n)


def test_forward_pass_is_the_readout_of_the_pair_sum():
    model = _nonlinear()
    x = random_configurations(jax.random.key(1), 1, 5, model.box)[0]
    positions = x.reshape(5, 2)
    total = {"vector": 0.0, "scalar": 0.0}
    for i in range(5):
        for j in range(i + 1, 5):
            terms = model.pair_terms(positions[i] - positions[j])
            total = {k: total[k] + terms[k] for k in total}
    np.testing.assert_allclose(model(x), model.readout(total), rtol=1e-14)
    with pytest.raises(ValueError, match=r"expects x of shape \(10,\)"):
        model(jnp.zeros(8))


@pytest.mark.parametrize("cls", [NonlinearPairs, UnsummedPairs])
def test_exact_derivatives_of_any_pairwise_model(cls):
    """The O(N^2) route (or the full Hessian when the pairs are not summed) equals autodiff."""
    model = _nonlinear(cls)
    x = random_configurations(jax.random.key(2), 6, 5, model.box)
    got = jax.jit(jax.vmap(model.grad_and_hessian_diagonal))(x)
    want_grad = jax.jit(jax.vmap(jax.grad(model)))(x)
    want_hessian = jax.jit(jax.vmap(lambda y: jnp.diagonal(jax.hessian(model)(y))))(x)
    np.testing.assert_allclose(got[0], want_grad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[1], want_hessian, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("beta", [1.0, 2.0, 3.5])
def test_calogero_sutherland_ground_state_has_zero_variance(beta):
    """The exact ground state through eqxnqs.KineticEnergy: every local energy is E0."""
    n, length = 6, 5.0
    system = eqxnqs.calogero_sutherland(n, length, beta=beta)
    model = SineJastrow(jnp.asarray(beta), (length,), n)
    sampler = eqxnqs.SingleParticleMetropolis(system.hilbert, sigma=0.5, n_chains=16)
    vstate = eqxnqs.make_mcstate(sampler, model, n_samples=512, n_discard_per_chain=32, seed=0)
    local = vstate.local_estimators(system.hamiltonian).data
    exact = eqxnqs.calogero_sutherland_energy(n, length, beta)
    np.testing.assert_allclose(local, exact, rtol=1e-9)
    # NetKet's own (Hessian) kinetic energy agrees sample by sample.
    kinetic = eqxnqs.KineticEnergy(system.hilbert, 1.0)
    ours = vstate.local_estimators(kinetic).data
    theirs = vstate.local_estimators(nk.operator.KineticEnergy(system.hilbert, 1.0)).data
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)


def test_single_particle_sampler_gives_netkets_chain():
    """O(N) pair-sum updates reproduce NetKet's chain of whole forward passes."""
    model = _nonlinear(NonlinearPairs)
    hilbert = eqxnqs.periodic_particles(5, model.box)

    def chains(sampler):
        vs = eqxnqs.make_mcstate(
            sampler, model, n_samples=64, n_discard_per_chain=4, seed=0, sampler_seed=3
        )
        return vs.sample(), vs.sampler_state

    fast, state = chains(eqxnqs.SingleParticleMetropolis(hilbert, sigma=0.6, n_chains=8))
    ref, _ = chains(
        nk.sampler.MetropolisSampler(hilbert, eqxnqs.SingleParticleGaussianRule(0.6), n_chains=8)
    )
    np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-12)
    assert 0 < int(state.n_accepted) < int(state.n_steps)


@eqx.filter_jit
def _both_jets(model, u, metric):
    from eqxnqs._models._pairwise import axis_jets

    generic = jax.vmap(lambda w: axis_jets(model.pair_terms, w))(u)
    laplacian = jax.tree.map(lambda s: jnp.einsum("pa,pa...->p...", metric, s), generic[2])
    fast = (jax.vmap(model.pair_jets)(u), jax.vmap(model.pair_laplacian_jets)(u, metric))
    return fast, (generic, (generic[0], generic[1], laplacian))


@pytest.mark.parametrize("activation", ["gelu", "tanh", "softplus", "elu", "softmax"])
def test_deepsets_taylor_jets_equal_the_generic_route(activation):
    # DeepSetRelDistance.pair_jets (Taylor mode through phi) against axis_jets of
    # pair_terms (forward over forward), with saturated phi units among the rest;
    # softmax is not elementwise and takes the generic route.
    for dim, cusp in [(1, 5), (2, None), (3, 3)]:
        model = eqxnqs.DeepSetRelDistance(
            (3.0, 3.5, 4.0)[:dim], 5, layers_phi=2, features_phi=(6, 5), layers_rho=2,
            features_rho=(4, 1), cusp_exponent=cusp, activation=getattr(jax.nn, activation),
            output_activation=getattr(jax.nn, activation), key=jax.random.key(dim),
        )  # fmt: skip
        first = model.phi.layers[0]
        saturated = jnp.where(jnp.arange(6) % 3 == 0, -1000.0, 0.0)
        model = eqx.tree_at(lambda m: m.phi.layers[0].bias, model, first.bias + saturated)
        u = jax.random.uniform(jax.random.key(7), (30, dim), minval=-4.0, maxval=4.0)
        metric = jax.random.uniform(jax.random.key(8), (30, dim), minval=0.5, maxval=2.0)
        taylor = model.phi.jets(jnp.ones(dim), jnp.eye(dim), jnp.eye(dim)) is not None
        assert taylor == (activation != "softmax")
        fast, slow = _both_jets(model, u, metric)
        for got, want in zip(jax.tree.leaves(fast), jax.tree.leaves(slow)):
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())


def test_mlp_jets_take_diagonal_input_derivatives():
    # Derivatives of shape (in_size,) are the diagonals of (in_size, in_size) ones, and
    # the forward Laplacian is the metric's sum of the second derivatives.
    mlp = eqxnqs.DeepSetRelDistance(
        (3.0, 3.5, 4.0), 4, layers_phi=2, features_phi=(6, 5), layers_rho=2,
        features_rho=(4, 1), key=jax.random.key(0),
    ).phi  # fmt: skip
    x, first, second, metric = jax.random.normal(jax.random.key(1), (4, 3))
    metric = jnp.abs(metric)
    diagonal = mlp.jets(x, first, second)
    dense = mlp.jets(x, jnp.diag(first), jnp.diag(second))
    for got, want in zip(diagonal, dense):
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)
    laplacian = (*dense[:2], metric @ dense[2])
    for jets in (
        mlp.laplacian_jets(x, first, metric * second, metric),
        mlp.laplacian_jets(x, jnp.diag(first), metric * second, metric),
    ):
        for got, want in zip(jets, laplacian):
            np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


def _loops_calling(hlo: str, op: str) -> int:
    """How many fused loops of a compiled XLA program evaluate ``op`` (e.g. ``sine``)."""
    bodies = re.findall(r"^%fused\S* .*?\{\n(.*?)\n\}", hlo, re.M | re.S)
    return sum(f" {op}(" in body for body in bodies)


@pytest.mark.parametrize("dim", [2, 3])
def test_kinetic_energy_evaluates_its_sines_and_cosines_once(dim):
    # XLA on the CPU recomputes sin and cos in every loop that reads them (computed_once),
    # one element at a time (sin_cos, vectorised): once the DeepSet's kinetic energy
    # evaluated them in seven loops each, some 16 wide; now one loop, without XLA's sin.
    model = eqxnqs.DeepSetRelDistance(
        (3.0, 3.5, 4.0)[:dim], 6, layers_phi=2, features_phi=16, layers_rho=2,
        features_rho=(16, 1), cusp_exponent=5, key=jax.random.key(0),
    )  # fmt: skip
    x = jax.random.uniform(jax.random.key(1), (8, 6 * dim))
    compiled = jax.jit(jax.vmap(lambda y: model.grad_and_laplacian(y, 1.0))).lower(x).compile()
    hlo = compiled.as_text()
    assert _loops_calling(hlo, "sine") == _loops_calling(hlo, "cosine") == 0
    assert _loops_calling(hlo, "round-nearest-even") == 1  # sin_cos's reduction


def test_deepset_kinetic_steps_keep_their_jets_the_same_size():
    # samples_per_step ~ 2^17 / (N^2 D), a power of 2 up to 256 (the measured optimum).
    sizes = {(10, 1): 256, (16, 3): 128, (32, 3): 32, (64, 3): 8, (30, 2): 64, (400, 3): 1}
    for (n, dim), want in sizes.items():
        model = eqxnqs.DeepSetRelDistance(
            (5.0,) * dim, n, layers_phi=1, features_phi=4, layers_rho=1, features_rho=1,
            key=jax.random.key(0),
        )  # fmt: skip
        assert model.samples_per_step == want
