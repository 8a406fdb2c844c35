"""Checkpoints: damaged ones, and a run interrupted anywhere that resumes exactly."""

import json
import shutil
import signal
import subprocess
import sys

import equinox as eqx
import jax
import netket as nk
import numpy as np
import optax
import pytest
from flax import serialization

import eqxnqs
from eqxnqs._workflow._checkpoint import AtomicJsonLog
from eqxnqs._workflow._cli import main
from eqxnqs._workflow._vmc_run import schedule
from helpers import TINY_HELIUM

# One worker runs this module, so that its module-scoped runs happen once.
pytestmark = pytest.mark.xdist_group("checkpoints")

SMALL = ["run", "helium", *TINY_HELIUM, "--n-samples", "64", "--n-chains", "8"]
SMALL += ["--n-discard-per-chain", "8", "--final-samples", "256", "--no-progress"]


def _iters(out):
    return json.loads((out / "log.json").read_text())["Energy"]["iters"]


def _files(out):
    return {path.name: path.read_bytes() for path in sorted(out.iterdir())}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A run of 4 iterations with checkpoints at iterations 2 and 4 (started with --resume)."""
    out = tmp_path_factory.mktemp("runs") / "base"
    assert (
        main([*SMALL, "--n-iter", "4", "--checkpoint-every", "2", "--out", str(out), "--resume"])
        == 0
    )
    return out


def test_a_folder_holds_one_run_continued_only_with_resume(finished_run, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(finished_run, out)
    before = _files(out)
    capsys.readouterr()
    # Without --resume: refused, nothing overwritten.
    assert main([*SMALL, "--n-iter", "4", "--checkpoint-every", "2", "--out", str(out)]) == 2
    assert "already holds a run; --resume continues it" in capsys.readouterr().err
    # --resume with other settings: refused.
    assert main([*SMALL, "--n-iter", "4", "--seed", "7", "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "settings differ from the run" in err and "seed" in err
    assert _files(out) == before
    # A finished run: nothing left to run, its results printed again.
    assert _resume(out) == 0
    printed = capsys.readouterr().out
    assert "Resuming" in printed and "at iteration 4" in printed and "E/N = " in printed
    assert _iters(out) == [0, 1, 2, 3]
    # A larger --n-iter extends it; the log goes on, every iteration once.
    assert _resume(out, n_iter=6) == 0
    assert _iters(out) == list(range(6))
    results = json.loads((out / "results.json").read_text())
    energy = results["energy_per_particle"]
    assert results["iterations"] == 6 and energy["error"] > 0
    assert energy["mean_kelvin"] == pytest.approx(energy["mean"] * eqxnqs.KELVIN_PER_UNIT)
    for name in ("energy.png", "pair_distribution.png", "config.json"):
        assert (out / name).stat().st_size > 0
    model = eqxnqs.load(out / "model.eqx")
    assert model.n_particles == 4 and model.cusp_exponent == 5


def _resume(out, n_iter=4):
    return main(
        [*SMALL, "--n-iter", str(n_iter), "--checkpoint-every", "2", "--out", str(out), "--resume"]
    )


def test_the_run_keeps_its_last_two_checkpoints(finished_run):
    files = {path.name for path in finished_run.iterdir()}
    assert {"checkpoint.mpack", "checkpoint.previous.mpack"} <= files
    assert not any(name.startswith(".") for name in files)  # no temporary file left
    steps = [
        serialization.msgpack_restore((finished_run / name).read_bytes())["step_count"]
        for name in ("checkpoint.mpack", "checkpoint.previous.mpack")
    ]
    assert steps == [4, 2]


@pytest.mark.parametrize("damage", ["truncated", "garbage", "missing"])
def test_an_unreadable_newest_checkpoint_resumes_from_the_previous(
    finished_run, tmp_path, capsys, damage
):
    out = tmp_path / "run"
    shutil.copytree(finished_run, out)
    newest = out / "checkpoint.mpack"
    if damage == "truncated":
        newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    elif damage == "garbage":
        newest.write_bytes(b"\x00garbage" * 100)
    else:  # the run was stopped between setting the old one aside and writing the new one
        newest.unlink()
    damaged = newest.read_bytes() if newest.exists() else None
    capsys.readouterr()
    assert _resume(out) == 0
    printed = capsys.readouterr().out
    if damage == "missing":
        assert (
            "checkpoint.mpack is missing; resuming from checkpoint.previous.mpack at iteration 2"
            in printed
        )
    else:
        assert (
            "checkpoint.mpack is not a readable eqxnqs checkpoint (truncated or damaged) "
            "(kept as checkpoint.damaged.mpack); resuming from checkpoint.previous.mpack "
            "at iteration 2."
        ) in printed
        assert (out / "checkpoint.damaged.mpack").read_bytes() == damaged
    assert _iters(out) == [0, 1, 2, 3]  # iterations 2 and 3 again, each logged once
    steps = [
        serialization.msgpack_restore((out / name).read_bytes())["step_count"]
        for name in ("checkpoint.mpack", "checkpoint.previous.mpack")
    ]
    assert steps == [4, 2]


def test_a_log_of_one_iteration_resumes_with_its_shapes(tmp_path):
    # NetKet reads one iteration of numbers as one iteration of a vector.
    log = AtomicJsonLog(tmp_path / "log.json")
    log(0, {"Energy": nk.stats.statistics(np.arange(8.0)), "width": 0.3})
    resumed = AtomicJsonLog.resume(tmp_path / "log.json", log.to_text())
    resumed(1, {"Energy": nk.stats.statistics(np.arange(8.0) + 1), "width": 0.4})
    assert resumed.data["Energy"]["Mean"].shape == (2,)
    np.testing.assert_array_equal(resumed.data["width"]["value"], [0.3, 0.4])


def _write_payload(path, **changes):
    payload = serialization.msgpack_restore(path.read_bytes())
    payload.update(changes)
    path.write_bytes(serialization.msgpack_serialize(payload))


@pytest.mark.parametrize(
    "damage, message",
    [
        (
            "garbage",
            "cannot resume {out}: checkpoint.mpack is not a readable eqxnqs checkpoint "
            "(truncated or damaged); checkpoint.previous.mpack is not a readable eqxnqs "
            "checkpoint (truncated or damaged). Move it aside to start the run again.",
        ),
        (
            "format",
            "cannot resume {out}: checkpoint.mpack has checkpoint format 99; this eqxnqs "
            "reads format 1; checkpoint.previous.mpack has checkpoint format 99; this eqxnqs "
            "reads format 1. Move it aside to start the run again.",
        ),
        (
            "driver",
            "cannot resume {out}: checkpoint.mpack was written by a run with other settings; "
            "checkpoint.previous.mpack was written by a run with other settings. Move it "
            "aside to start the run again.",
        ),
        (
            "config",
            "cannot resume: {out} holds other files but no run (config.json).",
        ),
    ],
)
def test_a_run_without_a_readable_checkpoint_is_refused_in_one_line(
    finished_run, tmp_path, capsys, damage, message
):
    out = tmp_path / "run"
    shutil.copytree(finished_run, out)
    for name in ("checkpoint.mpack", "checkpoint.previous.mpack"):
        if damage == "garbage":
            (out / name).write_bytes(b"\x93\x01\x02")
        elif damage == "format":
            _write_payload(out / name, format_version=99)
        elif damage == "driver":
            _write_payload(out / name, driver={"state": {}})
    if damage == "config":
        (out / "config.json").unlink()
    before = _files(out)
    capsys.readouterr()
    assert _resume(out) == 2
    err = capsys.readouterr().err
    assert err == f"eqxnqs: error: {message.format(out=out)}\n"
    assert _files(out) == before  # nothing was changed or lost


# Run the command line in a fresh process that kills itself (SIGKILL) at one point,
# counted within that process:
#   write N: in its Nth file write, with half the data in the temporary file;
#   set-aside N: in its Nth checkpoint write, once the old checkpoint is set aside
#     as the previous one and before the new one is in place;
#   step N: in its Nth iteration, after the update and the loggers, before the checkpoint.
_KILLED_RUN = """
import os, signal, sys
from eqxnqs._workflow import _checkpoint, _serialization
from eqxnqs._workflow._cli import main

