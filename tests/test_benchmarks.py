"""The benchmark scripts still run against this version of the library (smoke tests, no timing)."""

import importlib.util
import pathlib
import sys

import jax
import numpy as np
import pytest

import eqxnqs

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


def test_helium_frontier_formats_a_row_and_its_gap():
    frontier = _load("helium_frontier")
    row = {
        "ansatz": "triplet", "seed": 0, "mean_K": -0.75, "error_K": 0.005, "variance": 64.0,
        "r_hat": 1.004, "tau_corr": 1.5, "iterations": 120, "total_s": 900.0,
        "reached_at": None, "time_to_reach_s": None, "reference_K": -0.8, "warnings": ["x"],
    }  # fmt: skip
    line = frontier._format(row)
    assert "-0.7500 +- 0.0050" in line and "+6.25 % (+10.0 errors)" in line
    assert set(frontier.CASES) == {"2d-0.050", "2d-0.04344", "3d", "3d-64"}
    config = eqxnqs.configure(**frontier.CASES["2d-0.050"][0])
    assert config.build_system().reference_energy_per_particle is not None
    first, second = frontier.ANSATZE["backflow"]  # the second stage is a valid configuration
    flat = eqxnqs.configure(**frontier.CASES["3d"][0], **{**first, **second}).flat()
    assert flat["backflow"] and flat["three_body"] and flat["learning_rate_end"] == 0.002
    default = eqxnqs.configure(**frontier.CASES["2d-0.050"][0], **frontier.ANSATZE["default"][0])
    assert default.model.backflow_start == 120 and default.optimizer.n_iter == 180
    # without a backflow, each ansatz is what it says in 3D too (helium-3d's own has one)
    for name in ("deepset", "triplet"):
        config = eqxnqs.configure(**frontier.CASES["3d"][0], **frontier.ANSATZE[name][0])
        assert not config.model.backflow
        assert config.model.three_body == (name == "triplet")


def test_reference_observables_average_shells():
    observables = _load("reference_observables")
    ks = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    k, values = observables.shells(ks, np.array([3.0, 1.0, 2.0, 5.0]))
    np.testing.assert_allclose(k, [0.0, 1.0, np.sqrt(2.0)])
    np.testing.assert_allclose(values, [3.0, 1.5, 5.0])
    momenta = {"k": [0.0, 1.0, 1.0], "n": [6.0, 1.0, 2.0], "error": [0.3, 0.1, 0.2]}
    k, n, error = observables._shell_means(momenta, 3)
    np.testing.assert_allclose(n, [2.0, 0.5])
    np.testing.assert_allclose(error, [0.1, 0.2 / 3])


def test_iteration_profile_times_every_part(capsys):
    profile = _load("iteration_profile")
    settings = ["--set", "n_samples=32", "--set", "n_chains=8", "--set", "n_discard_per_chain=2"]
    results = profile.main(
        ["--only", "triplet", "--n-particles", "6", "--warmup", "0", "--repeats", "1", *settings]
    )
    row = results["triplet"]
    assert row["n_samples"] == 32 and row["sampling_s"] > 0 and row["local_energies_s"] > 0
    assert "| triplet |" in capsys.readouterr().out


def test_gpu_benchmark_writes_its_three_tables(tmp_path, monkeypatch, capsys):
    gpu = _load("gpu")
    # Smaller still than --quick: one short helium run, and the MPNN's table
    # (mpnn_kinetic.py, smoke-tested above) as one line.
    monkeypatch.setattr(gpu.compare_netket, "QUICK", [((4, 1), 32)])
    monkeypatch.setattr(gpu, "HELIUM_RUNS", gpu.HELIUM_RUNS[:1])
    monkeypatch.setitem(gpu.QUICK_SETTINGS, "n_particles", 4)
    monkeypatch.setattr(gpu, "mpnn_table", lambda quick: "eqxnqs ... netket (Hessian) ...\n")
    # compare_netket.measure's rows for that size, as numbers (measuring costs a minute
    # of compilation): the table, its ratios and the growth section are gpu.py's own.
    rows = {"forward": [1.0, 2.0], "kinetic": [2.0, 30.0]}
    memory = {"forward": [0.1, 0.1], "kinetic": [1.0, 20.0]}
    monkeypatch.setattr(gpu.compare_netket, "measure", lambda *args: (rows, memory, 1e-14))
    report = gpu.main(["--quick", "--out", str(tmp_path / "gpu.md")])
    assert (tmp_path / "gpu.md").read_text() == report
    assert report.startswith(f"# eqxnqs on {jax.device_count()} x ")
    assert "| 4 | 1 | 32 | kinetic | 2.0 | 30.0 | 15.00 | 2.0 | 1.0 | 20.0 |" in report
    assert "netket (Hessian)" in report and "| DeepSet x triplet | 4 | 32 |" in report
    assert " K " not in capsys.readouterr().err  # no progress bar in a benchmark
    # One section alone, as run under a time limit on a leased accelerator.
    alone = gpu.main(["--quick", "--sections", "mpnn", "--out", str(tmp_path / "mpnn.md")])
    assert "netket (Hessian)" in alone and "NetKet ms" not in alone and "triplet" not in alone
    with pytest.raises(SystemExit):
        gpu.main(["--sections", "speed,sampling"])
    assert "unknown section(s) sampling" in capsys.readouterr().err


def test_surrogate_sampling_measures_both_samplers_of_an_mpnn():
    bench = _load("surrogate_sampling")
    settings = dict(n_particles=4, model="mpnn", mpnn_features=2, mpnn_layers=1, mpnn_heads=1)
    settings |= dict(n_chains=4, n_samples=32, n_discard_per_chain=2, three_body=False)
    rows = [
        bench.measure(eqxnqs.configure("helium-2d", **settings, surrogate=kind), repeats=1)
        for kind in ("own", "fast-terms")
    ]
    assert rows[0]["segment_acceptance"] is None
    assert 0 < rows[1]["segment_acceptance"] <= 1
    for row in rows:
        assert row["ms_per_sample"] > 0 and set(row["tau"]) == {"potential", "log_psi"}


def test_surrogate_sampling_takes_a_finished_run_per_segment_length(tmp_path):
    # (measure itself is the MPNN test's above: this one compiles nothing)
    bench = _load("surrogate_sampling")
    config = eqxnqs.configure("helium-2d", n_particles=4, backflow=True, three_body=False)
    (tmp_path / "config.json").write_text(config.to_json())
    configs = bench.run_configs(tmp_path, [0, 2], n_chains=4, per_chain=8)
    assert [c.sampler.segment_moves for c in configs] == [None, 2]
    for c in configs:
        assert c.model.init_from == str(tmp_path) and c.model.backflow
        assert (c.sampler.n_chains, c.sampler.n_samples) == (4, 32)
        assert c.replace(init_from=None, n_chains=64, n_samples=2048, segment_moves=None,
                         n_discard_per_chain=16) == config  # fmt: skip
