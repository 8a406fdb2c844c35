"""A run over two JAX processes (two "hosts" on localhost): killed, resumed, and right."""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import numpy as np
from xla_flags import FAST_COMPILATION

from eqxnqs._workflow._cli import main

SCRIPT = pathlib.Path(__file__).with_name("multihost_run.py")
N_ITER = 4
ARGS = [
    "run", "helium", "--n-particles", "4", "--features-phi", "4", "--layers-rho", "2",
    "--features-rho", "4", "1", "--n-samples", "64", "--n-chains", "8",
    "--n-discard-per-chain", "16", "--final-samples", "256", "--g1-samples", "8",
    "--g1-points", "2", "--n-iter", str(N_ITER), "--checkpoint-every", "2", "--no-progress",
]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


def _start(out: pathlib.Path, log: pathlib.Path) -> list[subprocess.Popen]:
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_PLATFORMS")}
    env["XLA_FLAGS"] = FAST_COMPILATION
    port = str(_free_port())
    command = [sys.executable, str(SCRIPT)]
    return [
        subprocess.Popen(
            [*command, str(process), port, *ARGS, "--out", str(out), "--resume"],
            env=env,
            stdout=open(log.with_suffix(f".{process}.out"), "w"),
            stderr=subprocess.STDOUT,
        )
        for process in (0, 1)
    ]


def _iterations(out: pathlib.Path) -> list[int]:
    try:
        return json.loads((out / "log.json").read_text())["Energy"]["iters"]
    except (OSError, ValueError, KeyError):
        return []


def _printed(log: pathlib.Path) -> str:
    return "\n".join(
        f"process {process}: ...{log.with_suffix(f'.{process}.out').read_text()[-1500:]}"
        for process in (0, 1)
    )


def test_a_two_process_run_killed_and_resumed_logs_each_iteration_once_and_agrees(tmp_path):
    out = tmp_path / "two-hosts"
    processes = _start(out, tmp_path / "first")
    try:
        deadline = time.time() + 400
        while not (out / "checkpoint.mpack").exists():  # iteration 2's (after its log)
            running = all(p.poll() is None for p in processes)
            assert time.time() < deadline and running, _printed(tmp_path / "first")
            time.sleep(0.2)
        processes[1].send_signal(signal.SIGKILL)  # one host dies ...
        time.sleep(2.0)
    finally:
        for process in processes:  # ... and the job with it, as a scheduler would end it
            process.kill()
            process.wait(timeout=60)
    assert processes[1].returncode == -signal.SIGKILL
    assert not (out / "results.json").exists() and 2 <= len(_iterations(out)) < N_ITER

    processes = _start(out, tmp_path / "second")
    for process in processes:
        process.wait(timeout=400)
    printed = (tmp_path / "second.0.out").read_text()
    assert [p.returncode for p in processes] == [0, 0], _printed(tmp_path / "second")
    assert "Resuming" in printed and "E/N = " in printed
    assert "E/N = " not in (tmp_path / "second.1.out").read_text()  # process 0 reports
    assert _iterations(out) == list(range(N_ITER))  # every iteration logged exactly once
    two_hosts = json.loads((out / "results.json").read_text())["energy_per_particle"]

    # One process, the same seeds: the same physics within statistical error.
    single = tmp_path / "one-host"
    assert main([*ARGS, "--out", str(single)]) == 0
    one_host = json.loads((single / "results.json").read_text())["energy_per_particle"]
    bound = 5 * np.hypot(two_hosts["error"], one_host["error"])
    assert abs(two_hosts["mean"] - one_host["mean"]) < bound, (two_hosts, one_host)
