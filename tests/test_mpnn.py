"""The message-passing wavefunction: symmetries, exact kinetic energy, save/load, runs."""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import pytest

import eqxnqs
from helpers import (
    assert_kinetic_energy_matches_netket,
    assert_starts_at_zero_in_float64,
    perturbed,
    random_configurations,
    symmetry_cases,
    symmetry_images,
)

BOXES = {1: (6.0,), 2: (5.0, 6.5), 3: (4.0, 4.5, 5.0)}
N = 5


@functools.cache
def _model(dim):
    mpnn = eqxnqs.MPNN(
        BOXES[dim],
        N,
        node_features=6,
        edge_features=5,
        n_layers=2,
        n_heads=2,
        head_features=3,
        readout_features=4,
        key=jax.random.key(dim),
    )
    model = perturbed(mpnn)
    return model, eqx.filter_jit(model)


def test_new_network_starts_at_zero_and_is_float64():
    model = eqxnqs.MPNN((5.0, 6.0), 4, key=jax.random.key(0))
    assert_starts_at_zero_in_float64(model, (5.0, 6.0))


def test_param_dtype_sets_every_parameter_and_the_computation():
    box = (5.0, 6.0)
    model = perturbed(eqxnqs.MPNN(box, 4, param_dtype=jnp.float32, key=jax.random.key(0)))
    wide = eqxnqs.MPNN(box, 4, key=jax.random.key(0))
    assert {leaf.dtype for leaf in jax.tree.leaves(eqx.filter(model, eqx.is_array))} == {
        jnp.dtype("float32")
    }
    x = random_configurations(jax.random.key(1), 3, 4, box)
    values = jax.vmap(model)(x)
    assert values.dtype == jnp.float32
    # The same network in float64, from the float32 parameters: equal to float32 rounding.
    wide_leaves = [leaf.astype(jnp.float64) for leaf in jax.tree.leaves(model)]
    as_wide = jax.tree.unflatten(jax.tree.structure(wide), wide_leaves)
    np.testing.assert_allclose(values, jax.vmap(as_wide)(x), rtol=1e-5)
    assert eqxnqs.MPNN(box, 4, key=jax.random.key(0)).hyperparameters()["param_dtype"] == "float64"
    with pytest.raises(ValueError, match="param_dtype must be a real floating dtype; got int32"):
        eqxnqs.MPNN(box, 4, param_dtype=jnp.int32, key=jax.random.key(0))


@symmetry_cases(N)
def test_log_psi_is_invariant_under_permutation_translation_and_images(dim, seed, images):
    model, jitted = _model(dim)
    box = np.asarray(BOXES[dim])
    rng = np.random.default_rng(seed)
    positions = rng.uniform(0, 1, (N, dim)) * box
    value = float(jitted(positions.reshape(-1)))
    assert abs(value) > 1e-3  # the perturbed network is not constant
    for other in symmetry_images(positions, box, rng, images):
        assert float(jitted(other.reshape(-1))) == pytest.approx(value, rel=1e-11, abs=1e-11)
    # and it is not invariant under what it should not be: moving one particle
    moved = positions.copy()
    moved[0] += 0.3 * box / 2
    assert abs(float(jitted(moved.reshape(-1))) - value) > 1e-8


def test_log_psi_of_the_unjitted_model_matches_and_shapes_are_checked():
    model, jitted = _model(2)
    x = random_configurations(jax.random.key(3), 4, N, BOXES[2])
    np.testing.assert_allclose(jax.vmap(model)(x), jax.vmap(jitted)(x), rtol=1e-13)
    with pytest.raises(ValueError, match=r"expects x of shape \(10,\)"):
        model(x[0, :8])
    with pytest.raises(ValueError, match="n_heads must be a positive integer"):
        eqxnqs.MPNN((5.0,), 3, n_heads=0, key=jax.random.key(0))
    with pytest.raises(ValueError, match="n_particles must be an integer >= 2"):
        eqxnqs.MPNN((5.0,), 1, key=jax.random.key(0))
    with pytest.raises(ValueError, match="unknown activation"):
        eqxnqs.MPNN((5.0,), 3, activation="nope", key=jax.random.key(0))


