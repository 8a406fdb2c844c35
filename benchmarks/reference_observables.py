"""S(k), n(k) and n0 of a run beside Linteau et al.'s, for 2D helium at N = 30, 0.050 A^-2.

    git clone https://github.com/cqsl/helium4-2d-nqs /path/to/theirs
    .venv/bin/python benchmarks/reference_observables.py runs/he2d --reference /path/to/theirs

Reads the run's ``results.json`` (``eqxnqs run helium-2d --n-particles 30
--density 0.050 --cell triangular --truncation shifted ...``) and the
reference's ten files of each observable (their ``figures/...``; their data
are not copied here), prints both on common shells of |k| and draws
``reference_observables.png`` in the run folder.

Normalisations, worked out from both codes:

- S(k) = (1/N) <|rho_k|^2>, rho_k = sum_j exp(-i k.x_j), on the reciprocal
  lattice k = 2 pi (n_x / L_x, n_y / L_y), in both (-> 1 at large k). Theirs is
  given per vector on the grid |n_a| <= 12, k = 0 (where it is N) included;
  shells of equal |k| (k = 0 left out) are averaged here, and the spread of
  their ten estimates gives their error.
- n(k): eqxnqs gives occupation numbers, sum_k n(k) = N, n(0) = N n0, from g1 on
  a grid of displacements. Their files hold the Fourier integral of g1,
  int d^2r g1(r) exp(i k.r), a Monte Carlo average of psi(x + r) / psi(x)
  exp(i k.r) over uniform r (``num_x`` = 100 per sample) times the cell
  area; their plotting code divides it by the area, L_x L_y, "to compute
  n_k = N_k / N", so that n(0) = n0. Both are compared as N_k / N: ours
  divided by N, theirs by the area.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import eqxnqs

DATA = {
    "S": "figures/energy_vs_density_extrapolated/structure_factor_data/N=30/"
    "density=0.050_branch=liquid/structure_factor_he4_N=30_d=2_density=0.050_bt=4_ld=8_nf=8_"
    "hd=1_branch=liquid_v{}.npz",
    "n": "figures/condensate_fraction_and_momentum_distribution/momentum_distribution_data/"
    "N=30/density=0.050/momentum_distribution_he4_N=30_d=2_density=0.050_bt=4_ld=8_nf=8_hd=1_"
    "branch=liquid_v{}.npz",
}


def shells(ks: np.ndarray, values: np.ndarray, decimals: int = 8):
    """Mean of `values` over the vectors of each shell of equal |k| (k = 0 kept)."""
    norms = np.round(np.linalg.norm(ks, axis=-1), decimals)
    unique = np.unique(norms)
    return unique, np.array([values[norms == k].mean() for k in unique])


def reference(root: Path, which: str):
    """|k| shells (1 / r_m) and the mean and error over the reference's ten files, as
    S(k) (k = 0 left out) or N_k / N (module docstring)."""
    curves = []
    for version in range(1, 11):
        data = np.load(root / DATA[which].format(version))
        k, value = shells(np.asarray(data["ks"]), np.real(np.asarray(data["estimators"])))
        curves.append(value / np.prod(data["L"]) if which == "n" else value)
    curves = np.asarray(curves)
    keep = slice(1, None) if which == "S" else slice(None)
    return k[keep], curves.mean(0)[keep], curves.std(0, ddof=1)[keep] / np.sqrt(len(curves))


def _shell_means(momenta: dict, n_particles: int):
    """Our n(k), listed per vector, as shells of |k| in N_k / N (errors: the largest of
    the shell's vectors, as they are correlated)."""
    k = np.round(np.asarray(momenta["k"]), 8)
    value, error = np.asarray(momenta["n"]), np.asarray(momenta["error"])
    unique = np.unique(k)
    return (
        unique,
        np.array([value[k == q].mean() for q in unique]) / n_particles,
        np.array([error[k == q].max() for q in unique]) / n_particles,
    )


def compare(run: Path, root: Path) -> dict:
    results = json.loads((run / "results.json").read_text())
    n = results["n_particles"]
    ours = {
        "S": [np.asarray(results["structure_factor"][key]) for key in ("k", "S", "error")],
        "n": _shell_means(results["momentum_distribution"], n),
    }
    theirs = {which: reference(root, which) for which in ("S", "n")}
    n0 = results["condensate_fraction"]
    k0 = int(np.argmin(theirs["n"][0]))  # their n(0) = n0
    return {
        "ours": ours,
        "theirs": theirs,
        "n0": (n0["mean"], n0["error"], theirs["n"][1][k0], theirs["n"][2][k0]),
    }


def _plot(path: Path, table: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per_angstrom = 1 / eqxnqs.R_M_ANGSTROM
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for axis, which, label in ((axes[0], "S", "S(k)"), (axes[1], "n", "n(k) = N_k / N")):
        k, value, error = table["theirs"][which]
        axis.errorbar(k * per_angstrom, value, error, fmt="o", ms=3, label="Linteau et al.")
        k, value, error = table["ours"][which]
        axis.errorbar(k * per_angstrom, value, error, fmt="s", ms=3, mfc="none", label="eqxnqs")
        axis.set_xlabel("|k| (1/angstrom)")
        axis.set_ylabel(label)
    axes[1].set_yscale("log")
    axes[0].legend()
    fig.suptitle("2D helium-4, N = 30, 0.050 A^-2")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="a finished run folder (results.json)")
    parser.add_argument("--reference", type=Path, required=True, help="a clone of their repo")
    args = parser.parse_args(argv)
    table = compare(args.run, args.reference)
    for which in ("S", "n"):
        print(f"# {which}(k): |k| (1/A) | Linteau et al. | eqxnqs")
        k_ref, v_ref, e_ref = table["theirs"][which]
        k, v, e = table["ours"][which]
        for kk, vv, ee in zip(k_ref, v_ref, e_ref):
            near = np.argmin(np.abs(k - kk))
            ours = f"{v[near]:.4f} +- {e[near]:.4f}" if abs(k[near] - kk) < 1e-6 else "-"
            print(f"{kk / eqxnqs.R_M_ANGSTROM:.4f} | {vv:.4f} +- {ee:.4f} | {ours}")
    ours_n0, ours_error, their_n0, their_error = table["n0"]
    print(f"n0: eqxnqs {ours_n0:.4f} +- {ours_error:.4f}, Linteau et al. {their_n0:.4f} +- "
          f"{their_error:.4f}")  # fmt: skip
    _plot(args.run / "reference_observables.png", table)
    return table


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
