"""The triplet Jastrow factor: its formula, exact derivatives, symmetries and routes."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import eqxnqs
from helpers import (
    assert_kinetic_energy_matches_netket,
    random_configurations,
    symmetry_cases,
    symmetry_images,
)

BOXES = {1: (5.0,), 2: (3.0, 4.0), 3: (2.5, 3.0, 2.8)}
N = 5


def _triplet(dim, n=N, **kwargs):
    kwargs = {"strength": -0.8, "center": 0.9, "width": 0.6, **kwargs}
    return eqxnqs.TripletJastrow(BOXES[dim], n, **kwargs)


def _by_loops(positions, box, strength, center, width):
    """log psi written out particle by particle, with numpy."""
    n, dim = positions.shape
    total = 0.0
    for i in range(n):
        g_i = np.zeros(dim)
        for j in range(n):
            if j == i:
                continue
            u = positions[i] - positions[j]
            r = np.linalg.norm(box / np.pi * np.sin(np.pi * u / box))
            xi = np.exp(-(((r - center) / width) ** 2))
            g_i += xi * box / (2 * np.pi) * np.sin(2 * np.pi * u / box)
        total += g_i @ g_i
    return -0.5 * strength * total


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_log_psi_is_the_formula_of_schmidt_et_al(dim):
    model = _triplet(dim)
    box = np.asarray(BOXES[dim])
    x = random_configurations(jax.random.key(dim), 4, N, box)
    want = [_by_loops(np.asarray(y).reshape(N, dim), box, -0.8, 0.9, 0.6) for y in x]
    np.testing.assert_allclose(jax.vmap(model)(x), want, rtol=1e-12)
    assert float(model.center) == pytest.approx(0.9, rel=1e-14)
    assert float(model.width) == pytest.approx(0.6, rel=1e-14)
    # lambda = 0 (the default) is the factor 1
    assert np.all(jax.vmap(eqxnqs.TripletJastrow(BOXES[dim], N))(x) == 0.0)


@pytest.mark.parametrize("dim", [1, 3])  # (2D: the kinetic-energy test below)
def test_derivatives_are_exact_with_per_coordinate_weights(dim):
    box = BOXES[dim]
    model = _triplet(dim)
    deepset = eqxnqs.DeepSetRelDistance(
        box, N, layers_phi=1, layers_rho=2, features_phi=4, features_rho=4,
        cusp_exponent=5, key=jax.random.key(0),
    )  # fmt: skip
    total = eqxnqs.SumLogAmplitude(deepset, eqxnqs.McMillanJastrow(box, N, b=0.3), model)
    x = random_configurations(jax.random.key(7), 6, N, box)
    weights = jnp.asarray(np.random.default_rng(0).uniform(0.5, 2.0, N * dim))

    @eqx.filter_jit
    def derivatives(m, y):
        return m.grad_and_laplacian(y, weights), jax.grad(m)(y), jax.hessian(m)(y)

    for m in (model, total):
        (grad, laplacian), want_grad, hessian = jax.vmap(derivatives, (None, 0))(m, x)
        want_laplacian = jnp.einsum("k,skk->s", weights, hessian)
        np.testing.assert_allclose(grad, want_grad, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(laplacian, want_laplacian, rtol=1e-10, atol=1e-10)
    assert np.max(np.abs(laplacian)) > 1e-2  # the triplet's part is not negligible


def test_kinetic_energy_matches_netket():
    """eqxnqs.KineticEnergy (each term's own route) against NetKet's Hessian route."""
    box = BOXES[2]
    hilbert = eqxnqs.periodic_particles(N, box)
    model = eqxnqs.SumLogAmplitude(eqxnqs.McMillanJastrow(box, N, b=0.3), _triplet(2))
    x = random_configurations(jax.random.key(4), 6, N, box)
    masses = np.repeat(np.linspace(0.7, 1.3, N), 2)
    assert_kinetic_energy_matches_netket(model, hilbert, masses, x)


@symmetry_cases(N)
def test_log_psi_is_invariant_under_permutation_translation_and_images(dim, seed, images):
    model = _triplet(dim, width=1.5)
    box = np.asarray(BOXES[dim])
    rng = np.random.default_rng(seed)
    positions = rng.uniform(0, 1, (N, dim)) * box
    jitted = eqx.filter_jit(model)
    value = float(jitted(positions.reshape(-1)))
    for other in symmetry_images(positions, box, rng, images):
        assert float(jitted(other.reshape(-1))) == pytest.approx(value, rel=1e-11, abs=1e-11)


def _three_particle_difference(model, positions, steps):
    """The mixed difference over moves of particles 0, 1 and 2: sum over the 8 ways
    to move or not move each, with sign (-1)^(number moved)."""
    total = 0.0
    for moved in np.ndindex(2, 2, 2):
        y = positions.copy()
        for particle, m in enumerate(moved):
            y[particle] += m * steps[particle]
        total += (-1) ** sum(moved) * float(model(jnp.asarray(y.reshape(-1))))
    return total


def test_it_correlates_triplets_which_a_pair_function_cannot():
    """A sum of pair (and one-body) terms has no part that depends on three particles
    at once, so its mixed difference over three particles' moves is zero; the triplet
    factor's is not."""
    box = BOXES[2]
    positions = np.asarray([[1.0, 1.0], [1.8, 1.2], [1.3, 1.9], [2.5, 3.0], [0.2, 2.5]])
    steps = np.asarray([[0.2, -0.1], [0.1, 0.15], [-0.15, 0.1]])
    pair = eqxnqs.McMillanJastrow(box, N, b=0.8)
    assert abs(_three_particle_difference(pair, positions, steps)) < 1e-12
    triplet = _three_particle_difference(_triplet(2), positions, steps)
    assert abs(triplet) > 1e-3


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="n_particles must be an integer >= 3"):
        eqxnqs.TripletJastrow(5.0, 2)
    with pytest.raises(ValueError, match="width must be a positive number"):
        eqxnqs.TripletJastrow(5.0, 3, width=0.0)
    with pytest.raises(ValueError, match="center must be a positive number"):
        eqxnqs.TripletJastrow(5.0, 3, center=-1.0)
    with pytest.raises(ValueError, match="strength must be a real number"):
        eqxnqs.TripletJastrow(5.0, 3, strength="big")
    with pytest.raises(ValueError, match=r"expects x of shape \(10,\)"):
        _triplet(2)(jnp.zeros(8))


