"""Backflow: quasi-particle coordinates, exact derivatives, symmetries, and its sampler."""

import equinox as eqx
import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import pytest

import eqxnqs
from helpers import (
    assert_exact_derivatives,
    assert_kinetic_energy_matches_netket,
    random_configurations,
    symmetry_cases,
    symmetry_images,
)

BOXES = {1: (5.0,), 2: (3.0, 4.0), 3: (2.5, 3.0, 2.8)}
N = 5


def _with_eta(model, scale, seed=0):
    """`model` (a Backflow) with eta's zero-initialised last layer drawn at `scale`."""
    weight = scale * jax.random.normal(jax.random.key(seed), model.eta.layers[-1].weight.shape)
    return eqx.tree_at(lambda m: m.eta.layers[-1].weight, model, weight)


def _inner(dim, n=N, *, key=jax.random.key(0)):
    box = BOXES[dim]
    deepset = eqxnqs.DeepSetRelDistance(
        box, n, layers_phi=2, features_phi=(6, 6), layers_rho=2, features_rho=(6, 1),
        cusp_exponent=5, key=key,
    )  # fmt: skip
    triplet = eqxnqs.TripletJastrow(box, n, strength=-0.8, center=0.9, width=0.6)
    return eqxnqs.SumLogAmplitude(eqxnqs.McMillanJastrow(box, n, b=0.4), deepset, triplet)


def _backflow(dim, scale=0.3, n=N):
    return _with_eta(eqxnqs.Backflow(_inner(dim, n), key=jax.random.key(1)), scale)


def _spread(x, box, n, dim, minimum):
    """Keep configurations whose particles are all at least `minimum` apart (periodic), so
    that the hard-core terms stay moderate and the comparison tests the formulas."""
    box = jnp.asarray(box)
    r = jax.vmap(lambda y: eqxnqs.minimum_image_distances(y.reshape(n, dim), box))(x)
    return x[np.asarray(jnp.min(r, axis=1) > minimum)]


def test_a_new_backflow_is_its_inner_wavefunction():
    inner = _inner(2)
    model = eqxnqs.Backflow(inner, key=jax.random.key(1))
    x = random_configurations(jax.random.key(2), 8, N, BOXES[2])
    values = eqx.filter_jit(lambda m, i, y: (jax.vmap(m)(y), jax.vmap(i)(y)))(model, inner, x)
    np.testing.assert_array_equal(*values)
    quasi = eqx.filter_jit(lambda m, y: jax.vmap(m.quasi_particles)(y))(model, x)
    np.testing.assert_array_equal(quasi, x)
    assert model.surrogate is inner


def test_quasi_particles_are_the_formula():
    model = _backflow(2)
    box = np.asarray(BOXES[2])
    x = np.asarray(random_configurations(jax.random.key(3), 3, N, box))
    for y in x:
        positions = y.reshape(N, 2)
        want = positions.copy()
        for i in range(N):
            for j in range(N):
                if i != j:
                    u = positions[i] - positions[j]
                    r = np.linalg.norm(box / np.pi * np.sin(np.pi * u / box))
                    envelope = max(0.0, 1 - (r / 1.5) ** 2) ** 3  # r_c = min(box) / 2
                    eta = float(model.eta(jnp.asarray([r]))[0]) * envelope
                    want[i] += eta * box / (2 * np.pi) * np.sin(2 * np.pi * u / box)
        np.testing.assert_allclose(model.quasi_particles(jnp.asarray(y)), want.reshape(-1))


