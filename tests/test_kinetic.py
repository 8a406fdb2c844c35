"""eqxnqs.KineticEnergy: equal to NetKet's KineticEnergy, on every route."""

import functools

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import optax
import pytest

import eqxnqs
from eqxnqs._netket._kinetic import model_derivatives
from helpers import random_configurations

# Local kinetic energies are sums of O(n_dof) terms of both signs, each
# computed to ~1e-16 relative; 1e-10 (the bound) leaves room for
# cancellation without hiding a wrong term (a missing term is O(1)).
RTOL = 1e-10


def _mixing_activation(z):
    # Not elementwise: exercises the general jet route through activations.
    return jnp.tanh(z) + 0.1 * jnp.mean(z) ** 2


def _build(box, n, key=0, **overrides):
    hyper = dict(
        layers_phi=2, layers_rho=2, features_phi=(6, 5), features_rho=(4, 1), cusp_exponent=5
    )
    hyper.update(overrides)
    return eqxnqs.DeepSetRelDistance(box, n, **hyper, key=jax.random.key(key))


def _reference_derivatives(model, x):
    grad = jax.grad(model)(x)
    return grad, jnp.diagonal(jax.hessian(model)(x))


CASES = {
    "1d N=2": ((4.0,), 2, {}),
    "1d N=5": ((4.0,), 5, {}),
    "2d N=4": ((3.0, 4.0), 4, {}),
    "3d N=5 no cusp": ((3.0, 3.5, 4.0), 5, {"cusp_exponent": None}),
    "3d N=6 mean, tanh out": (
        (3.0, 3.5, 4.0),
        6,
        {"pooling": "mean", "output_activation": jnp.tanh},
    ),
    "2d N=3 no bias, cusp 3": ((3.0, 4.0), 3, {"use_bias": False, "cusp_exponent": 3}),
    "2d N=4 mixing activation": ((3.0, 4.0), 4, {"activation": _mixing_activation}),
    "2d N=4 custom pooling": ((3.0, 4.0), 4, {"pooling": lambda y, axis: jnp.sum(y**2, axis=axis)}),
    "2d N=4 netket layout": ((3.0, 4.0), 4, eqxnqs.NETKET_LAYOUT),
    "2d N=5 input scale 16": ((3.0, 4.0), 5, {"input_scale": 16.0}),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_grad_and_hessian_diagonal_match_autodiff(case):
    # Also the weighted Laplacian (the kinetic energy's route), with unequal weights.
    box, n, overrides = CASES[case]
    model = _build(box, n, **overrides)
    x = random_configurations(jax.random.key(1), 8, n, box)
    weights = jnp.linspace(0.5, 2.0, x.shape[-1])

    def ours(m, xs):
        grad, diagonal = m.grad_and_hessian_diagonal(xs)
        return grad, diagonal, *m.grad_and_laplacian(xs, weights)

    def reference(m, xs):
        grad, diagonal = _reference_derivatives(m, xs)
        return grad, diagonal, grad, weights @ diagonal

    results = jax.jit(jax.vmap(ours, (None, 0)))(model, x)
    references = jax.jit(jax.vmap(reference, (None, 0)))(model, x)
    for got, want in zip(results, references):
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * np.max(np.abs(want)))


def test_grad_and_hessian_diagonal_checks_its_input(small_model):
    with pytest.raises(ValueError, match=r"expects x of shape \(8,\)"):
        small_model.grad_and_hessian_diagonal(jnp.zeros(6))


# --- the operator against NetKet's, through NetKet's own kernels -------------

BOX = (3.0, 4.0)
HILBERT = eqxnqs.periodic_particles(4, BOX)


def _local(op, vstate, x):
    kernel = jax.jit(op._expect_kernel, static_argnums=0)
    return kernel(vstate._apply_fun, vstate.variables, x)


def _sampler():
    return nk.sampler.MetropolisGaussian(HILBERT, sigma=0.2, n_chains=8)


def _gaussian(params, x):
    """A plain Gaussian-like log-amplitude on the periodic box (not a DeepSet)."""
    box = jnp.asarray(BOX * 4)
    return -params["params"]["a"] * jnp.sum(jnp.sin(jnp.pi * x / box) ** 2, axis=-1)


def _states():
    model = _build(BOX, 4)  # rho_readout="linear", the default
    flax_model, flax_variables = eqxnqs.to_flax(_build(BOX, 4, **eqxnqs.NETKET_LAYOUT))
    return {
        "eqxnqs": eqxnqs.make_mcstate(_sampler(), model, n_samples=64),
        "netket flax": nk.vqs.MCState(
            _sampler(), flax_model, variables=flax_variables, n_samples=64
        ),
        "gaussian": nk.vqs.MCState(
            _sampler(),
            apply_fun=_gaussian,
            variables={"params": {"a": jnp.asarray(0.8)}},
            n_samples=64,
        ),
    }


MASSES = {
    "scalar": 1.0,
    "per coordinate": np.linspace(0.5, 2.0, 8),
}


@pytest.mark.parametrize("mass", MASSES, ids=list(MASSES))
@pytest.mark.parametrize("state", ["eqxnqs", "netket flax", "gaussian"])
def test_local_values_equal_netkets(state, mass):
    vstate = _states()[state]
    x = random_configurations(jax.random.key(2), 32, 4, BOX)
    want = _local(nk.operator.KineticEnergy(HILBERT, mass=MASSES[mass]), vstate, x)
    got = _local(eqxnqs.KineticEnergy(HILBERT, mass=MASSES[mass]), vstate, x)
    np.testing.assert_allclose(got, want, rtol=RTOL)


