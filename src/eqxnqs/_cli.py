"""Command line: ``eqxnqs run helium --n-particles 10 --n-iter 300 --out runs/he10``."""

import argparse
import dataclasses
import sys

from ._run_config import DRIVERS, OPTIMIZERS, POOLINGS, SAMPLERS, SYSTEMS, ConfigError, RunConfig

DEFAULTS = RunConfig()


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"eqxnqs: error: {message}\n")


def _optional_int(text: str) -> int | None:
    return None if text.lower() == "none" else int(text)


def _cusp_exponent(text: str) -> int | str | None:
    return "auto" if text == "auto" else _optional_int(text)


def _optional_str(text: str) -> str | None:
    return None if text.lower() == "none" else text


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="eqxnqs", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    run = commands.add_parser(
        "run",
        help="run (or resume) a VMC optimisation",
        description="Variational Monte Carlo with the Equinox DeepSetRelDistance in NetKet.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    run.add_argument("system", help=f"one of {', '.join(SYSTEMS)}")
    run.add_argument("--out", required=True, help="output folder (one run per folder)")
    run.add_argument("--resume", action="store_true", help="continue the run in --out")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def option(group, name, type_, help_, **kwargs):
        field = name.replace("-", "_")
        group.add_argument(f"--{name}", type=type_, default=getattr(DEFAULTS, field), help=help_,
                         **kwargs)

    group = run.add_argument_group("system")
    option(group, "n-particles", int, "number of particles N")
    option(group, "density", float, "helium: linear density in 1/angstrom")
    option(group, "dim", int, "gaussian: spatial dimension D (1, 2 or 3)")
    option(group, "box-length", float, "gaussian: box side in every direction")
    option(group, "v0", float, "gaussian: interaction strength V0")
    option(group, "sigma", float, "gaussian: interaction range sigma")
    group = run.add_argument_group("model")
    option(group, "layers-phi", int, "number of phi layers")
    option(group, "features-phi", int, "phi widths (one repeats)", nargs="+")
    option(group, "layers-rho", int, "number of rho layers")
    option(group, "features-rho", int, "rho widths ending in 1 (one repeats, then 1)", nargs="+")
    option(group, "cusp-exponent", _cusp_exponent, "Kato cusp exponent, or 'none' (default: 5 for "
           "helium, none for gaussian)")
    option(group, "activation", str, "hidden activation (a jax.nn function)")
    option(group, "output-activation", _optional_str, "output activation, or 'none'")
    option(group, "pooling", str, f"one of {POOLINGS}")
    group.add_argument("--no-bias", action="store_true", help="dense layers without bias")
    group = run.add_argument_group("sampling")
    option(group, "sampler", str, f"one of {SAMPLERS}: move all particles (NetKet's "
           "MetropolisGaussian) or one per proposal (O(N) per proposal for the DeepSet)")
    option(group, "sampler-sigma", float, "Gaussian step size per coordinate")
    option(group, "n-chains", int, "number of Markov chains")
    option(group, "sweep-size", _optional_int, "moves per sample (default: N*D)")
    option(group, "n-samples", int, "samples per iteration")
    option(group, "n-discard-per-chain", int, "thermalisation samples discarded per chain")
    option(group, "chunk-size", _optional_int, "NetKet chunk size (memory bound), or 'none'")
    group = run.add_argument_group("optimisation")
    option(group, "driver", str, f"one of {DRIVERS}")
    option(group, "optimizer", str, f"one of {OPTIMIZERS} (optax)")
    option(group, "learning-rate", float, "optimiser learning rate")
    option(group, "diag-shift", float, "SR diagonal shift (vmc_sr)")
    option(group, "n-iter", int, "total number of iterations")
    option(group, "seed", int, "seed of parameters and sampler")
    option(group, "checkpoint-every", int, "iterations between checkpoints")
    option(group, "g-r-bins", int, "bins of the pair distribution g(r)")
    run.set_defaults(cusp_exponent="auto")
    return parser


def config_from_args(args) -> RunConfig:
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    values = {k: v for k, v in vars(args).items() if k in fields}
    values["features_phi"] = tuple(values["features_phi"])
    values["features_rho"] = tuple(values["features_rho"])
    values["use_bias"] = not args.no_bias
    if values["cusp_exponent"] == "auto":
        values["cusp_exponent"] = 5 if args.system == "helium" else None
    return RunConfig(**values)


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from ._checkpoint import RunDivergedError
    from ._vmc_run import RunFolderError, run_vmc

    try:
        results = run_vmc(config_from_args(args), args.out, resume=args.resume,
                          show_progress=not args.no_progress)
    except (ConfigError, RunFolderError, RunDivergedError, OSError) as error:
        print(f"eqxnqs: error: {error}", file=sys.stderr)
        return 2
    energy = results["energy_per_particle"]
    line = f"E/N = {energy['mean']:.5f} ± {energy['error']:.5f}"
    if "mean_kelvin" in energy:
        line += f" hbar^2/(m r_m^2) = {energy['mean_kelvin']:.4f} ± {energy['error_kelvin']:.4f} K"
    print(f"{line}   (variance {energy['variance']:.4g}, acceptance "
          f"{results['acceptance']:.2f}, {results['iterations']} iterations) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
