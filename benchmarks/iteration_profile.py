"""Where one VMC iteration's time goes: sampling, local energies, SR update.

    .venv/bin/python benchmarks/iteration_profile.py                        # the table below
    .venv/bin/python benchmarks/iteration_profile.py --only mpnn-reference
    .venv/bin/python benchmarks/iteration_profile.py --set n_samples=1024  # for every row

Each row is a run configuration (``eqxnqs.RunConfig``) of 2D helium, N = 30
at 0.050 A^-2 in the reference cell (Linteau et al.), built as ``eqxnqs
run`` builds it, on a state after `--warmup` iterations (so that the sampler's
width has adapted). For each part the best of `--repeats` calls, after one
call that compiles:

- sampling: ``vstate.sample()`` (the chains' discarded and kept sweeps);
- local energies: ``vstate.local_estimators(hamiltonian)`` (kinetic and
  potential energy of every sample);
- update: the driver's whole ``compute_loss_and_update`` (local energies
  again, the SR solve, the trust region); SR is this minus the local energies.

Their sum is one iteration less NetKet's bookkeeping.
"""

import argparse
import json
import platform
import sys
import time

import jax

import eqxnqs
from eqxnqs._workflow._vmc_run import build_driver, build_model

REFERENCE_SYSTEM = dict(
    system="helium-2d", n_particles=30, density=0.050, cell="triangular", truncation="shifted"
)
#: The reference's network size: 4 layers of width 8; 512 samples, 16 chains.
REFERENCE_SIZE = dict(mpnn_features=8, mpnn_layers=4, n_samples=512, n_chains=16)
ROWS = {
    "triplet": dict(three_body=True, backflow=False),
    "triplet-backflow": dict(three_body=True, backflow=True),
    "mpnn-reference": dict(model="mpnn", mpnn_heads=1, **REFERENCE_SIZE),
    # Linteau et al.'s own network (eqxnqs.EdgeMPNN) at their size.
    "edge-mpnn-reference": dict(model="edge-mpnn", **REFERENCE_SIZE),
    # Moves proposed by the McMillan factor (and triplet), one forward pass per segment.
    "mpnn-reference-fast-terms": dict(
        model="mpnn", mpnn_heads=1, **REFERENCE_SIZE, surrogate="fast-terms"
    ),
    "edge-mpnn-reference-fast-terms": dict(
        model="edge-mpnn", **REFERENCE_SIZE, surrogate="fast-terms"
    ),
    "mpnn-reference-all-particle": dict(
        model="mpnn",
        mpnn_heads=1,
        **REFERENCE_SIZE,
        sampler="gaussian",
        sampler_sigma=0.05,
        sweep_size=64,
    ),
}


def _best(fn, repeats: int) -> float:
    jax.block_until_ready(fn())  # compiles
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return min(times)


def profile(config: eqxnqs.RunConfig, *, warmup: int, repeats: int) -> dict:
    """Seconds per part of one iteration of `config` (see the module docstring)."""
    system = config.build_system()
    driver = build_driver(config, system, build_model(config, system))
    if warmup:
        driver.run(warmup, show_progress=False)
    vstate = driver.state
    sampling = _best(vstate.sample, repeats)
    local = _best(lambda: vstate.local_estimators(system.hamiltonian), repeats)
    update = _best(lambda: driver.compute_loss_and_update()[1], repeats)
    return {
        "n_parameters": vstate.n_parameters,
        "n_samples": vstate.n_samples,
        "sampling_s": sampling,
        "local_energies_s": local,
        "sr_s": max(update - local, 0.0),
        "iteration_s": sampling + update,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", choices=tuple(ROWS), default=list(ROWS))
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--n-particles", type=int, default=30)
    args = parser.parse_args(argv)
    settings = {}
    for text in args.set:
        name, _, value = text.partition("=")
        settings[name] = json.loads(value)
    print(
        f"# helium 2D, N = {args.n_particles}, 0.050 A^-2 (reference cell); "
        f"{platform.machine()}, jax {jax.__version__}, {jax.devices()[0].platform}"
    )
    print("| ansatz | parameters | samples | sampling (s) | local energies (s) | SR (s) "
          "| iteration (s) |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- |")
    results = {}
    for name in args.only:
        config = eqxnqs.configure(
            **{**REFERENCE_SYSTEM, "n_particles": args.n_particles, **ROWS[name], **settings}
        )
        row = profile(config, warmup=args.warmup, repeats=args.repeats)
        results[name] = {**row, "config": config.to_dict()}
        print(
            f"| {name} | {row['n_parameters']} | {row['n_samples']} | {row['sampling_s']:.2f} "
            f"| {row['local_energies_s']:.2f} | {row['sr_s']:.2f} | {row['iteration_s']:.2f} |",
            flush=True,
        )
    return results


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
