"""The GPU benchmark: the speed table, the MPNN's kinetic energy and short 2D-helium runs.

    .venv/bin/python benchmarks/gpu.py --out gpu.md     # on the accelerator (~10 min on a GPU)
    .venv/bin/python benchmarks/gpu.py --quick          # small sizes: a smoke run on the CPU
    .venv/bin/python benchmarks/gpu.py --sections speed --out speed.md   # one section

On a leased machine with a time limit, run the sections one by one under
``timeout``: each table is written as it grows, so a stopped run keeps its rows.

One process, on JAX's default device (named in the table's first line):

1. the speed table of ``compare_netket.py`` (eqxnqs against NetKet's Flax
   DeepSetRelDistance on identical parameters and samples: forward pass,
   parameter Jacobian, local kinetic energy, sampling, ``expect_and_grad``
   and a ``VMC_SR`` iteration), up to N = 64 in 3D (64 and 256 samples),
   where the target on a GPU is a kinetic energy >= 100x NetKet's;
2. ``mpnn_kinetic.py``: the MPNN's local kinetic energy by eqxnqs, NetKet's
   Hessian and folx, at N = 30 in 2D;
3. 2D helium, N = 30 at 0.050 A^-2 in the reference's Hamiltonian and cell
   (``helium_frontier.py``'s case ``2d-0.050``): the DeepSet times the triplet
   factor (the command line's default), the MPNN at the reference's size
   (4 layers, width 8, 1 head, 512 samples) and the reference's own network
   (`eqxnqs.EdgeMPNN`, 4 layers, width 8, 512 samples), a few iterations
   each: seconds per iteration after the first (which compiles) and the last
   E/N.

The tables are printed and, with ``--out``, written as Markdown. Times to
-0.795 K need the long runs of ``helium_frontier.py``.
"""

import argparse
import contextlib
import io
import platform
import tempfile
import time
from pathlib import Path

import compare_netket
import jax
import mpnn_kinetic
import numpy as np
from convergence import Timer
from helium_frontier import ANSATZE, CASES

import eqxnqs

#: 2D helium runs: (label, settings added to the case, iterations).
HELIUM_RUNS = [
    ("DeepSet x triplet", ANSATZE["triplet"][0], 6),
    ("MPNN (reference size)", ANSATZE["mpnn"][0], 4),
    ("EdgeMPNN (Linteau et al.'s network and size)", ANSATZE["edge-mpnn"][0], 4),
]
#: The final estimate and observables, cut to what a time-per-iteration table needs.
SHORT_ENDING = dict(final_samples=4096, g1_samples=64, g1_points=4)
#: The same, small enough for a smoke run.
QUICK_SETTINGS = dict(
    n_particles=6,
    n_samples=32,
    n_chains=8,
    final_samples=64,
    g1_samples=8,
    g1_points=2,
    layers_phi=1,
    features_phi=(4,),
    layers_rho=1,
    features_rho=(1,),
    mpnn_features=4,
    mpnn_layers=1,
)


def device_line() -> str:
    device = jax.devices()[0]
    return (
        f"{jax.device_count()} x {device.device_kind} ({device.platform}); "
        f"{platform.processor() or platform.machine()}; jax {jax.__version__}, "
        f"eqxnqs {eqxnqs.__version__}"
    )


#: The CPU table's sizes, and N = 64 again at 256 samples: at 64 samples both codes took
#: about 3 ms or less per batch on an H200 (kernel launches, not arithmetic), and NetKet's
#: Hessians of 256 samples take about 50 GB, within one card.
GPU_SIZES = [*compare_netket.FULL, ((64, 3), 256)]


def speed_table(quick: bool, repeats: int, report: "Report") -> None:
    """Measure size by size; the table so far is written after each one."""
    results = {}
    for (n, dim), n_samples in compare_netket.QUICK if quick else GPU_SIZES:
        results[(n, dim, n_samples)] = compare_netket.measure(n, dim, n_samples, repeats)
        text = io.StringIO()
        with contextlib.redirect_stdout(text):
            compare_netket.print_table(results)
            compare_netket.print_growth(results)
        report.set("speed", "## Speed against NetKet (ms)\n\n" + text.getvalue())


def mpnn_table(quick: bool) -> str:
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        mpnn_kinetic.main(["--quick"] if quick else [])
    return text.getvalue()


def helium_rows(quick: bool) -> list[dict]:
    rows = []
    base, _ = CASES["2d-0.050"]
    for label, settings, n_iter in HELIUM_RUNS:
        config = eqxnqs.configure(
            **{
                **base,
                **settings,
                **SHORT_ENDING,
                **(QUICK_SETTINGS if quick else {}),
                "n_iter": n_iter,
            }
        )
        timer = Timer()
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            results = eqxnqs.run_vmc(config, Path(folder), show_progress=False, callbacks=[timer])
            total = time.perf_counter() - start
        energy = results.to_dict()["energy_per_particle"]
        rows.append(
            {
                "ansatz": label,
                "n_particles": config.system.n_particles,
                "n_samples": config.sampler.n_samples,
                "first_s": timer.times[0],
                "per_iteration_s": float(np.mean(np.diff(timer.times))),
                "total_s": total,
                "mean_K": energy["mean_kelvin"],
                "error_K": energy["error_kelvin"],
            }
        )
    return rows


def helium_table(rows: list[dict]) -> str:
    lines = [
        "| ansatz | N | samples | first iteration (s) | s / iteration after | whole run (s) "
        "| E/N at the end (K) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['ansatz']} | {row['n_particles']} | {row['n_samples']} "
            f"| {row['first_s']:.1f} | {row['per_iteration_s']:.2f} | {row['total_s']:.0f} "
            f"| {row['mean_K']:.4f} +- {row['error_K']:.4f} |"
        )
    return "\n".join(lines) + "\n"


#: The sections, in the order they run.
SECTIONS = ("speed", "helium", "mpnn")


class Report:
    """The report's sections so far, rewritten to `out` whenever one is added or grows.

    A run stopped by a time limit (as on a leased accelerator) keeps what it measured.
    """

    def __init__(self, out: Path | None):
        self.out = out
        self.sections = {"device": f"# eqxnqs on {device_line()}\n"}

    def set(self, name: str, text: str) -> None:
        self.sections[name] = text
        if self.out is not None:
            self.out.write_text(self.text())

    def text(self) -> str:
        return "\n".join(self.sections.values())


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, help="write the tables here (Markdown)")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated, from {', '.join(SECTIONS)} (default: all, in that order)",
    )
    args = parser.parse_args(argv)
    sections = args.sections.split(",")
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    repeats = 1 if args.quick else args.repeats
    report = Report(args.out)
    for name in SECTIONS:
        if name not in sections:
            continue
        if name == "speed":
            speed_table(args.quick, repeats, report)
        elif name == "helium":
            report.set(
                name,
                "## 2D helium, N = 30 at 0.050 A^-2 (reference Hamiltonian and cell)\n\n"
                "A few iterations each; the final estimate from "
                f"{(QUICK_SETTINGS if args.quick else SHORT_ENDING)['final_samples']} samples.\n\n"
                + helium_table(helium_rows(args.quick)),
            )
        else:
            report.set(
                name,
                "## The MPNN's local kinetic energy\n\n```\n" + mpnn_table(args.quick) + "```\n",
            )
    print(report.text())
    return report.text()


if __name__ == "__main__":
    main()