@pytest.mark.parametrize("dim", [1, 2])
def test_kinetic_energy_is_exact_against_netket(dim):
    """Local kinetic energies: eqxnqs (the MPNN's written-out forward Laplacian, and the
    Jastrow's O(N^2) route in a sum) against NetKet's Hessian route, for the MPNN times a
    McMillan factor, and in 1D for the MPNN alone (in a sum the MPNN takes its own route:
    one D more checks no other line)."""
    mpnn, _ = _model(dim)
    box = BOXES[dim]
    hilbert = eqxnqs.periodic_particles(N, box)
    cusp = eqxnqs.McMillanJastrow(box, N, exponent=5, b=0.4)
    x = random_configurations(jax.random.key(4), 6, N, box)
    masses = np.repeat(np.linspace(0.7, 1.3, N), dim)  # NetKet's layout: per coordinate
    models = [mpnn] if dim == 1 else []
    for model in (*models, eqxnqs.SumLogAmplitude(cusp, mpnn)):
        assert_kinetic_energy_matches_netket(model, hilbert, masses, x)

        # The gradient alone (NetKet's Hessian route above checks the masses' weighted
        # Laplacian plus the squared gradient).
        @eqx.filter_jit
        def gradients(m, y):
            return m.grad_and_laplacian(y, 1.0)[0], jax.grad(m)(y)

        grad, want_grad = jax.vmap(gradients, (None, 0))(model, x)
        np.testing.assert_allclose(grad, want_grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "dim, n_particles, n_layers, n_heads, activation",
    # the kinetic-energy test above covers D = 1, 2 with 2 layers, 2 heads and gelu
    [(3, 4, 3, 3, "softplus"), (2, 2, 1, 1, "tanh")],
)
def test_written_out_laplacian_matches_folx(dim, n_particles, n_layers, n_heads, activation):
    # The MPNN's own forward Laplacian and folx's generic one on the same function,
    # with a different weight (inverse mass) on every coordinate.
    from eqxnqs._models._periodic import folx_grad_and_laplacian

    box = BOXES[dim]
    mpnn = eqxnqs.MPNN(
        box,
        n_particles,
        node_features=5,
        edge_features=4,
        n_layers=n_layers,
        n_heads=n_heads,
        head_features=3,
        readout_features=4,
        activation=activation,
        key=jax.random.key(n_layers),
    )
    model = perturbed(mpnn, seed=dim)
    x = random_configurations(jax.random.key(8), 4, n_particles, box)
    weights = jnp.linspace(0.5, 1.5, n_particles * dim)

    @eqx.filter_jit
    def both(m, y):
        return m.grad_and_laplacian(y, weights), folx_grad_and_laplacian(m, y, weights)

    (grad, laplacian), (want_grad, want) = jax.vmap(both, (None, 0))(model, x)
    scale = np.max(np.abs(want_grad))
    np.testing.assert_allclose(grad, want_grad, rtol=1e-10, atol=1e-12 * scale)
    np.testing.assert_allclose(laplacian, want, rtol=1e-10, atol=1e-12 * np.max(np.abs(want)))
    assert np.all(np.abs(want) > 1e-3)  # nothing trivially zero


def test_sum_with_an_mpnn_takes_the_generic_routes(tmp_path):
    box = (6.0,)
    mpnn = perturbed(eqxnqs.MPNN(box, 4, node_features=4, edge_features=4, key=jax.random.key(0)))
    total = eqxnqs.SumLogAmplitude(eqxnqs.McMillanJastrow(box, 4, exponent=5, b=0.5), mpnn)
    assert not total.sums_pairs
    x = random_configurations(jax.random.key(5), 3, 4, box)

    @eqx.filter_jit
    def derivatives(m, y):
        return m.grad_and_hessian_diagonal(y), jax.grad(m)(y), jnp.diagonal(jax.hessian(m)(y))

    (grad, hessian), want_grad, want = jax.vmap(derivatives, (None, 0))(total, x)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-10)
    np.testing.assert_allclose(hessian, want, rtol=1e-10, atol=1e-10)
    for model in (mpnn, total):
        path = tmp_path / f"{type(model).__name__}.eqx"
        eqxnqs.save(path, model)
        loaded = eqxnqs.load(path)
        assert type(loaded) is type(model)
        np.testing.assert_array_equal(jax.vmap(loaded)(x), jax.vmap(model)(x))
    assert eqxnqs.hyperparameters(mpnn)["n_heads"] == 2


