"""The command line: bad input, a whole run, and a run killed and resumed."""

import json
import os
import re
import subprocess
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import eqxnqs
from eqxnqs._workflow._cli import _parser, config_from_args, main
from eqxnqs._workflow._system_configs import SYSTEMS
from helpers import TINY_HELIUM

TINY = [*TINY_HELIUM, "--n-samples", "128", "--n-chains", "8", "--n-discard-per-chain", "32"]
TINY += ["--no-progress"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "helium", "--density", "-0.3"], "--density must be a positive number; got -0.3"),
        (["run", "helium", "--n-particles", "0"], "--n-particles must be an integer >= 2; got 0"),
        (["run", "argon"], "unknown system 'argon'; choose one of helium, helium-2d"),
        (["run", "helium", "--driver", "sgd"], "unknown --driver 'sgd'"),
        (["run", "gaussian", "--dim", "4"], "--dim must be 1, 2 or 3; got 4"),
        (
            ["run", "helium", "--features-rho", "8", "8", "2"],
            "last entry of --features-rho must be 1",
        ),
        (["run", "helium", "--features-phi", "8", "8", "8"], "--features-phi has 3 entries"),
        (
            ["run", "helium", "--activation", "relu6x"],
            "--activation must be the name of a jax.nn function",
        ),
        (["run", "helium", "--n-iter", "abc"], "argument --n-iter: invalid int value: 'abc'"),
        (["run", "helium", "--sampler", "hmc"], "unknown --sampler 'hmc'"),
    ],
)
def test_bad_options_give_one_line(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) if "abc" in args else _no_raise():
        code = main(args + ["--out", str(tmp_path / "run")])
        assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("eqxnqs: error: ") and message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "run").exists()


class _no_raise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_bad_option_in_a_real_process_prints_no_traceback(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "eqxnqs",
            "run",
            "helium",
            "--density",
            "0",
            "--out",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "eqxnqs: error: --density must be a positive number; got 0.0."
    assert "Traceback" not in result.stdout + result.stderr


def test_folder_with_other_files_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["run", "helium", *TINY, "--out", str(out)]) == 2
    assert "already holds other files" in capsys.readouterr().err
    assert os.listdir(out) == ["notes.txt"]