def _route(logpsi, variables):
    x = random_configurations(jax.random.key(5), 3, 4, BOX)
    # (traced, as in the kinetic energy: None when the model offers no route)
    return jax.jit(model_derivatives, static_argnums=0)(logpsi, variables, x, 1.0)


def test_routes_taken():
    """The kinetic energy asks each state's apply_fun for its model's derivatives by name."""
    states = _states()
    for name in ("eqxnqs", "netket flax"):
        grad, laplacian = _route(states[name]._apply_fun, states[name].variables)
        assert grad.shape == (3, 8) and laplacian.shape == (3,)
    gauss = states["gaussian"]
    assert _route(gauss._apply_fun, gauss.variables) is None
    # An MCState built from netket_log_amplitude's (apply_fun, variables), a bound method.
    model = states["eqxnqs"]
    apply_fun, variables = eqxnqs.netket_log_amplitude(eqxnqs.model_from_state(model))
    for logpsi in (
        apply_fun,
        nk.vqs.MCState(model.sampler, apply_fun=apply_fun, variables=variables)._apply_fun,
    ):
        assert _route(logpsi, variables) is not None


def test_folx_route_for_netkets_flax_model():
    """The generic route alone, on a model it would otherwise convert."""
    flax = _states()["netket flax"]
    # a wrapper that passes on no `method`: the model's own route cannot be asked for
    opaque = functools.partial(lambda f, p, x: f(p, x), flax._apply_fun)
    assert _route(opaque, flax.variables) is None
    x = random_configurations(jax.random.key(3), 16, 4, BOX)
    op = eqxnqs.KineticEnergy(HILBERT, mass=1.3)
    got = jax.jit(lambda p, x: op._expect_kernel(opaque, p, x))(flax.variables, x)
    want = _local(nk.operator.KineticEnergy(HILBERT, mass=1.3), flax, x)
    np.testing.assert_allclose(got, want, rtol=RTOL)


def test_per_particle_masses_expand_to_coordinates():
    vstate = _states()["eqxnqs"]
    x = random_configurations(jax.random.key(4), 16, 4, BOX)
    masses = np.array([1.0, 2.0, 3.0, 4.0])
    got = _local(eqxnqs.KineticEnergy(HILBERT, mass=masses), vstate, x)
    want = _local(nk.operator.KineticEnergy(HILBERT, mass=np.repeat(masses, 2)), vstate, x)
    np.testing.assert_allclose(got, want, rtol=RTOL)


@pytest.mark.parametrize(
    "mass, message",
    [
        (0.0, "positive"),
        (-1.0, "positive"),
        (np.nan, "positive"),
        (1j, "real"),
        (np.ones(3), r"shape \(3,\)"),
        (np.ones((4, 2)), r"shape \(4, 2\)"),
    ],
)
def test_invalid_masses_are_refused(mass, message):
    with pytest.raises(ValueError, match=message):
        eqxnqs.KineticEnergy(HILBERT, mass=mass)


def test_hamiltonian_expect_and_vmc_sr_equal_netkets():
    """Same samples and seeds: identical energies, gradients and SR trajectory."""
    system = eqxnqs.helium_1d(n_particles=4, density=0.3)
    potential = system.hamiltonian.operators[1]
    # NetKet's layout and cusp: the trajectory this comparison was written for.
    model = eqxnqs.DeepSetRelDistance.from_hilbert(
        system.hilbert,
        layers_phi=2,
        layers_rho=2,
        features_phi=8,
        features_rho=(8, 1),
        cusp_exponent=5,
        **eqxnqs.NETKET_LAYOUT,
        key=jax.random.key(0),
    )
    box = system.hilbert.domain[0]
    lattice = (np.arange(4) + 0.5) * box / 4

    def run(kinetic):
        sampler = nk.sampler.MetropolisGaussian(system.hilbert, sigma=0.05, n_chains=16)
        vs = eqxnqs.make_mcstate(
            sampler,
            model,
            n_samples=128,
            n_discard_per_chain=4,
            chunk_size=64,
            seed=0,
            sampler_seed=1,
        )
        vs.sampler_state = vs.sampler_state.replace(
            σ=jnp.tile(lattice, (16, 1)) + 0.05 * jax.random.normal(jax.random.key(5), (16, 4))
        )
        hamiltonian = kinetic + potential
        energy, grad = vs.expect_and_grad(hamiltonian)
        driver = nk.driver.VMC_SR(
            hamiltonian, optax.sgd(0.01), variational_state=vs, diag_shift=0.01
        )
        log = nk.logging.RuntimeLog()
        driver.run(3, out=log, show_progress=False)
        return energy.mean, grad, np.asarray(log.data["Energy"]["Mean"])

    e_ref, g_ref, trace_ref = run(nk.operator.KineticEnergy(system.hilbert, mass=1.0))
    e_ours, g_ours, trace_ours = run(eqxnqs.KineticEnergy(system.hilbert, mass=1.0))
    np.testing.assert_allclose(e_ours, e_ref, rtol=RTOL)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12), g_ours, g_ref
    )
    np.testing.assert_allclose(trace_ours, trace_ref, rtol=1e-9)
