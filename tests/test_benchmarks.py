"""The benchmark scripts still run against this version of the library (smoke tests, no timing)."""

import importlib.util
import pathlib
import sys

import jax
import numpy as np

BENCHMARKS = pathlib.Path(__file__).parent.parent / "benchmarks"


def _load(name):
    # As when a script runs from benchmarks/: its sibling modules import by name.
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compare_netket_builds_one_network_in_both_frameworks():
    bench = _load("compare_netket")
    system, model, flax_model, variables, x = bench.build(4, 2, 8)
    np.testing.assert_allclose(jax.vmap(model)(x), flax_model.apply(variables, x), rtol=1e-12)


def test_convergence_study_finds_when_the_running_mean_crosses_the_threshold():
    study = _load("convergence")
    window = study.RUNNING_MEAN
    trace = np.concatenate([np.full(10, 7.0), np.full(10, 5.0)])
    # The running mean of `window` iterations first reaches 5.5 once most of them are at 5.
    expected = 10 + int(np.ceil(window * (7.0 - 5.5) / 2.0)) - 1
    assert study.first_reached(trace, 5.5) == expected
    assert study.first_reached(trace, 4.0) is None


def test_mpnn_kinetic_benchmark_runs_and_its_routes_agree(capsys):
    rows = _load("mpnn_kinetic").main(["--quick"])
    assert [name for name, _, _ in rows][:2] == ["eqxnqs", "netket (Hessian)"]
    reference = np.asarray(rows[1][2])
    for _, _, values in rows:
        np.testing.assert_allclose(values, reference, rtol=1e-10, atol=1e-10)
    assert "DeepSetRelDistance" in capsys.readouterr().out


def test_triplet_moves_benchmark_runs_and_both_routes_give_one_chain(capsys):
    times, difference = _load("triplet_moves").main(["--quick"])
    assert list(times) == [
        "eqxnqs (move protocol)",
        "forward pass per move",
        "eqxnqs, DeepSet alone",
    ]
    assert difference < 1e-12
    assert "helium 2D, N = 6" in capsys.readouterr().out
