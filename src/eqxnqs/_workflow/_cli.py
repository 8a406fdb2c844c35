"""Command line: ``eqxnqs run helium --n-particles 10 --n-iter 300 --out runs/he10``."""

import argparse
import dataclasses
import importlib.metadata
import re
import sys

from .._models._pooling import POOLINGS
from .._models._rel_distance import RHO_READOUTS
from .._netket._single_particle_sampler import START_CHOICES
from ._run_config import (
    DRIVERS,
    NETKET_EXAMPLE,
    OPTIMIZERS,
    SAMPLERS,
    SYSTEMS,
    ConfigError,
    RunConfig,
)

# The declared defaults, not a RunConfig() instance: an instance has already resolved
# the per-system and per-model ones (density, cusp, SR settings) for the ring.
DECLARED = {field.name: field.default for field in dataclasses.fields(RunConfig)}
# The system is a positional argument, not an option.
FIELDS = tuple(field.name for field in dataclasses.fields(RunConfig) if field.name != "system")


def in_command_line_words(message: str) -> str:
    """A library message with its settings named as options (``n_iter`` -> ``--n-iter``)."""
    message = message.replace("resume=True", "--resume").replace("out folder", "--out folder")
    message = re.sub(r"\bNone\b", "none", message)
    names = "|".join(sorted(FIELDS, key=len, reverse=True))
    return re.sub(
        rf"(?<![\w-])({names})(?![\w-])",
        lambda match: "--" + match.group(1).replace("_", "-"),
        message,
    )


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"eqxnqs: error: {message}\n")


def _optional_int(text: str) -> int | None:
    return None if text.lower() == "none" else int(text)


def _cusp_exponent(text: str) -> int | str | None:
    return "auto" if text == "auto" else _optional_int(text)


def _optional_str(text: str) -> str | None:
    return None if text.lower() == "none" else text


def _optional_float(text: str) -> float | None:
    return None if text.lower() == "none" else float(text)


def _optional_bool(text: str) -> bool | None:
    words = {"none": None, "true": True, "false": False}
    if text.lower() not in words:
        raise argparse.ArgumentTypeError(f"expected true, false or none; got {text!r}")
    return words[text.lower()]


