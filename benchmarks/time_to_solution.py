"""Time to solution against NetKet's helium example, with a cold and a warm compilation cache.

    .venv/bin/python benchmarks/time_to_solution.py --seeds 10

Each of eqxnqs's seeds runs in a fresh process (`benchmarks/convergence.py
helium --seeds 1 --first-seed S`, the command line's defaults), twice: with
an empty persistent compilation cache (cold: everything is compiled) and
with the cache that the cold run filled (warm: the second run of a user).
NetKet's `Examples/Continuous/Helium.py` runs from its seed 0 (the seed that
converges) in a fresh process too. The time to solution is the wall time
from the start of a run to the iteration at which the running mean of 5
iterations first reaches E/N <= 5.34; the final E/N of each run is printed
beside it. Every run is timed the same way in its own process, on the same
machine, one after the other.
"""

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def _run(arguments: list[str]) -> dict:
    command = [sys.executable, str(HERE / "convergence.py"), "helium", *arguments]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return rows[-1]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--netket-seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    settings = [word for pair in args.set for word in ("--set", pair)]
    print(f"{platform.platform()}, {platform.machine()}", flush=True)
    netket = _run(["--seeds", "0", "--netket-reference", str(args.netket_seed), *settings])
    print("netket", json.dumps(netket), flush=True)
    rows = {"cold": [], "warm": []}
    for seed in range(args.seeds):
        cache = Path(tempfile.mkdtemp(prefix="eqxnqs-tts-cache-"))
        try:
            for kind in ("cold", "warm"):
                row = _run(
                    ["--seeds", "1", "--first-seed", str(seed), "--compilation-cache", str(cache)]
                    + settings
                )
                rows[kind].append(row)
                print(kind, json.dumps(row), flush=True)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    reference = netket["time_to_reach_s"]
    print(f"\nNetKet's example, seed {args.netket_seed}: reached 5.34 after {reference:.1f} s "
          f"(iteration {netket['reached_at']}), final E/N {netket['mean']:.4f}")  # fmt: skip
    print("| cache | seeds reaching 5.34 | median time (s) | range (s) | median speed-up "
          "| median final E/N |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- |")
    summary = {"netket": netket}
    for kind, found in rows.items():
        times = [r["time_to_reach_s"] for r in found if r.get("time_to_reach_s") is not None]
        median = float(np.median(times)) if times else float("nan")
        summary[kind] = {"rows": found, "median_s": median, "speed_up": reference / median}
        print(
            f"| {kind} | {len(times)}/{len(found)} | {median:.1f} | "
            f"{min(times, default=float('nan')):.1f}-{max(times, default=float('nan')):.1f} | "
            f"{reference / median:.2f}x | {np.median([r['mean'] for r in found]):.4f} |"
        )
    return summary


if __name__ == "__main__":
    main()
