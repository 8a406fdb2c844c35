"""PNG figures of a VMC run (matplotlib, no display needed)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_energy(path: Path, iters, mean, error, *, unit: str, reference=None) -> None:
    """Energy per particle against iteration, with one-sigma error bars."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(iters, mean, yerr=error, fmt=".", ms=3, elinewidth=0.8, label="VMC")
    if reference is not None:
        ax.axhline(reference, color="k", ls="--", lw=0.8, label="final estimate")
    ax.set_xlabel("iteration")
    ax.set_ylabel(f"E / N  [{unit}]")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_pair_distribution(path: Path, r, g, *, length_unit: str) -> None:
    """Pair distribution g(r), with the ideal-gas value 1 for reference."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(r, g, "-o", ms=2)
    ax.axhline(1.0, color="k", ls=":", lw=0.8)
    ax.set_xlabel(f"r  [{length_unit}]")
    ax.set_ylabel("g(r)")
    ax.set_ylim(bottom=0.0, top=max(1.2, float(np.max(g)) * 1.1))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