def _optional_float_or_auto(text: str) -> float | str | None:
    return "auto" if text.lower() == "auto" else _optional_float(text)


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="eqxnqs", description=__doc__)
    parser.add_argument(
        "--version", action="version", version=f"eqxnqs {importlib.metadata.version('eqxnqs')}"
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    run = commands.add_parser(
        "run",
        help="run (or resume) a VMC optimisation",
        description="Variational Monte Carlo of bosons in a periodic box (DeepSet or MPNN "
        "wavefunctions) in NetKet.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    run.add_argument("system", help=f"one of {', '.join(SYSTEMS)}")
    run.add_argument("--out", required=True, help="output folder (one run per folder)")
    run.add_argument("--resume", action="store_true", help="continue the run in --out")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    run.add_argument(
        "--compilation-cache",
        metavar="FOLDER",
        help="folder of JAX's persistent compilation cache, so that a repeated or resumed "
        "run compiles nothing again, or 'none' (default: $EQXNQS_COMPILATION_CACHE, else "
        "~/.cache/eqxnqs/jax)",
    )

    def option(group, name, type_, help_, **kwargs):
        field = name.replace("-", "_")
        kwargs.setdefault("default", DECLARED[field])
        group.add_argument(f"--{name}", type=type_, help=help_, **kwargs)

    group = run.add_argument_group("system")
    option(group, "n-particles", int, "number of particles N")
    option(
        group,
        "density",
        float,
        "helium: density in 1/angstrom^dim (default: 0.3 on the ring, the equilibrium "
        "density 0.04344 for helium-2d and 0.02186 for helium-3d)",
    )
    option(
        group,
        "cell",
        str,
        "helium-2d/3d: square (a square or cube), or triangular (2D: the rectangle of "
        "a triangular lattice of N = 2 Mx My atoms, as Linteau et al.)",
    )
    option(group, "potential", str, "helium-2d/3d: hfdhe2 (Aziz 1979) or hfd-b (Aziz 1987)")
    option(
        group,
        "truncation",
        str,
        "helium-2d/3d: the potential is cut at half the shortest side with its tail added "
        "(plain), and also shifted by -V(r_c) with the shift's mean added (shifted)",
    )
    option(group, "dim", int, "gaussian: spatial dimension D (1, 2 or 3)")
    option(group, "box-length", float, "gaussian: box side in every direction")
    option(group, "v0", float, "gaussian: interaction strength V0")
    option(group, "sigma", float, "gaussian: interaction range sigma")
    option(
        group, "beta", float, "calogero-sutherland: exponent beta >= 1 (ring length: --box-length)"
    )
    group = run.add_argument_group("model")
    option(
        group,
        "model",
        str,
        "deepset (DeepSetRelDistance) or mpnn (message passing with attention, "
        "times a McMillan cusp factor of exponent --cusp-exponent)",
    )
    option(group, "mpnn-features", int, "mpnn: width of the node and edge states")
    option(group, "mpnn-layers", int, "mpnn: message-passing layers")
    option(group, "mpnn-heads", int, "mpnn: attention heads")
    option(group, "layers-phi", int, "number of phi layers")
    option(group, "features-phi", int, "phi widths (one repeats)", nargs="+")
    option(group, "layers-rho", int, "number of rho layers")
    option(group, "features-rho", int, "rho widths ending in 1 (one repeats, then 1)", nargs="+")
    option(
        group,
        "cusp-exponent",
        _cusp_exponent,
        "Kato cusp exponent, 'none', or 'auto' (5 for helium, 1 for "
        "calogero-sutherland, none for gaussian)",
    )
    option(
        group,
        "cusp-init",
        float,
        "starting cusp as McMillan's length b (log psi ~ -1/2 (b/r)^k at contact); "
        "default: the model's own (helium-2d/3d: 1 r_m)",
    )
    option(group, "activation", str, "hidden activation (a jax.nn function)")
    option(group, "output-activation", _optional_str, "output activation, or 'none'")
    option(group, "pooling", str, f"one of {', '.join(POOLINGS)}")
    option(
        group,
        "rho-readout",
        str,
        f"one of {', '.join(RHO_READOUTS)}: rho's last declared layer is "
        "its linear output, or NetKet's layers (an activated width-1 layer, then 1 -> 1)",
    )
    option(
        group,
        "input-scale",
        float,
        "phi's input is input-scale * (d/L)^2 (4: it spans [0, 1]; NetKet: 1)",
    )
    option(
        group,
        "jastrow",
        _optional_str,
        "multiply the DeepSet by a Jastrow factor: "
        "mcmillan (-1/2 sum (b/|d|)^5), power-law (beta sum log|d|), or none",
    )
    option(
        group, "jastrow-init", float, "starting b (mcmillan, in length units) or beta (power-law)"
    )
    group.add_argument(
        "--three-body",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="multiply by the triplet factor of Schmidt et al. (learnable, starts at 1); "
        "default: on for helium-2d and helium-3d",
    )
    group.add_argument(
        "--backflow",
        action="store_true",
        help="evaluate the wavefunction at backflow coordinates q_i = x_i + sum_j "
        "eta(|d_ij|) s_ij, eta a learned MLP starting at zero",
    )
    option(
        group,
        "init-from",
        _optional_str,
        "start from the parameters of a saved model (model.eqx, or a run folder): "
        "the same model at any N, or the one inside --backflow",
    )
    group.add_argument("--no-bias", action="store_true", help="dense layers without bias")
    group.add_argument(
        "--linear-cusp",
        action="store_true",
        help="learn the cusp b itself, as NetKet (default: c with b = softplus(c) > 0)",
    )
    group.add_argument(
        "--random-readout",
        action="store_true",
        help="draw rho's last weight at random like NetKet (default: zero, so "
        "log psi starts as the cusp term alone)",
    )
    group = run.add_argument_group("sampling")
    option(
        group,
        "sampler",
        str,
        f"one of {SAMPLERS}: move all particles (NetKet's "
        "MetropolisGaussian) or one per proposal (O(N) per proposal for the DeepSet)",
    )
    option(
        group, "sampler-sigma", float, "Gaussian step size per coordinate (the start, when adapted)"
    )
    option(
        group,
        "target-acceptance",
        _optional_float,
        "adapt the step size before every "
        "sampling towards this acceptance rate, or 'none' to keep sampler-sigma",
    )
    option(group, "n-chains", int, "number of Markov chains")
    option(group, "sweep-size", _optional_int, "moves per sample (none: N*D)")
    option(group, "chain-start", str, f"one of {', '.join(START_CHOICES)}: where the chains begin")
    option(group, "n-samples", int, "samples per iteration")
    option(group, "n-discard-per-chain", int, "thermalisation samples discarded per chain")
    option(group, "chunk-size", _optional_int, "NetKet chunk size (memory bound), or 'none'")
    group = run.add_argument_group("optimisation")
    option(group, "driver", str, f"one of {DRIVERS}")
    option(group, "optimizer", str, f"one of {OPTIMIZERS} (optax)")
    option(group, "learning-rate", float, "optimiser learning rate")
    option(
        group,
        "learning-rate-end",
        _optional_float,
        "learning rate at the last iteration, reached geometrically, or 'none' (constant)",
    )
    option(
        group,
        "diag-shift",
        float,
        "SR diagonal shift (vmc_sr); default 0.01, 0.1 with --model mpnn or helium-3d",
    )
    option(
        group,
        "diag-shift-end",
        _optional_float,
        "diagonal shift at the last iteration, reached geometrically, or 'none' (constant)",
    )
    option(
        group,
        "use-ntk",
        _optional_bool,
        "SR in sample space (MinSR): true, false, or 'none' (NetKet's choice: when the "
        "parameters outnumber the samples)",
    )
    option(group, "momentum", _optional_float, "SPRING's momentum in [0, 1) (needs --use-ntk true)")
    option(
        group,
        "clip-local-energy",
        _optional_float,
        "clip local energies to median +- this "
        "many mean absolute deviations in the gradient only (vmc_sr), or 'none'",
    )
    option(
        group,
        "max-norm",
        _optional_float_or_auto,
        "trust region: scale SR updates dp down to "
        "sqrt(dp^T S dp) <= this (vmc_sr; with sgd, log psi changes by at most "
        "learning-rate * max-norm per step), 'none', or 'auto' (100; 10 with --model mpnn "
        "or helium-3d)",
    )
    option(group, "n-iter", int, "total number of iterations")
    option(group, "seed", int, "seed of parameters and sampler")
    option(group, "checkpoint-every", int, "iterations between checkpoints")
    option(group, "g-r-bins", int, "bins of the pair distribution g(r)")
    option(
        group,
        "g1-samples",
        int,
        "final samples used for g1(r), n(k) and the condensate fraction "
        "(default: 1024; with --model mpnn or --backflow, --n-chains but at least 64)",
    )
    option(
        group,
        "g1-points",
        _optional_int,
        "displacements per axis for g1(r) and n(k) (none: 32 in 1D, 12 in 2D, 8 in 3D)",
    )
    option(group, "final-samples", int, "fresh samples for the final energy estimate")
    group.add_argument(
        "--netket-example",
        action="store_true",
        help="start from the settings of NetKet's helium example (NetKet's rho "
        "layers and input (d/L)^2, random readout, all-particle moves, sigma 0.05, 16 "
        "chains, sweep "
        "32, uniform start, fixed step, 4096 samples, 128 discarded, linear cusp, no "
        "clipping, no trust region); options "
        "given explicitly still apply",
    )
    return parser


def config_from_args(args, argv=None) -> RunConfig:
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    values = {k: v for k, v in vars(args).items() if k in fields}
    values["use_bias"] = not args.no_bias
    values["zero_readout"] = not args.random_readout
    values["positive_cusp"] = not args.linear_cusp
    given = _given_options(sys.argv[1:] if argv is None else argv)
    # Clipping is part of the vmc_sr update only (max_norm's "auto" already resolves
    # to none without it).
    if values["driver"] != "vmc_sr" and "clip_local_energy" not in given:
        values["clip_local_energy"] = None
    if args.netket_example:
        for name, value in NETKET_EXAMPLE.items():
            if name not in given:
                values[name] = value
    return RunConfig(**values)


def _given_options(argv) -> set[str]:
    """Names (as RunConfig fields) of the options written on the command line."""
    return {a[2:].split("=")[0].replace("-", "_") for a in argv if a.startswith("--")}


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from ._checkpoint import CheckpointError, RunDivergedError
    from ._compilation_cache import enable_compilation_cache
    from ._serialization import is_main_process
    from ._vmc_run import RunFolderError, run_vmc

    try:
        enable_compilation_cache(args.compilation_cache)
        results = run_vmc(
            config_from_args(args, argv),
            args.out,
            resume=args.resume,
            show_progress=not args.no_progress,
        )
    except (ConfigError, RunFolderError, CheckpointError, RunDivergedError, OSError) as error:
        print(f"eqxnqs: error: {in_command_line_words(str(error))}", file=sys.stderr)
        return 2
    if not is_main_process():  # in a run over several processes, process 0 reports
        return 0
    energy = results["energy_per_particle"]
    line = f"E/N = {energy['mean']:.5f} ± {energy['error']:.5f}"
    if "mean_kelvin" in energy:
        line += f" hbar^2/(m r_m^2) = {energy['mean_kelvin']:.4f} ± {energy['error_kelvin']:.4f} K"
    print(
        f"{line}   (R-hat {energy['r_hat']:.3f}, variance {energy['variance']:.4g}, "
        f"{energy['n_samples']} samples, acceptance {results['acceptance']:.2f}, "
        f"{results['iterations']} iterations) -> {args.out}"
    )
    split, n0 = results["energy_split"], results["condensate_fraction"]
    line = (
        f"  kinetic {split['kinetic']['mean']:.5f} ± {split['kinetic']['error']:.5f}, "
        f"potential {split['potential']['mean']:.5f} ± {split['potential']['error']:.5f} "
        f"per particle; condensate fraction {n0['mean']:.4f} ± {n0['error']:.4f}"
    )
    if "luttinger_parameter" in results:
        k = results["luttinger_parameter"]
        line += f"; Luttinger K {k['mean']:.3f} ± {k['error']:.3f}"
    print(line)
    reference = results["reference"]["energy_per_particle"]
    if reference is not None:
        gap = results["diagnostics"]["reference_gap"]
        print(
            f"  reference E/N = {reference:.5f} ({results['reference']['source']}); "
            f"gap {100 * gap:+.2f} %"
        )
    for warning in results["warnings"]:
        print(f"eqxnqs: warning: {in_command_line_words(warning)}", file=sys.stderr)
    if not results["warnings"]:
        print(
            "  checks passed: R-hat, finite local energies, plateau, variance"
            + (", reference" if reference is not None else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
