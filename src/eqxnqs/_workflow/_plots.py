"""PNG figures of a VMC run.

Figures are built with `matplotlib.figure.Figure` directly, not through
pyplot, so writing them needs no display and importing eqxnqs leaves
matplotlib's backend (e.g. Jupyter's inline figures) as it was.
"""

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure


def plot_energy(path: Path, iters, mean, error, *, unit: str, reference=None) -> None:
    """Energy per particle against iteration, with one-sigma error bars."""
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    ax.errorbar(iters, mean, yerr=error, fmt=".", ms=3, elinewidth=0.8, label="VMC")
    if reference is not None:
        ax.axhline(reference, color="k", ls="--", lw=0.8, label="final estimate")
    ax.set_xlabel("iteration")
    ax.set_ylabel(f"E / N  [{unit}]")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def plot_pair_distribution(path: Path, r, g, *, length_unit: str) -> None:
    """Pair distribution g(r), with the ideal-gas value 1 for reference."""
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    ax.plot(r, g, "-o", ms=2)
    ax.axhline(1.0, color="k", ls=":", lw=0.8)
    ax.set_xlabel(f"r  [{length_unit}]")
    ax.set_ylabel("g(r)")
    ax.set_ylim(bottom=0.0, top=max(1.2, float(np.max(g)) * 1.1))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