def test_vmc_with_an_mpnn_lowers_the_energy_and_samples_with_single_particle_moves():
    """Gaussian bosons, N = 4 in 1D, from psi = 1 (E = the mean potential):
    30 SR iterations must lower E by many error bars, staying above the
    exact-diagonalisation-free lower bound 0 (V >= 0)."""
    system = eqxnqs.gaussian_bosons(4, 4.0, v0=2.0, sigma=0.5)
    model = eqxnqs.MPNN(system.box, 4, node_features=8, edge_features=8, key=jax.random.key(1))
    sampler = eqxnqs.SingleParticleMetropolis(system.hilbert, sigma=0.5, n_chains=16)
    vstate = eqxnqs.make_mcstate(sampler, model, n_samples=512, seed=0, sampler_seed=1)
    start = vstate.expect(system.hamiltonian)
    driver = eqxnqs.VMC_SR(
        system.hamiltonian, nk.optimizer.Sgd(0.02), diag_shift=0.01, variational_state=vstate
    )
    driver.run(30, out=None, show_progress=False)
    vstate.n_samples = 4096
    end = vstate.expect(system.hamiltonian)
    assert end.mean.real < start.mean.real - 5 * (start.error_of_mean + end.error_of_mean)
    assert end.mean.real > 0
    trained = eqxnqs.model_from_state(vstate)
    assert isinstance(trained, eqxnqs.MPNN)


@pytest.mark.parametrize("dim", [1, 3])
def test_log_psi_is_smooth_at_contact(dim):
    """Two particles on top of each other: finite derivatives (a kink there, as the bare
    sine distance would give, hides a delta function from the local kinetic energy in 1D)."""
    model, _ = _model(dim)
    x = random_configurations(jax.random.key(6), 1, N, BOXES[dim])[0]
    x = x.at[dim : 2 * dim].set(x[:dim])
    grad, laplacian = eqx.filter_jit(lambda m, y: m.grad_and_laplacian(y, 1.0))(model, x)
    assert np.all(np.isfinite(grad)) and np.isfinite(laplacian)
    # and the Laplacian is continuous there: compare with a configuration 1e-4 away
    near = x.at[dim].add(1e-4)
    _, laplacian_near = eqx.filter_jit(lambda m, y: m.grad_and_laplacian(y, 1.0))(model, near)
    assert abs(float(laplacian_near - laplacian)) < 1e-2 * (1 + abs(float(laplacian)))


def test_run_config_builds_the_mpnn_times_its_cusp_and_refuses_a_second_mcmillan():
    from eqxnqs._workflow._vmc_run import build_model

    config = eqxnqs.configure(model="mpnn", mpnn_features=4, cusp_init=1.2)
    model = build_model(config, config.build_system())
    assert [type(t).__name__ for t in model.terms] == ["McMillanJastrow", "MPNN"]
    assert float(model.terms[0].length) == pytest.approx(1.2, rel=1e-12)
    assert (model.terms[1].node_features, model.terms[1].n_layers) == (4, 2)
    assert (config.optimizer.diag_shift, config.optimizer.max_norm) == (0.1, 10.0)
    default = eqxnqs.RunConfig().optimizer
    assert (default.diag_shift, default.max_norm) == (0.01, 100.0)
    # the DeepSet's cusp starts at the same McMillan length: b' = (pi/2 b)^k
    deepset = build_model(eqxnqs.configure(cusp_init=1.2), config.build_system())
    assert float(deepset.cusp_strength) == pytest.approx((np.pi / 2 * 1.2) ** 5, rel=1e-12)
    with pytest.raises(eqxnqs.ConfigError, match="already has a McMillan factor"):
        eqxnqs.configure(model="mpnn", jastrow="mcmillan")
    with pytest.raises(eqxnqs.ConfigError, match="unknown model 'transformer'"):
        eqxnqs.ModelConfig(kind="transformer")