def test_single_particle_sampler_run(tmp_path, capsys):
    out = tmp_path / "single"
    args = [
        "run",
        "helium",
        *TINY,
        "--sampler",
        "single-particle",
        "--sampler-sigma",
        "0.5",
        "--n-iter",
        "3",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    results = json.loads((out / "results.json").read_text())
    assert 0.05 < results["acceptance"] < 0.99
    assert np.isfinite(results["energy_per_particle"]["mean"])
    # The width adapts from 0.5 (target acceptance 0.5), and each step logs it.
    widths = json.loads((out / "log.json").read_text())["SamplerWidth"]["value"]
    assert widths[0] == 0.5 and len(widths) == 3
    assert results["sampler_width"] != 0.5 and results["sampler_width"] > 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "helium", "--chain-start", "grid"], "unknown --chain-start 'grid'"),
        (["run", "helium", "--rho-readout", "relu"], "unknown --rho-readout 'relu'"),
        (["run", "helium", "--clip-local-energy", "0"], "--clip-local-energy must be a positive"),
        (["run", "calogero-sutherland", "--beta", "0.5"], "--beta must be a number >= 1"),
        (
            ["run", "calogero-sutherland", "--dim", "2"],
            "system calogero-sutherland has no option --dim",
        ),
        (["run", "helium", "--v0", "3"], "system helium has no option --v0"),
        (
            ["run", "helium", "--driver", "vmc", "--clip-local-energy", "5"],
            "--clip-local-energy needs --driver vmc_sr",
        ),
        (["run", "helium", "--max-norm", "-1"], "--max-norm must be a positive number"),
        (["run", "helium", "--target-acceptance", "1"], "--target-acceptance must be in (0, 1)"),
        (["run", "helium", "--input-scale", "0"], "--input-scale must be a positive number"),
        (["run", "helium", "--momentum", "0.8"], "set --use-ntk to true"),
        (["run", "helium", "--momentum", "1.5", "--use-ntk", "true"], "--momentum must be in"),
        (["run", "helium", "--diag-shift-end", "0"], "--diag-shift-end must be a positive"),
        (
            ["run", "helium-2d", "--cell", "triangular", "--n-particles", "9"],
            "--cell triangular holds an even number of atoms; got --n-particles 9",
        ),
        (["run", "helium-2d", "--potential", "lj"], "unknown --potential 'lj'"),
        (["run", "helium-2d", "--truncation", "smooth"], "unknown --truncation 'smooth'"),
        (
            ["run", "helium", "--init-from", "no/such/run"],
            "--init-from: no/such/run is not a saved wavefunction",
        ),
        (
            ["run", "helium", "--n-chains", "7", "--n-samples", "64"],
            "--n-samples (64) must be a multiple of --n-chains (7)",
        ),
    ],
)
def test_bad_stability_options_give_one_line(tmp_path, capsys, args, message):
    assert main(args + ["--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("eqxnqs: error: ") and message in err and err.count("\n") == 1


def _config(*argv):
    return config_from_args(_parser().parse_args([*argv, "--out", "x"]))


def test_netket_example_preset_and_explicit_options():
    config = _config("run", "helium", "--netket-example", "--n-chains", "32")
    assert config == eqxnqs.configure("helium", netket_example=True, n_chains=32)
    flat = config.flat()
    assert [flat[name] for name in NETKET_SETTINGS] == [
        "gaussian",
        "netket",
        None,
        None,
        False,
        None,
        1.0,
        32,
    ]
    flat = _config("run", "helium", "--driver", "vmc").flat()
    assert (flat["clip_local_energy"], flat["max_norm"]) == (None, None)
    assert _config("run", "calogero-sutherland").model.cusp_exponent == 1


NETKET_SETTINGS = (
    "sampler",
    "rho_readout",
    "clip_local_energy",
    "max_norm",
    "positive_cusp",
    "target_acceptance",
    "input_scale",
    "n_chains",
)


def test_calogero_sutherland_run_reports_reference_and_checks(tmp_path, capsys):
    out = tmp_path / "cs"
    assert (
        main(
            [
                "run",
                "calogero-sutherland",
                "--n-particles",
                "4",
                "--box-length",
                "4",
                "--features-phi",
                "4",
                "--layers-rho",
                "2",
                "--features-rho",
                "4",
                "1",
                "--n-samples",
                "256",
                "--n-iter",
                "12",
                "--final-samples",
                "1024",
                "--jastrow",
                "power-law",
                "--cusp-exponent",
                "none",
                "--no-progress",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "reference E/N = " in captured.out and "exact" in captured.out
    model = eqxnqs.load(out / "model.eqx")
    assert isinstance(model, eqxnqs.SumLogAmplitude)
    assert isinstance(model.terms[0], eqxnqs.PowerLawJastrow)
    # The Jastrow factor alone is the exact ground state: 12 iterations bring beta near 2.
    assert abs(float(model.terms[0].power) - 2.0) < 0.05
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["system"] == {
        "name": "calogero-sutherland",
        "n_particles": 4,
        "box_length": 4.0,
        "beta": 2.0,
    }
    exact = eqxnqs.calogero_sutherland_energy(4, 4.0, 2.0) / 4
    assert results["reference"]["energy_per_particle"] == pytest.approx(exact, rel=1e-14)
    energy = results["energy_per_particle"]
    assert energy["n_samples"] == 1024 and energy["non_finite_local_energies"] == 0
    # Variational: never below the exact energy (beyond 3 errors).
    assert energy["mean"] > exact - 3 * energy["error"]
    diagnostics = results["diagnostics"]
    assert diagnostics["reference_gap"] == pytest.approx((energy["mean"] - exact) / exact)
    # 12 iterations have not plateaued: the run says so.
    assert diagnostics["trusted"] is (results["warnings"] == [])
    assert captured.err.count("eqxnqs: warning: ") == len(results["warnings"])
    # The bosonic observables: S(k) on k = 2 pi n / L, g1 from 1 at r = 0, n(k) summing to N.
    sf = results["structure_factor"]
    np.testing.assert_allclose(np.asarray(sf["k"]) * 4.0 / (2 * np.pi), np.arange(1, 13))
    assert all(e > 0 for e in sf["error"])
    g1 = results["one_body_density_matrix"]
    assert g1["r"][0] == 0.0 and g1["g1"][0] == 1.0 and g1["error"][0] == 0.0
    assert sum(results["momentum_distribution"]["n"]) == pytest.approx(4.0, rel=1e-10)
    n0 = results["condensate_fraction"]
    assert 0 < n0["mean"] < 1 and n0["n_samples"] == 1024
    split = results["energy_split"]
    assert split["kinetic"]["mean"] + split["potential"]["mean"] == pytest.approx(
        energy["mean"], rel=1e-9
    )
    assert results["luttinger_parameter"]["error"] > 0
    for name in ("structure_factor.png", "one_body_density_matrix.png"):
        assert (out / name).stat().st_size > 0


@pytest.mark.parametrize("system", SYSTEMS)
def test_command_line_defaults_are_the_named_configurations(system, capsys):
    # Each system's options start from its named configuration, and --help shows it.
    for model in ("deepset", "mpnn"):
        config = _config("run", system, "--model", model)
        assert config == eqxnqs.configure(system, model=model)
    defaults = eqxnqs.configure(system).flat()
    with pytest.raises(SystemExit):
        _parser().parse_args(["run", system, "--help"])
    shown = re.sub(r"\s+", " ", capsys.readouterr().out)
    for name, value in defaults.items():
        if name == "system":
            continue
        # by identity: 0 == False would show the seed's default as "false"
        word = "none" if value is None else str(value).lower() if isinstance(value, bool) else value
        if isinstance(value, tuple):
            word = " ".join(map(str, value))
        option = "--" + name.replace("_", "-")
        assert re.search(rf"{option} .*?\(default: {re.escape(str(word))}\)", shown), option
    others = {o for s in SYSTEMS.values() for o in s.options()} - set(defaults)
    assert not any("--" + o.replace("_", "-") + " " in shown for o in others)


def test_a_run_continues_with_more_factors_from_where_another_ended(tmp_path, capsys):
    # A saved DeepSet times triplet (as a run leaves it, its triplet trained), continued at
    # backflow coordinates (eta starts at zero): the run starts from the saved wavefunction.
    from eqxnqs._workflow._vmc_run import build_model

    first, second = tmp_path / "first", tmp_path / "second"
    tiny = TINY + ["--n-iter", "2", "--final-samples", "128", "--g1-samples", "8"]
    tiny += ["--g1-points", "3"]
    args = ["run", "helium-2d", *tiny]
    config = _config(*args, "--no-backflow")
    saved = build_model(config, config.build_system())
    saved = eqx.tree_at(lambda m: m.terms[1].strength, saved, jnp.asarray(-1.5))
    first.mkdir()
    eqxnqs.save(first / "model.eqx", saved)
    args += ["--backflow-start", "0", "--learning-rate-end", "0.005", "--diag-shift-end", "0.001"]
    assert main(args + ["--init-from", str(first), "--out", str(second)]) == 0
    assert capsys.readouterr().out.count("E/N =") == 1
    continued = eqxnqs.load(second / "model.eqx")
    assert isinstance(continued.terms[-1], eqxnqs.Backflow)
    assert isinstance(continued.terms[-1].inner.terms[-1], eqxnqs.TripletJastrow)
    recorded = json.loads((second / "config.json").read_text())["model"]
    assert recorded["init_from"] == str(first) and recorded["backflow"] is True
    # The second run's starting wavefunction is the saved one.
    restarted = eqxnqs.RunConfig.from_json_file(second / "config.json")
    start = build_model(restarted, restarted.build_system())
    x = eqxnqs.lattice_configurations(restarted.build_system().hilbert, jax.random.key(0), 4)
    np.testing.assert_allclose(jax.vmap(start)(x), jax.vmap(saved)(x), rtol=1e-12)


def test_a_run_compiles_each_program_once_and_a_repeated_run_nothing(tmp_path):
    # Within the first run no program is compiled twice, and the final estimate (three
    # batches of the training's size) reuses the training's sampler. Every program goes
    # into the persistent cache; the second, identical run finds them all there.
    cache = tmp_path / "cache"
    environment = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    environment.update(EQXNQS_COMPILATION_CACHE=str(cache), JAX_LOG_COMPILES="1")
    args = ["run", "helium", "--n-particles", "3", "--features-phi", "2", "--layers-rho", "1"]
    args += ["--features-rho", "1", "--n-samples", "16", "--n-chains", "4", "--n-iter", "2"]
    args += ["--final-samples", "48", "--g1-samples", "4", "--g1-points", "2", "--no-progress"]
    entries, compiled = [], []
    for out in ("first", "second"):
        command = [sys.executable, "-m", "eqxnqs", *args, "--out", str(tmp_path / out)]
        result = subprocess.run(command, env=environment, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        entries.append(sorted(path.name for path in cache.iterdir()))
        compiled.append(re.findall(r"Compiling (jit\(\w+\) with global shapes.*)", result.stderr))
    assert len(entries[0]) > 10 and entries[1] == entries[0]
    first = compiled[0]
    # The sampler twice, for its two chain lengths (the discard and a batch; the log
    # does not show this static argument), and not again for the final estimate.
    assert sum(line.startswith("jit(_sample_chain)") for line in first) == 2
    # The programs over a batch of samples (4 chains of 4): each compiled once.
    programs = [line for line in first if "float64[4,4,3]" in line]
    assert len(programs) >= 3 and len(set(programs)) == len(programs)
