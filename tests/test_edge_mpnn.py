"""Linteau et al.'s message-passing wavefunction: its formula, symmetries, kinetic energy,
their saved states (from_linteau), save/load and the run configuration."""

import functools

import equinox as eqx
import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import eqxnqs
from eqxnqs._workflow._vmc_run import build_model
from helpers import (
    assert_kinetic_energy_matches_netket,
    assert_starts_at_zero_in_float64,
    perturbed,
    random_configurations,
    symmetry_cases,
    symmetry_images,
)

BOXES = {2: (5.0, 6.5), 3: (4.0, 4.5, 5.0)}
N = 4


@functools.cache
def _model(dim, n_particles=N):
    network = eqxnqs.EdgeMPNN(
        BOXES[dim], n_particles, features=3, n_layers=2, key=jax.random.key(dim)
    )
    model = perturbed(network)
    return model, eqx.filter_jit(model)


def _gelu(z):
    return 0.5 * z * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (z + 0.044715 * z**3)))


def _mlp(mlp, v):
    for index, layer in enumerate(mlp.layers):
        v = np.asarray(layer.weight) @ v
        if layer.bias is not None:
            v = v + np.asarray(layer.bias)
        if index < len(mlp.layers) - 1:
            v = _gelu(v)
    return v


def _written_out(model, x):
    """log psi from the paper's formulas, one edge and one path at a time (numpy)."""
    n, box = model.n_particles, np.asarray(model.box)
    p = np.asarray(x).reshape(n, -1)

    def static(i, j):
        u = p[i] - p[j]
        distance = np.linalg.norm(np.sin(np.pi * u / box))
        return np.concatenate(
            [np.sin(2 * np.pi * u / box), np.cos(2 * np.pi * u / box), [distance, 1.0]]
        )

    edges = [(i, j) for i in range(n) for j in range(n)]
    y = {e: np.concatenate([static(*e), np.asarray(model.edge_init)]) for e in edges}
    for layer in model.layers:
        q = {e: np.asarray(layer.to_query.weight) @ y[e] for e in edges}
        k = {e: np.asarray(layer.to_key.weight) @ y[e] for e in edges}
        new = {}
        for i, l in edges:
            paths = sum(q[i, j] * k[j, l] for j in range(n)) / np.sqrt(model.features)
            message = _mlp(layer.attention, paths) * _mlp(layer.message, y[i, l])
            new[i, l] = np.concatenate(
                [static(i, l), _mlp(layer.update, np.concatenate([y[i, l], message]))]
            )
        y = new
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    readout = sum(_mlp(model.readout, (y[i, j] + y[j, i]) / 2)[0] for i, j in pairs)
    return float(model.readout_scale) * readout


@pytest.mark.parametrize("dim, n_particles", [(2, 3), (3, 4), (2, 2)])
def test_log_psi_is_the_written_out_formula(dim, n_particles):
    model, jitted = _model(dim, n_particles)
    x = random_configurations(jax.random.key(2), 3, n_particles, BOXES[dim])
    for sample in x:
        want = _written_out(model, sample)
        assert abs(want) > 1e-3
        assert float(jitted(sample)) == pytest.approx(want, rel=1e-12)


def test_new_network_starts_at_zero_and_is_float64():
    model = eqxnqs.EdgeMPNN((5.0, 6.0), 4, key=jax.random.key(0))
    assert_starts_at_zero_in_float64(model, (5.0, 6.0))
    # the paper's size, 4 layers of width 8: their 4242 parameters less the 840 of their
    # node states and the one of their cusp (a McMillanJastrow here)
    assert sum(leaf.size for leaf in jax.tree.leaves(eqx.filter(model, eqx.is_array))) == 3401
    with pytest.raises(ValueError, match="n_layers must be a positive integer; got 0"):
        eqxnqs.EdgeMPNN((5.0, 5.0), 3, n_layers=0, key=jax.random.key(0))
    with pytest.raises(ValueError, match="n_particles must be an integer >= 2"):
        eqxnqs.EdgeMPNN((5.0, 5.0), 1, key=jax.random.key(0))
    with pytest.raises(ValueError, match="EdgeMPNN needs 2 or 3 dimensions"):
        eqxnqs.EdgeMPNN((5.0,), 3, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"expects x of shape \(8,\)"):
        model(jnp.zeros(6))


@symmetry_cases(N, dims=(2, 3))
def test_log_psi_is_invariant_under_permutation_translation_and_images(dim, seed, images):
    model, jitted = _model(dim)
    box = np.asarray(BOXES[dim])
    rng = np.random.default_rng(seed)
    positions = rng.uniform(0, 1, (N, dim)) * box
    value = float(jitted(positions.reshape(-1)))
    assert abs(value) > 1e-3
    for other in symmetry_images(positions, box, rng, images):
        assert float(jitted(other.reshape(-1))) == pytest.approx(value, rel=1e-11, abs=1e-11)
    moved = positions.copy()
    moved[0] += 0.3 * box / 2
    assert abs(float(jitted(moved.reshape(-1))) - value) > 1e-8


@pytest.mark.parametrize("dim", [2, 3])
def test_kinetic_energy_is_exact_against_netket(dim):
    network, _ = _model(dim)
    box = BOXES[dim]
    hilbert = eqxnqs.periodic_particles(N, box)
    cusp = eqxnqs.McMillanJastrow(box, N, exponent=5, b=0.4)
    x = random_configurations(jax.random.key(4), 4, N, box)
    masses = np.repeat(np.linspace(0.7, 1.3, N), dim)
    assert_kinetic_energy_matches_netket(eqxnqs.SumLogAmplitude(cusp, network), hilbert, masses, x)