def test_fast_terms_propose_and_the_mpnn_tests_each_segment():
    # Two particles on a ring: |psi|^2 depends on u = x_1 - x_2 alone. With
    # surrogate="fast-terms" the McMillan factor proposes the moves and psi (McMillan
    # times an MPNN) tests every segment; the average of cos(2 pi u / L) must be psi's.
    box = (4.0,)
    mpnn = eqxnqs.MPNN(
        box, 2, node_features=4, edge_features=4, n_layers=1, n_heads=1, head_features=2,
        readout_features=4, key=jax.random.key(0),
    )  # fmt: skip
    # A random MPNN of order one, so that psi is far from the McMillan factor alone.
    arrays, static = eqx.partition(mpnn, eqx.is_array)
    leaves, treedef = jax.tree.flatten(arrays)
    keys = jax.random.split(jax.random.key(1), len(leaves))
    leaves = [leaf + 0.7 * jax.random.normal(k, leaf.shape) for leaf, k in zip(leaves, keys)]
    mpnn = eqx.combine(jax.tree.unflatten(treedef, leaves), static)
    model = eqxnqs.SumLogAmplitude(eqxnqs.McMillanJastrow(box, 2, b=0.6), mpnn)

    def average(m):
        u = np.linspace(0.0, box[0], 2048, endpoint=False)
        log_density = 2 * np.asarray(jax.jit(jax.vmap(m))(np.stack([u, 0 * u], axis=1)))
        density = np.exp(log_density - log_density.max())
        return np.sum(np.cos(2 * np.pi * u / box[0]) * density) / np.sum(density)

    want, proposal_value = average(model), average(model.terms[0])
    hilbert = eqxnqs.periodic_particles(2, box)
    chains = dict(n_chains=16, sweep_size=4)
    with pytest.raises(ValueError, match="surrogate must be one of own, fast-terms"):
        eqxnqs.SingleParticleMetropolis(hilbert, surrogate="pairs", **chains)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="segment_moves must be None or a positive integer"):
            eqxnqs.SingleParticleMetropolis(hilbert, segment_moves=bad, **chains)
    own = eqxnqs.SingleParticleMetropolis(hilbert, sigma=0.5, **chains)
    vstate = eqxnqs.make_mcstate(own, model, n_samples=64, n_discard_per_chain=4)
    vstate.sample()
    assert vstate.sampler_state.segment_acceptance is None  # a forward pass per move
    sampler = own.replace(surrogate="fast-terms")
    # 1024 samples per chain: at 256, R-hat of well-mixed chains reached 1.023 (16 seeds).
    vstate = eqxnqs.make_mcstate(
        sampler, model, n_samples=16 * 1024, n_discard_per_chain=32, sampler_seed=0
    )
    samples = np.asarray(vstate.sample()).reshape(16, -1, 2)
    assert 0 < vstate.sampler_state.segment_acceptance < 1
    values = np.cos(2 * np.pi * (samples[..., 0] - samples[..., 1]) / box[0])
    stats = nk.stats.statistics(values)
    assert stats.R_hat < 1.02
    assert abs(want - proposal_value) > 10 * stats.error_of_mean  # the test can fail
    assert abs(stats.mean - want) < 4 * stats.error_of_mean


def test_one_sample_per_kinetic_step_at_the_reference_size_on_the_cpu():
    # Measured on the CPU (Results page): one sample per lax.map step is the fastest at
    # N = 30 in 2D with width 8; smaller graphs take more per step.
    reference = eqxnqs.MPNN((8.0976, 8.4153), 30, node_features=8, edge_features=8,
                            n_layers=1, n_heads=1, key=jax.random.key(0))  # fmt: skip
    small = eqxnqs.MPNN(BOXES[2], N, n_layers=1, key=jax.random.key(0))
    assert jax.default_backend() == "cpu"
    assert reference.samples_per_step == 1
    assert small.samples_per_step == 2**19 // (N * (N - 1) * small.edge_features * small.n_dof)
    assert small.samples_per_step > 1
