"""Sampling an MPNN with and without surrogate transitions, on a trained state.

    git clone https://github.com/cqsl/helium4-2d-nqs /path/to/theirs
    .venv/bin/python benchmarks/surrogate_sampling.py --reference /path/to/theirs

Linteau et al.'s trained state of 2D helium (N = 30, 0.050 A^-2; the file and
run configuration of ``benchmarks/linteau_state.py``) is sampled by the
single-particle sampler with ``surrogate="own"`` (a forward pass of the whole
network per move) and ``surrogate="fast-terms"`` (the McMillan factor proposes,
the network tests each segment of about N moves). For each: wall time per
sample (the best of `--repeats` samplings after one that compiles and
thermalises), the acceptance of the moves and of the segments, and the
integrated autocorrelation time tau (NetKet's, in samples) of the potential
energy and of log psi along the chains; then the cost of one independent
sample, time per sample times 1 + 2 tau. A trained state is the hard case
for surrogate transitions: a new network adds little to the McMillan factor,
and every segment passes.

    .venv/bin/python benchmarks/surrogate_sampling.py --run runs/he2d-0.050-backflow \
        --segment-moves 30 15 10 6

samples the wavefunction of a finished eqxnqs run with a surrogate (a backflow)
instead, one row per number of moves between the wavefunction's tests
(``segment_moves``; 0: the default), with the run's sampler settings and new
chains.
"""

import argparse
import sys
import time
from pathlib import Path

import jax
import netket as nk
import numpy as np
from linteau_state import SETTINGS, STATE

import eqxnqs
from eqxnqs._workflow._vmc_run import build_driver, build_model


def measure(config: eqxnqs.RunConfig, repeats: int) -> dict:
    """One row: `config`'s sampler on `config`'s model (see the module docstring)."""
    n_chains, per_chain = (
        config.sampler.n_chains,
        config.sampler.n_samples // config.sampler.n_chains,
    )
    system = config.build_system()
    model = build_model(config, system)
    vstate = build_driver(config, system, model).state
    jax.block_until_ready(vstate.sample())  # compiles and thermalises
    best = np.inf
    for _ in range(repeats):
        vstate.reset()
        start = time.perf_counter()
        samples = jax.block_until_ready(vstate.sample())
        best = min(best, time.perf_counter() - start)
    state = vstate.sampler_state
    chains = np.asarray(samples).reshape(n_chains, per_chain, -1)
    taus = {}
    for name, f in (("potential", system.potential), ("log_psi", model)):
        values = np.asarray(jax.vmap(jax.vmap(f))(chains))
        taus[name] = float(nk.stats.statistics(values).tau_corr)
    ms = 1e3 * best / (n_chains * per_chain)
    return {
        "surrogate": config.sampler.surrogate,
        "segment_moves": config.sampler.segment_moves,
        "ms_per_sample": ms,
        "acceptance": float(state.acceptance),
        "segment_acceptance": state.segment_acceptance,
        "tau": taus,
        "ms_per_independent_sample": ms * (1 + 2 * max(taus.values())),
    }


def run_configs(run: Path, segment_moves: list, n_chains: int, per_chain: int) -> list:
    """The configuration of the finished run in `run`, from its saved wavefunction, once
    per entry of `segment_moves` (0: the default, about N)."""
    config = eqxnqs.RunConfig.from_json_file(run / "config.json")
    settings = dict(init_from=str(run), n_chains=n_chains, n_samples=n_chains * per_chain)
    return [
        config.replace(**settings, n_discard_per_chain=32, segment_moves=moves or None)
        for moves in segment_moves
    ]


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--reference", type=Path, help="a clone of cqsl/helium4-2d-nqs")
    where.add_argument("--run", type=Path, help="a finished eqxnqs run with a surrogate")
    parser.add_argument("--segment-moves", type=int, nargs="+", default=[0])
    parser.add_argument("--n-chains", type=int, default=16)
    parser.add_argument("--per-chain", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    if args.run is not None:
        configs = run_configs(args.run, args.segment_moves, args.n_chains, args.per_chain)
    else:
        configs = [
            eqxnqs.configure(
                "helium-2d",
                **SETTINGS,
                init_from=str(args.reference / STATE),
                surrogate=surrogate,
                n_chains=args.n_chains,
                n_samples=args.n_chains * args.per_chain,
                n_discard_per_chain=32,
            )
            for surrogate in ("own", "fast-terms")
        ]
    print(
        "| surrogate | moves per segment | ms per sample | move acceptance | segment "
        "acceptance | tau of V | tau of log psi | ms per independent sample |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    rows = []
    for config in configs:
        row = measure(config, args.repeats)
        rows.append(row)
        segments = row["segment_acceptance"]
        print(
            f"| {row['surrogate']} | {row['segment_moves'] or 'about N'} "
            f"| {row['ms_per_sample']:.2f} | {row['acceptance']:.2f} "
            f"| {'-' if segments is None else f'{segments:.2f}'} "
            f"| {row['tau']['potential']:.2f} | {row['tau']['log_psi']:.2f} "
            f"| {row['ms_per_independent_sample']:.1f} |",
            flush=True,
        )
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
