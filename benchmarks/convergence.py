"""Convergence study: does every seed reach the right energy?

    .venv/bin/python benchmarks/convergence.py helium                 # 10 seeds, defaults
    .venv/bin/python benchmarks/convergence.py gaussian --seeds 5
    .venv/bin/python benchmarks/convergence.py calogero-sutherland
    .venv/bin/python benchmarks/convergence.py helium --netket-example  # NetKet's settings
    .venv/bin/python benchmarks/convergence.py helium --set n_samples=2048 --set n_iter=80
    .venv/bin/python benchmarks/convergence.py helium --netket-reference 0 1  # NetKet's example

Each seed is one ``eqxnqs.run_vmc`` (the code path of ``eqxnqs run``) with
the given settings and that seed. Per seed the table gives the final E/N
with its error (from ``final_samples`` fresh samples, autocorrelation-aware:
NetKet's ``statistics``), the local-energy variance, R-hat, the acceptance,
the first iteration at which the running mean of 5 iterations reached the
threshold and the wall time to it, the total time, and the run's own
warnings. A seed succeeds when its final E/N is at or below the threshold
and it did not crash. With ``--netket-reference SEEDS`` the same table is
made for NetKet's own ``Examples/Continuous/Helium.py`` (NetKet's Flax model
and driver, the example's settings) in the same process, for a time-to-
solution comparison on the same machine.

The systems and their references:

- helium: 1D helium-4, N = 10, density 0.3/angstrom. Reference E/N = 5.31
  hbar^2/(m r_m^2), NetKet's example from its seed 0 (variational); the
  threshold is 5.34 (the issue's gate).
- gaussian: Gaussian bosons, 1D, N = 20, L = 20, V0 = 2, sigma = 1/sqrt(2)
  (NetKet's continuous-space tutorial): E = 24.742, E/N = 1.2371; threshold
  0.5 % above.
- calogero-sutherland: N = 10, L = 10, beta = 2: exact
  E0/N = (pi/L)^2 beta^2 (N^2 - 1) / 6 = 6.5144; threshold 0.5 % above.
"""

import argparse
import json
import math
import platform
import sys
import tempfile
import time

import numpy as np

import eqxnqs

SYSTEMS = {
    "helium": (dict(system="helium", n_particles=10, density=0.3), 5.34),
    "gaussian": (
        dict(
            system="gaussian",
            n_particles=20,
            box_length=20.0,
            v0=2.0,
            sigma=2**-0.5,
            cusp_exponent=None,
        ),
        24.742 / 20 * 1.005,
    ),
    "calogero-sutherland": (
        dict(
            system="calogero-sutherland", n_particles=10, box_length=10.0, beta=2.0, cusp_exponent=1
        ),
        eqxnqs.calogero_sutherland_energy(10, 10.0, 2.0) / 10 * 1.005,
    ),
}
RUNNING_MEAN = 5


class Timer:
    """NetKet callback recording the wall time after every iteration."""

    def __init__(self):
        self.start = time.perf_counter()
        self.times = []

    def __call__(self, step, log_data, driver):
        self.times.append(time.perf_counter() - self.start)
        return True


def first_reached(trace: np.ndarray, threshold: float) -> int | None:
    """First iteration at which the running mean of RUNNING_MEAN iterations is <= threshold."""
    if len(trace) < RUNNING_MEAN:
        return None
    running = np.convolve(trace, np.ones(RUNNING_MEAN) / RUNNING_MEAN, mode="valid")
    hits = np.nonzero(running <= threshold)[0]
    return None if hits.size == 0 else int(hits[0] + RUNNING_MEAN - 1)


def run_seed(config: eqxnqs.RunConfig, threshold: float) -> dict:
    timer = Timer()
    with tempfile.TemporaryDirectory() as out:
        try:
            results = eqxnqs.run_vmc(config, out, show_progress=False, callbacks=[timer])
        except Exception as error:  # a crash is a result of the study, not its end
            return {
                "seed": config.seed,
                "crashed": f"{type(error).__name__}: {error}"[:120],
                "total_s": time.perf_counter() - timer.start,
            }
        log = json.loads(open(f"{out}/log.json").read())
    mean = log["Energy"]["Mean"]
    trace = np.asarray(mean["real"] if isinstance(mean, dict) else mean)
    trace = trace / config.system.n_particles
    reached = first_reached(trace, threshold)
    energy = results.energy_per_particle
    return {
        "seed": config.seed,
        "mean": energy.mean,
        "error": energy.error,
        "variance": energy.variance,
        "r_hat": energy.r_hat,
        "acceptance": results.acceptance,
        "reached_at": reached,
        "time_to_reach_s": None if reached is None else timer.times[reached],
        "total_s": time.perf_counter() - timer.start,
        "warnings": list(results.warnings),
        "success": bool(energy.mean <= threshold),
    }