def _dense(linear, bias=True):
    out = {"kernel": np.asarray(linear.weight).T}
    if bias:
        out["bias"] = np.asarray(linear.bias)
    return out


def _their_variables(model, delta1):
    """The Flax variables of Linteau et al.'s McMillanWithBackflow holding `model`."""
    rng = np.random.default_rng(0)
    f, width = model.features, model.n_static + model.features

    def two(mlp):
        return {"linear1": _dense(mlp.layers[0]), "linear2": _dense(mlp.layers[1])}

    mpnn = {"Embed_0": {"embedding": np.stack([rng.normal(size=f), model.edge_init])}}
    for k, layer in enumerate(model.layers):
        node = {  # their node update: unused by log psi
            "linear1": {"kernel": rng.normal(size=(2 * f, f)), "bias": rng.normal(size=f)},
            "linear2": {"kernel": rng.normal(size=(f, f)), "bias": rng.normal(size=f)},
        }
        mpnn[f"MPNNLayer_{k}"] = {
            f"query_{k}": np.asarray(layer.to_query.weight).T,
            f"key_{k}": np.asarray(layer.to_key.weight).T,
            "MLP_0": two(layer.attention),
            "MLP_1": two(layer.message),
            "MLP_2": node,
            "MLP_3": two(layer.update),
        }
    readout = {
        "Dense_0": _dense(model.readout.layers[0]),
        "Dense_1": _dense(model.readout.layers[1], bias=False),
    }
    assert width == model.readout.layers[0].in_features
    return {
        "params": {
            "delta1": np.array([delta1]),
            "delta2": np.array([float(model.readout_scale)]),
            "MLP_0": {"MLP_0": readout},
            "MPNN_0": mpnn,
        }
    }


def test_from_linteau_reads_their_variables_and_their_cusp():
    network, _ = _model(2)
    box = BOXES[2]
    variables = _their_variables(network, delta1=3.0)
    loaded = eqxnqs.from_linteau(variables, box, N)
    cusp, edge = loaded.terms
    x = random_configurations(jax.random.key(5), 3, N, box)
    np.testing.assert_array_equal(jax.vmap(edge)(x), jax.vmap(network)(x))
    # their cusp, -delta1 sum_{i<j} 1/|d|^5 with d = (L/2) sin(pi u / L) per axis
    for sample in np.asarray(x):
        p = sample.reshape(N, 2)
        theirs = -3.0 * sum(
            np.linalg.norm(0.5 * np.asarray(box) * np.sin(np.pi * (p[i] - p[j]) / box)) ** -5
            for i in range(N)
            for j in range(i + 1, N)
        )
        assert float(cusp(jnp.asarray(sample))) == pytest.approx(theirs, rel=1e-12)
    # the "params" collection alone, as a file path, as a str
    alone = eqxnqs.from_linteau(variables["params"], box, N)
    assert float(alone(x[0])) == float(loaded(x[0]))


def test_from_linteau_refuses_what_is_not_their_state(tmp_path):
    network, _ = _model(2)
    variables = _their_variables(network, delta1=3.0)
    with pytest.raises(ValueError, match="must be Linteau et al.'s McMillanWithBackflow"):
        eqxnqs.from_linteau({"params": {"cusp": np.ones(1)}}, BOXES[2], N)
    # a 2D state in a 3D box: its query maps 6 + 3 features, not 8 + 3
    with pytest.raises(ValueError, match=r"query_0 must have shape \(11, 3\)"):
        eqxnqs.from_linteau(variables, BOXES[3], N)
    variables["params"]["delta1"] = np.array([-1.0])
    with pytest.raises(ValueError, match="delta1 must be positive"):
        eqxnqs.from_linteau(variables, BOXES[2], N)
    del variables["params"]["delta2"]
    with pytest.raises(ValueError, match="have no delta2"):
        eqxnqs.from_linteau(variables, BOXES[2], N)


def test_a_run_starts_from_their_mpack_and_refuses_a_broken_one(tmp_path):
    network, _ = _model(2)
    config = eqxnqs.configure(
        "helium-2d",
        n_particles=N,
        density=0.04,
        model="edge-mpnn",
        mpnn_features=3,
        mpnn_layers=2,
        three_body=False,
    )
    system = config.build_system()
    path = tmp_path / "state.mpack"
    path.write_bytes(flax.serialization.msgpack_serialize(_their_variables(network, 2.0)))
    model = build_model(config.replace(init_from=str(path)), system)
    want = eqxnqs.from_linteau(path, system.box, N)
    x = random_configurations(jax.random.key(6), 2, N, system.box)
    np.testing.assert_array_equal(jax.vmap(model)(x), jax.vmap(want)(x))
    fresh = build_model(config, system)
    assert [type(t).__name__ for t in fresh.terms] == ["McMillanJastrow", "EdgeMPNN"]
    assert (config.optimizer.diag_shift, config.optimizer.max_norm) == (0.1, 10.0)
    broken = tmp_path / "broken.mpack"
    broken.write_bytes(b"not msgpack")
    with pytest.raises(eqxnqs.ConfigError, match="is not a saved wavefunction file"):
        build_model(config.replace(init_from=str(broken)), system)


def test_save_and_load_round_trip(tmp_path):
    model, _ = _model(3)
    eqxnqs.save(tmp_path / "m.eqx", model)
    loaded = eqxnqs.load(tmp_path / "m.eqx")
    assert loaded.hyperparameters() == model.hyperparameters()
    for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(model)):
        np.testing.assert_array_equal(a, b)
