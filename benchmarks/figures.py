"""Figures of the documentation's Results page, from the folders of finished runs.

    python benchmarks/figures.py --title "2D helium" --reference -0.8974 \\
        --out docs/figures/helium_2d.png runs/a runs/b runs/c

Plots E/N in kelvin against the iteration for each run (its ``log.json``),
with each run's final estimate (``results.json``) and the reference.
"""

import argparse
import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import eqxnqs


def trace_kelvin(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Iterations and E/N in kelvin of a run's log."""
    log = json.loads((folder / "log.json").read_text())
    n = json.loads((folder / "config.json").read_text())
    n = n["system"]["n_particles"] if "format" in n else n["n_particles"]
    mean = log["Energy"]["Mean"]
    energies = np.asarray(mean["real"] if isinstance(mean, dict) else mean)
    return np.asarray(log["Energy"]["iters"]), energies / n * eqxnqs.KELVIN_PER_UNIT


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders")
    parser.add_argument("--out", type=Path, required=True, help="the PNG to write")
    parser.add_argument("--title", default="")
    parser.add_argument("--reference", type=float, help="reference E/N in kelvin")
    parser.add_argument("--labels", nargs="*", help="one label per run (default: folder names)")
    parser.add_argument("--ylim", nargs=2, type=float, help="lower and upper E/N shown")
    args = parser.parse_args(argv)
    figure = Figure(figsize=(6, 4), layout="constrained")
    ax = figure.add_subplot()
    for index, folder in enumerate(args.runs):
        label = args.labels[index] if args.labels else folder.name
        iterations, energy = trace_kelvin(folder)
        (line,) = ax.plot(iterations, energy, lw=0.8, label=label)
        results = folder / "results.json"
        if results.exists():
            final = json.loads(results.read_text())["energy_per_particle"]
            ax.axhline(final["mean_kelvin"], color=line.get_color(), ls=":", lw=0.8)
    if args.reference is not None:
        ax.axhline(args.reference, color="k", ls="--", lw=1.0, label="reference")
    if args.ylim:
        ax.set_ylim(*args.ylim)
    ax.set_xlabel("iteration")
    ax.set_ylabel("E / N  [K]")
    ax.set_title(args.title)
    ax.legend(fontsize=8)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=120)


if __name__ == "__main__":
    main()
