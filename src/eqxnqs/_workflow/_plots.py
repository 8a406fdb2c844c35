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


def plot_structure_factor(path: Path, k, s, error, *, length_unit: str, luttinger=None) -> None:
    """S(k) with one-sigma error bars; in 1D the small-k line ``K |k| / (2 pi rho)``.

    `luttinger` is ``(K, rho)`` or `None`.
    """
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    ax.errorbar(k, s, yerr=error, fmt="-o", ms=2, elinewidth=0.8, label="VMC")
    ax.axhline(1.0, color="k", ls=":", lw=0.8)
    if luttinger is not None:
        kappa, density = luttinger
        small = np.asarray(k)[: max(2, len(k) // 4)]
        ax.plot(
            small,
            kappa * small / (2 * np.pi * density),
            "--",
            lw=0.8,
            label=f"K |k| / (2 pi rho), K = {kappa:.3f}",
        )
    ax.set_xlabel(f"|k|  [1/{length_unit}]")
    ax.set_ylabel("S(k)")
    ax.set_ylim(bottom=0.0)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def plot_one_body_density_matrix(
    path: Path, r, g1, error, *, length_unit: str, condensate_fraction: float
) -> None:
    """g1(r) with one-sigma error bars and the condensate fraction n0 as a line."""
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    ax.errorbar(r, g1, yerr=error, fmt="-o", ms=2, elinewidth=0.8, label="VMC")
    ax.axhline(
        condensate_fraction, color="k", ls="--", lw=0.8, label=f"n0 = {condensate_fraction:.3f}"
    )
    ax.set_xlabel(f"r  [{length_unit}]")
    ax.set_ylabel("g1(r)")
    ax.set_ylim(bottom=0.0, top=1.05)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