kind, at = sys.argv[1], int(sys.argv[2])
writes, steps = [], []
write_atomically = _serialization.write_atomically
on_step_end = _checkpoint.CheckpointCallback.on_step_end

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def killing_write(path, data, *, keep_previous=None):
    writes.append(path.name)
    if kind == "write" and len(writes) == at:
        path.with_name(f".{path.name}.tmp-{os.getpid()}").write_bytes(data[: len(data) // 2])
        die()
    if kind == "set-aside" and keep_previous is not None and writes.count(path.name) == at:
        if path.exists():
            os.replace(path, keep_previous)
        die()
    write_atomically(path, data, keep_previous=keep_previous)

def killing_step_end(self, step, log_data, driver):
    steps.append(step)
    if kind == "step" and len(steps) == at:
        die()
    on_step_end(self, step, log_data, driver)

_serialization.write_atomically = killing_write
_checkpoint.CheckpointCallback.on_step_end = killing_step_end
sys.exit(main(sys.argv[3:]))
"""


def _run(out, n_iter, kind="none", at=0):
    command = [sys.executable, "-c", _KILLED_RUN, kind, str(at), *SMALL, "--n-iter", str(n_iter)]
    command += ["--checkpoint-every", "1", "--out", str(out), "--resume"]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def _leaves(path):
    return [
        np.asarray(leaf) for leaf in jax.tree.leaves(eqx.filter(eqxnqs.load(path), eqx.is_array))
    ]


def test_a_run_interrupted_anywhere_resumes_exactly(tmp_path):
    n_iter = 6
    reference = tmp_path / "uninterrupted"  # in this process: the same programs
    args = [*SMALL, "--n-iter", str(n_iter), "--checkpoint-every", "1", "--out", str(reference)]
    assert main(args) == 0

    out = tmp_path / "interrupted"
    rng = np.random.default_rng(20261130)
    # Each kill leaves at most two more iterations done: all come before the end.
    kills = [
        ("write", int(rng.integers(2, 6))),
        ("set-aside", int(rng.integers(1, 3))),
        ("step", int(rng.integers(1, 3))),
    ]
    for kind, at in kills:
        assert _run(out, n_iter, kind, at).returncode == -signal.SIGKILL, (kind, at)
    finished = _run(out, n_iter)
    assert finished.returncode == 0, finished.stderr

    assert _iters(out) == list(range(n_iter))  # every iteration logged exactly once
    for ours, theirs in zip(
        _leaves(out / "model.eqx"), _leaves(reference / "model.eqx"), strict=True
    ):
        np.testing.assert_array_equal(ours, theirs)
    log, log_reference = (json.loads((f / "log.json").read_text()) for f in (out, reference))
    assert log["Energy"]["Mean"] == log_reference["Energy"]["Mean"]
    assert not any(path.name.startswith(".") for path in out.iterdir())


def _schedule_counts(driver) -> list[int]:
    states = jax.tree.leaves(
        driver._optimizer_state, is_leaf=lambda s: isinstance(s, optax.ScaleByScheduleState)
    )
    return [int(s.count) for s in states if isinstance(s, optax.ScaleByScheduleState)]


def test_the_rates_hold_then_decay_geometrically_or_step():
    hold_then_decay = schedule(0.01, 0.002, 60, 120)
    values = [float(hold_then_decay(i)) for i in (0, 60, 90, 120, 500)]
    np.testing.assert_allclose(values, [0.01, 0.01, (0.01 * 0.002) ** 0.5, 0.002, 0.002])
    step = schedule(0.01, 0.002, 120, 120)
    assert [float(step(i)) for i in (0, 119, 120, 500)] == [0.01, 0.01, 0.002, 0.002]
    assert schedule(0.01, None, 0, 120) == 0.01


def _four_iterations(**settings) -> eqxnqs.RunConfig:
    """Four iterations of a small helium run, with `settings` on top."""
    return eqxnqs.configure(
        n_particles=4,
        features_phi=(4, 4),
        layers_rho=2,
        features_rho=(4, 1),
        n_samples=64,
        n_chains=8,
        n_discard_per_chain=8,
        g1_samples=8,
        g1_points=2,
        n_iter=4,
        **settings,
    )


def test_spring_momentum_joins_at_momentum_start(tmp_path):
    # Plain MinSR before momentum_start: the same iterations as a run without momentum,
    # and a different one from the first step with it.
    energies = {}
    for momentum in (None, 0.9):
        config = _four_iterations(
            final_samples=64, use_ntk=True, momentum=momentum, momentum_start=2 if momentum else 0
        )
        eqxnqs.run_vmc(config, tmp_path / str(momentum), show_progress=False)
        log = json.loads((tmp_path / str(momentum) / "log.json").read_text())
        energies[momentum] = np.asarray(log["Energy"]["Mean"])
    np.testing.assert_allclose(energies[0.9][:3], energies[None][:3], rtol=1e-12)
    assert abs(energies[0.9][3] - energies[None][3]) > 1e-6


def test_the_backflow_joins_at_backflow_start_and_the_run_resumes_on_either_side(tmp_path):
    # Iterations 0 and 1 without backflow, 2 and 3 with it, in one run and one log; the
    # learning rate's schedule and the step count go on across the switch.
    config = _four_iterations(
        final_samples=256,
        learning_rate_end=0.005,
        decay_iter=2,
        backflow=True,
        backflow_start=2,
        checkpoint_every=2,
    )
    out = tmp_path / "run"
    seen = []

    def record(step, log_data, driver):
        seen.append((step, driver.step_count, _schedule_counts(driver)))
        return True

    eqxnqs.run_vmc(config, out, show_progress=False, callbacks=[record])
    assert seen == [(step, step, [step]) for step in range(4)]
    assert _iters(out) == [0, 1, 2, 3]
    model = eqxnqs.load(out / "model.eqx")
    assert isinstance(model.terms[-1], eqxnqs.Backflow)
    # The checkpoint at iteration 2 holds the run before the backflow joined: resumed from
    # it, the run switches and repeats the same iterations exactly.
    again = tmp_path / "again"
    shutil.copytree(out, again)
    (again / "checkpoint.mpack").write_bytes(b"damaged")
    eqxnqs.run_vmc(config, again, resume=True, show_progress=False)
    log, log_again = (json.loads((f / "log.json").read_text()) for f in (out, again))
    assert log_again["Energy"]["Mean"] == log["Energy"]["Mean"]
    # Resumed after the switch: the run goes on with the backflow.
    seen.clear()
    eqxnqs.run_vmc(
        config.replace(n_iter=5), out, resume=True, show_progress=False, callbacks=[record]
    )
    assert seen == [(4, 4, [4])] and _iters(out) == [0, 1, 2, 3, 4]
    for ours, theirs in zip(_leaves(out / "model.eqx"), jax.tree.leaves(model), strict=True):
        assert ours.shape == np.shape(theirs)