@symmetry_cases(N)
def test_backflow_keeps_the_symmetries(dim, seed, images):
    jitted = eqx.filter_jit(_backflow(dim))
    rng = np.random.default_rng(seed)
    positions = rng.uniform(0, 1, (N, dim)) * np.asarray(BOXES[dim])
    value = float(jitted(positions.reshape(-1)))
    for moved in symmetry_images(positions, BOXES[dim], rng, images):
        assert float(jitted(moved.reshape(-1))) == pytest.approx(value, rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_backflow_derivatives_are_exact(dim):
    x = random_configurations(jax.random.key(4), 60, N, BOXES[dim])
    assert_exact_derivatives(_backflow(dim), _spread(x, BOXES[dim], N, dim, 0.5)[:3], dim, N)


def test_an_iterated_backflow_is_exact_and_sampled_by_its_innermost_wavefunction():
    # Backflow(Backflow(f)): f at the quasi-particles of the quasi-particles. The outer
    # backflow's directions reach the inner one's directional Laplacian as dense columns.
    model = _with_eta(eqxnqs.Backflow(_backflow(2), key=jax.random.key(2)), 0.3, seed=1)
    assert model.surrogate is model.inner.inner and model.surrogate.has_fast_moves
    x = random_configurations(jax.random.key(4), 60, N, BOXES[2])
    assert_exact_derivatives(model, _spread(x, BOXES[2], N, 2, 0.5)[:3], 2, N)


@pytest.mark.parametrize("name", ["deepset", "mcmillan", "triplet", "sum", "mpnn"])
def test_second_derivatives_along_directions_are_exact(name):
    box, dim, n = BOXES[2], 2, 4
    models = {
        "deepset": lambda: _inner(dim, n).terms[1],
        "mcmillan": lambda: eqxnqs.McMillanJastrow(box, n, b=0.4),
        "triplet": lambda: _inner(dim, n).terms[2],
        "sum": lambda: _inner(dim, n),
        "mpnn": lambda: eqxnqs.MPNN(
            box, n, node_features=4, edge_features=4, n_layers=1, n_heads=1, key=jax.random.key(5)
        ),
    }
    model = models[name]()
    if name == "mpnn":  # its readout starts at zero
        model = eqx.tree_at(
            lambda m: m.readout.layers[-1].weight,
            model,
            jax.random.normal(jax.random.key(6), model.readout.layers[-1].weight.shape),
        )
    x = _spread(random_configurations(jax.random.key(7), 40, n, box), box, n, dim, 0.5)[:2]
    assert_exact_derivatives(model, x, dim, n)


def test_backflow_kinetic_energy_matches_netket():
    model = _backflow(2)
    x = _spread(random_configurations(jax.random.key(9), 60, N, BOXES[2]), BOXES[2], N, 2, 0.5)
    hilbert = eqxnqs.periodic_particles(N, BOXES[2])
    masses = np.repeat(np.random.default_rng(3).uniform(0.5, 2.0, N), 2)  # per coordinate
    assert_kinetic_energy_matches_netket(model, hilbert, masses, x[:4])


def test_backflow_refuses_what_it_cannot_wrap():
    with pytest.raises(TypeError, match="inner must be an eqxnqs log-amplitude"):
        eqxnqs.Backflow(lambda x: 0.0, key=jax.random.key(0))
    with pytest.raises(ValueError, match="widths must be positive integers"):
        eqxnqs.Backflow(_inner(1), widths=(4, 0), key=jax.random.key(0))


def test_backflow_saves_and_loads(tmp_path):
    model = _backflow(2)
    eqxnqs.save(tmp_path / "bf.eqx", model)
    loaded = eqxnqs.load(tmp_path / "bf.eqx")
    x = random_configurations(jax.random.key(10), 4, N, BOXES[2])
    values = eqx.filter_jit(lambda m, y: jax.vmap(m)(y))
    np.testing.assert_array_equal(values(loaded, x), values(model, x))


@pytest.mark.parametrize("segment_moves", [None, 1])
def test_surrogate_transitions_sample_the_backflow_wavefunction(segment_moves):
    # Two particles on a ring: |psi|^2 depends on u = x_1 - x_2 alone, so <cos(2 pi u / L)>
    # is a one-dimensional integral. The sampler moves particles by the surrogate (here
    # McMillan times a DeepSet at the bare coordinates) and tests each segment by psi
    # (the DeepSet at backflow coordinates); its average must be psi's. Segments of 2 (N)
    # and 1 moves in sweeps of 4.
    box = (4.0,)
    deepset = eqxnqs.DeepSetRelDistance(
        box, 2, layers_phi=1, features_phi=4, layers_rho=2, features_rho=(4, 1),
        cusp_exponent=5, key=jax.random.key(0),
    )  # fmt: skip
    model = eqxnqs.with_backflow(deepset, widths=(4,), key=jax.random.key(1))
    model = eqx.tree_at(lambda m: m.terms[1], model, _with_eta(model.terms[1], 2.0, seed=3))

    def average(m):
        # <cos> under |psi|^2 as a function of u: a smooth periodic integrand over one
        # period, which the trapezoidal rule integrates to rounding (spectral accuracy).
        u = np.linspace(0.0, box[0], 2048, endpoint=False)
        log_density = 2 * np.asarray(jax.jit(jax.vmap(m))(np.stack([u, 0 * u], axis=1)))
        density = np.exp(log_density - log_density.max())
        return np.sum(np.cos(2 * np.pi * u / box[0]) * density) / np.sum(density)

    want, surrogate_value = average(model), average(model.surrogate)
    sampler = eqxnqs.SingleParticleMetropolis(
        eqxnqs.periodic_particles(2, box),
        sigma=0.5,
        n_chains=16,
        sweep_size=4,
        segment_moves=segment_moves,
    )
    vstate = eqxnqs.make_mcstate(sampler, model, n_samples=16 * 1024, n_discard_per_chain=32)
    samples = np.asarray(vstate.sample()).reshape(16, -1, 2)
    assert 0 < vstate.sampler_state.segment_acceptance < 1  # psi~ is not psi
    state = vstate.sampler_state  # the log-probability carried over the tests is psi's
    np.testing.assert_allclose(state.log_prob, 2 * jax.vmap(model)(state.σ), rtol=1e-12)
    values = np.cos(2 * np.pi * (samples[..., 0] - samples[..., 1]) / box[0])
    stats = nk.stats.statistics(values)
    assert stats.R_hat < 1.02
    assert abs(want - surrogate_value) > 10 * stats.error_of_mean  # the test can fail
    assert abs(stats.mean - want) < 4 * stats.error_of_mean


def test_with_backflow_keeps_the_hard_core_at_the_bare_coordinates():
    inner = _inner(2)
    deepset = inner.terms[1]
    factor, bare = deepset.split_cusp()
    x = _spread(random_configurations(jax.random.key(11), 40, N, BOXES[2]), BOXES[2], N, 2, 0.3)
    np.testing.assert_allclose(jax.vmap(factor)(x) + jax.vmap(bare)(x), jax.vmap(deepset)(x))
    model = eqxnqs.with_backflow(inner, key=jax.random.key(1))
    mcmillans = [t for t in model.terms if isinstance(t, eqxnqs.McMillanJastrow)]
    assert len(mcmillans) == 2 and isinstance(model.terms[-1], eqxnqs.Backflow)
    np.testing.assert_allclose(jax.vmap(model)(x), jax.vmap(inner)(x), rtol=1e-13)
    # The sampler's surrogate: the same terms with the backflow's inner at the bare coordinates.
    assert not any(isinstance(t, eqxnqs.Backflow) for t in model.surrogate.terms)
    assert len(model.surrogate.terms) == 4


def test_new_chains_of_a_backflow_start_from_the_surrogate():
    # Lattice starts in a box of spacing 1 put some pairs about half a spacing apart; the
    # surrogate's hard core (McMillan, b = 1) moves every chain out of such configurations
    # before the first sample, and a model without a surrogate keeps the lattice start.
    n, box = 9, (3.0, 3.0)
    bare = eqxnqs.SumLogAmplitude(
        eqxnqs.McMillanJastrow(box, n, b=1.0), eqxnqs.TripletJastrow(box, n, strength=-0.5)
    )
    model = eqxnqs.with_backflow(bare, widths=(4,), key=jax.random.key(1))
    hilbert = eqxnqs.periodic_particles(n, box)

    def closest(m):
        sampler = eqxnqs.SingleParticleMetropolis(hilbert, sigma=0.2, n_chains=16)
        vstate = eqxnqs.make_mcstate(sampler, m, n_samples=16, seed=0, sampler_seed=5)
        x = vstate.sampler_state.σ.reshape(16, n, 2)
        r = jax.vmap(lambda y: eqxnqs.minimum_image_distances(y, jnp.asarray(box)))(x)
        return np.asarray(jnp.min(r, axis=1)), vstate

    lattice, _ = closest(bare)
    burnt_in, vstate = closest(model)
    assert lattice.min() < 0.6  # the test can fail
    assert burnt_in.min() > 0.6
    np.testing.assert_allclose(
        vstate.sampler_state.log_prob, 2 * jax.vmap(model)(vstate.sampler_state.σ), rtol=1e-12
    )