def netket_example_seed(seed: int, n_iter: int, threshold: float) -> dict:
    """NetKet's Examples/Continuous/Helium.py (N = 10) with `seed`, timed the same way."""
    import netket as nk
    import optax

    system = eqxnqs.helium_1d(10, 0.3)
    hilbert = system.hilbert
    hamiltonian = nk.operator.KineticEnergy(hilbert, mass=1.0) + system.hamiltonian.operators[1]
    sampler = nk.sampler.MetropolisGaussian(hilbert, sigma=0.05, n_chains=16, sweep_size=32)
    model = nk.models.DeepSetRelDistance(
        hilbert=hilbert,
        cusp_exponent=5,
        layers_phi=2,
        layers_rho=3,
        features_phi=(16, 16),
        features_rho=(16, 16, 1),
    )
    vstate = nk.vqs.MCState(
        sampler, model, n_samples=4096, n_discard_per_chain=128, seed=seed, sampler_seed=seed + 1
    )
    driver = nk.driver.VMC_SR(
        hamiltonian, optax.sgd(0.01), diag_shift=0.01, variational_state=vstate
    )
    timer, log = Timer(), nk.logging.RuntimeLog()
    crashed = None
    try:
        driver.run(n_iter, out=log, callback=timer, show_progress=False)
    except Exception as error:
        crashed = f"{type(error).__name__}: {error}"[:120]
    trace = np.real(np.asarray(log.data["Energy"]["Mean"])) / 10
    reached = first_reached(trace, threshold)
    last = trace[-10:]
    return {
        "seed": seed,
        "mean": float(np.mean(last)),
        "error": float(np.std(last) / math.sqrt(len(last))),
        "variance": float(np.real(np.asarray(log.data["Energy"]["Variance"])[-1])),
        "r_hat": float(np.asarray(log.data["Energy"]["R_hat"])[-1]),
        "acceptance": float(vstate.sampler_state.acceptance),
        "reached_at": reached,
        "time_to_reach_s": None if reached is None else timer.times[reached],
        "total_s": time.perf_counter() - timer.start,
        "warnings": [] if crashed is None else [crashed],
        "success": crashed is None and bool(np.mean(last) <= threshold),
        "crashed": crashed,
    }


def _value(text: str):
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return (
        None if text.lower() == "none" else {"true": True, "false": False}.get(text.lower(), text)
    )


def print_table(title: str, rows: list[dict], threshold: float) -> None:
    print(f"\n{title}")
    print(
        "| seed | E/N | error | variance | R-hat | acceptance | reached at | time to reach (s) "
        "| total (s) | warnings |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        if "mean" not in row:
            print(
                f"| {row['seed']} | crashed: {row['crashed']} |  |  |  |  |  |  | "
                f"{row['total_s']:.0f} |  |"
            )
            continue
        reached = "-" if row["reached_at"] is None else str(row["reached_at"])
        to_reach = "-" if row["time_to_reach_s"] is None else f"{row['time_to_reach_s']:.0f}"
        print(
            f"| {row['seed']} | {row['mean']:.4f} | {row['error']:.4f} | {row['variance']:.4g} "
            f"| {row['r_hat']:.3f} | {row['acceptance']:.2f} | {reached} | {to_reach} "
            f"| {row['total_s']:.0f} | {len(row['warnings'])} |"
        )
    successes = sum(row.get("success", False) for row in rows)
    finished = [row for row in rows if "mean" in row]
    times = [row["time_to_reach_s"] for row in finished if row["time_to_reach_s"] is not None]
    print(
        f"success (final E/N <= {threshold:.4f}): {successes}/{len(rows)}; "
        f"crashed: {len(rows) - len(finished)}; "
        f"median E/N {np.median([r['mean'] for r in finished]) if finished else float('nan'):.4f}; "
        f"median time to reach {np.median(times) if times else float('nan'):.0f} s "
        f"({len(times)} seeds reached)"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("system", choices=sorted(SYSTEMS))
    parser.add_argument("--seeds", type=int, default=10, help="number of seeds (0, 1, ...)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument(
        "--netket-example",
        action="store_true",
        help="eqxnqs with NetKet's example settings (configure(netket_example=True))",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a RunConfig setting (repeatable)",
    )
    parser.add_argument("--threshold", type=float, help="success threshold on E/N")
    parser.add_argument(
        "--compilation-cache",
        metavar="FOLDER",
        help="JAX's persistent compilation cache in FOLDER (default: none, as a library call)",
    )
    parser.add_argument(
        "--netket-reference",
        type=int,
        nargs="*",
        metavar="SEED",
        help="also run NetKet's own helium example for these seeds",
    )
    parser.add_argument("--json", help="write every row to this JSON file")
    args = parser.parse_args(argv)

    if args.compilation_cache:
        eqxnqs.enable_compilation_cache(args.compilation_cache)
    settings, threshold = SYSTEMS[args.system]
    threshold = args.threshold if args.threshold is not None else threshold
    settings = {**settings, **{k: _value(v) for k, v in (s.split("=", 1) for s in args.set)}}
    base = eqxnqs.configure(netket_example=args.netket_example, **settings)
    print(f"{platform.platform()}, {platform.machine()}; eqxnqs {eqxnqs.__version__}")
    print("settings:", {k: v for k, v in base.flat().items() if k != "seed"})
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        rows.append(run_seed(base.replace(seed=seed), threshold))
        print(json.dumps(rows[-1]), flush=True)
    print_table(f"eqxnqs, {args.system}", rows, threshold)
    reference_rows = []
    if args.netket_reference:
        if args.system != "helium":
            parser.error("--netket-reference runs NetKet's helium example; use it with helium.")
        for seed in args.netket_reference:
            reference_rows.append(netket_example_seed(seed, base.optimizer.n_iter, threshold))
            print(json.dumps(reference_rows[-1]), flush=True)
        print_table(
            "NetKet's Examples/Continuous/Helium.py (Flax model, its settings; E/N is "
            "the mean of the last 10 iterations)",
            reference_rows,
            threshold,
        )
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"eqxnqs": rows, "netket": reference_rows}, file, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