def test_the_model_round_trips_through_save_load_and_netket(tmp_path):
    """(That single-particle moves of a DeepSet x triplet give NetKet's chain, sample for
    sample, is checked by the smoke test of benchmarks/triplet_moves.py.)"""
    box = BOXES[2]
    hilbert = eqxnqs.periodic_particles(N, box)
    deepset = eqxnqs.DeepSetRelDistance.from_hilbert(
        hilbert, layers_phi=1, layers_rho=2, features_phi=4, features_rho=(4, 1),
        cusp_exponent=5, key=jax.random.key(0),
    )  # fmt: skip
    model = eqxnqs.SumLogAmplitude(deepset, _triplet(2, strength=-2.0))
    eqxnqs.save(tmp_path / "m.eqx", model)
    loaded = eqxnqs.load(tmp_path / "m.eqx")
    x = random_configurations(jax.random.key(2), 3, N, box)
    np.testing.assert_array_equal(jax.vmap(loaded)(x), jax.vmap(model)(x))
    sampler = eqxnqs.SingleParticleMetropolis(hilbert, 0.4, n_chains=4)
    vstate = eqxnqs.make_mcstate(sampler, model, n_samples=32, seed=0)
    assert sorted(vstate.parameters["terms"]["1"]) == ["c_center", "c_width", "strength"]
    back = eqxnqs.model_from_state(vstate)
    np.testing.assert_array_equal(jax.vmap(back)(x), jax.vmap(model)(x))


def test_run_config_adds_the_triplet_factor():
    from eqxnqs._workflow._cli import _parser, config_from_args
    from eqxnqs._workflow._vmc_run import build_model, without_backflow

    argv = ["run", "helium-2d", "--n-particles", "6", "--three-body", "--out", "x"]
    config = config_from_args(_parser().parse_args(argv))
    assert config == eqxnqs.configure("helium-2d", n_particles=6, three_body=True)
    # the wavefunction of the iterations before helium-2d's backflow joins
    model = build_model(without_backflow(config), config.build_system())
    assert [type(t).__name__ for t in model.terms] == ["DeepSetRelDistance", "TripletJastrow"]
    assert float(model.terms[1].strength) == 0.0
    with pytest.raises(eqxnqs.ConfigError, match="three_body needs at least 3 particles"):
        eqxnqs.configure(n_particles=2, three_body=True)
    with pytest.raises(eqxnqs.ConfigError, match="three_body must be True or False"):
        eqxnqs.ModelConfig(three_body="yes")
    # two atoms keep the pair wavefunction where the named configuration has a triplet
    assert not eqxnqs.configure("helium-2d", n_particles=2).model.three_body


def test_move_protocol_tracks_the_state_of_a_chain_of_moves():
    """`moved` returns log psi and the move state of the moved configuration, for the
    pairwise, triplet and default (MPNN: a forward pass) routes, alone and summed."""
    box = BOXES[2]
    deepset = eqxnqs.DeepSetRelDistance(
        box, N, layers_phi=1, layers_rho=2, features_phi=4, features_rho=4,
        cusp_exponent=3, key=jax.random.key(0),
    )  # fmt: skip
    mpnn = eqxnqs.MPNN(
        box, N, node_features=2, edge_features=2, n_layers=1, n_heads=1, key=jax.random.key(1)
    )
    triplet = _triplet(2)
    models = [deepset, triplet, eqxnqs.SumLogAmplitude(deepset, triplet, mpnn)]
    assert [m.has_fast_moves for m in models] == [True, True, True]
    assert not mpnn.has_fast_moves
    rng = np.random.default_rng(3)
    for model in models:
        moved, move_state, log_psi_of = (
            eqx.filter_jit(f) for f in (model.moved, model.move_state, model)
        )
        x = jnp.asarray(rng.uniform(0, 1, (N, 2)) * np.asarray(box)).reshape(-1)
        state = move_state(x)
        for particle in (0, 3, 0, 4):
            position = jnp.asarray(rng.uniform(0, 1, 2) * np.asarray(box))
            log_psi, state = moved(x, state, particle, position)
            x = x.reshape(N, 2).at[particle].set(position).reshape(-1)
            assert float(log_psi) == pytest.approx(float(log_psi_of(x)), rel=1e-12, abs=1e-12)
            fresh = move_state(x)
            for got, want in zip(jax.tree.leaves(state), jax.tree.leaves(fresh)):
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
