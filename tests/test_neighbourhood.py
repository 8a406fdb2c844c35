"""The neighbourhood factor: its formula, exact derivatives, O(N) moves and symmetries."""

import equinox as eqx
import jax
import jax.numpy as jnp
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


def _factor(dim, n=N, channels=3):
    model = eqxnqs.NeighbourhoodJastrow(BOXES[dim], n, channels=channels, key=jax.random.key(0))
    weight = jax.random.normal(jax.random.key(1), model.readout.layers[-1].weight.shape)
    return eqx.tree_at(lambda m: m.readout.layers[-1].weight, model, weight)


def _by_loops(model, positions, box):
    """log psi written out particle by particle: channels, invariants, F."""
    n, dim = positions.shape
    c = model.channels
    total = 0.0
    for i in range(n):
        rho, vectors = np.zeros(c), np.zeros((c, dim))
        for j in range(n):
            if j == i:
                continue
            u = positions[i] - positions[j]
            r = np.linalg.norm(box / np.pi * np.sin(np.pi * u / box))
            envelope = max(0.0, 1 - (r / (min(box) / 2)) ** 2) ** 3
            xi = np.asarray(model.radial(jnp.asarray([r]))) * envelope
            rho += xi
            vectors += np.outer(xi, box / (2 * np.pi) * np.sin(2 * np.pi * u / box))
        products = [vectors[a] @ vectors[b] for a in range(c) for b in range(a, c)]
        total += float(model.readout(jnp.asarray(np.concatenate([rho, products])))[0])
    return total


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_log_psi_is_its_formula(dim):
    model = _factor(dim)
    box = np.asarray(BOXES[dim])
    x = random_configurations(jax.random.key(dim), 3, N, box)
    want = [_by_loops(model, np.asarray(y).reshape(N, dim), box) for y in x]
    values = eqx.filter_jit(lambda m, y: jax.vmap(m)(y))(model, x)
    np.testing.assert_allclose(values, want, rtol=1e-12)
    # a new factor is 1
    fresh = eqxnqs.NeighbourhoodJastrow(BOXES[dim], N, key=jax.random.key(0))
    assert np.all(jax.vmap(fresh)(x) == 0.0)


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_derivatives_are_exact(dim):
    x = random_configurations(jax.random.key(4 + dim), 3, N, BOXES[dim])
    assert_exact_derivatives(_factor(dim), x, dim, N)


def test_kinetic_energy_matches_netket():
    box = BOXES[2]
    model = eqxnqs.SumLogAmplitude(eqxnqs.McMillanJastrow(box, N, b=0.3), _factor(2))
    x = random_configurations(jax.random.key(8), 4, N, box)
    masses = np.repeat(np.linspace(0.7, 1.3, N), 2)
    assert_kinetic_energy_matches_netket(model, eqxnqs.periodic_particles(N, box), masses, x)


def test_moves_update_the_descriptors_in_place():
    model = _factor(2)
    x = random_configurations(jax.random.key(9), 1, N, BOXES[2])[0]
    state = model.move_state(x)
    for particle, position in [(0, [0.4, 3.9]), (3, [2.9, 0.1]), (3, [1.0, 1.0])]:
        position = jnp.asarray(position)
        log_psi, state = eqx.filter_jit(model.moved)(x, state, particle, position)
        x = x.reshape(N, 2).at[particle].set(position).reshape(-1)
        assert float(log_psi) == pytest.approx(float(model(x)), rel=1e-12)
        np.testing.assert_allclose(state, model.move_state(x), atol=1e-12)


@symmetry_cases(N)
def test_log_psi_is_invariant_under_permutation_translation_and_images(dim, seed, images):
    jitted = eqx.filter_jit(_factor(dim))
    rng = np.random.default_rng(seed)
    positions = rng.uniform(0, 1, (N, dim)) * np.asarray(BOXES[dim])
    value = float(jitted(positions.reshape(-1)))
    for moved in symmetry_images(positions, BOXES[dim], rng, images):
        assert float(jitted(moved.reshape(-1))) == pytest.approx(value, rel=1e-11, abs=1e-11)


def test_bad_settings_are_refused_and_a_factor_saves(tmp_path):
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="n_particles must be an integer >= 3"):
        eqxnqs.NeighbourhoodJastrow((3.0,), 2, key=key)
    with pytest.raises(ValueError, match="channels must be a positive integer"):
        eqxnqs.NeighbourhoodJastrow((3.0,), 4, channels=0, key=key)
    with pytest.raises(ValueError, match="widths must be positive integers"):
        eqxnqs.NeighbourhoodJastrow((3.0,), 4, widths=(8, -1), key=key)
    model = _factor(2)
    eqxnqs.save(tmp_path / "f.eqx", model)
    x = random_configurations(jax.random.key(10), 3, N, BOXES[2])
    np.testing.assert_array_equal(jax.vmap(eqxnqs.load(tmp_path / "f.eqx"))(x), jax.vmap(model)(x))
