"""Command line: ``eqxnqs run helium --n-particles 10 --n-iter 300 --out runs/he10``.

Every option is generated from the declarations of `eqxnqs.RunConfig`'s
groups (`setting`): its name, type, help text, and the default of the
system's named configuration (`eqxnqs.configure`), shown by ``--help``.
"""

import argparse
import dataclasses
import importlib.metadata
import re
import sys
import types
import typing

from ._configurations import configure
from ._run_config import GROUPS, RunConfig, option_names
from ._settings import ConfigError, flag, option_name
from ._system_configs import SYSTEMS, system_options

#: Options of 0.2 renamed when the command line became generated (until 0.3).
RENAMED = {
    "--no-bias": "--no-use-bias",
    "--linear-cusp": "--no-positive-cusp",
    "--random-readout": "--no-zero-readout",
}


def in_command_line_words(message: str) -> str:
    """A library message with its settings named as options (``n_iter`` -> ``--n-iter``)."""
    message = message.replace("resume=True", "--resume").replace("out folder", "--out folder")
    message = re.sub(r"\bNone\b", "none", message)
    names = "|".join(sorted(option_names(), key=len, reverse=True))
    return re.sub(
        rf"(?<![\w-])({names})(?![\w-])",
        lambda match: flag(match.group(1)),
        message,
    )


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"eqxnqs: error: {message}\n")


def _words(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return " ".join(str(v) for v in value)
    return str(value)


def _optional(parse):
    def parse_optional(text: str):
        return None if text.lower() == "none" else parse(text)

    parse_optional.__name__ = parse.__name__
    return parse_optional


def _boolean(text: str) -> bool:
    words = {"true": True, "false": False}
    if text.lower() not in words:
        raise argparse.ArgumentTypeError(f"expected true, false or none; got {text!r}")
    return words[text.lower()]


def _add_option(group, name: str, field: dataclasses.Field, hint, default) -> None:
    help_ = f"{field.metadata['help']} (default: {_words(default)})"
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType) and type(
        None
    ) in typing.get_args(hint)
    base = (
        next((a for a in typing.get_args(hint) if a is not type(None)), hint) if optional else hint
    )
    kwargs = dict(dest=name, default=argparse.SUPPRESS, help=help_)
    if base is bool and not optional:
        group.add_argument(flag(name), action=argparse.BooleanOptionalAction, **kwargs)
        return
    if typing.get_origin(base) is tuple:
        group.add_argument(flag(name), type=int, nargs="+", metavar="N", **kwargs)
        return
    parse = {bool: _boolean, int: int, float: float, str: str}[base]
    metavar = {bool: "{true,false,none}", int: "N", float: "X", str: "TEXT"}[base]
    choices = getattr(field.metadata.get("check"), "choices", None)
    if choices is not None:
        metavar = "{" + ",".join(choices + (("none",) if optional else ())) + "}"
    group.add_argument(
        flag(name), type=_optional(parse) if optional else parse, metavar=metavar, **kwargs
    )


def _add_group(parser, title: str, group_type, defaults: dict) -> None:
    group = parser.add_argument_group(title, _first_line(group_type))
    hints = typing.get_type_hints(group_type)
    for field in dataclasses.fields(group_type):
        name = option_name(field)
        _add_option(group, name, field, hints[field.name], defaults[name])


def _first_line(cls) -> str:
    """The first line of a docstring, without its Markdown code marks."""
    return (cls.__doc__ or "").strip().splitlines()[0].replace("`", "")


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="eqxnqs", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--version", action="version", version=f"eqxnqs {importlib.metadata.version('eqxnqs')}"
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    run = commands.add_parser(
        "run",
        help="run (or resume) a VMC optimisation",
        description="Variational Monte Carlo of bosons in a periodic box (DeepSet or MPNN "
        "wavefunctions) in NetKet. Name the system, then its options: "
        "eqxnqs run helium-2d --help lists them with that system's defaults.",
    )
    systems = run.add_subparsers(
        dest="system", required=True, metavar="SYSTEM", parser_class=_OneLineParser
    )
    for name, system in SYSTEMS.items():
        defaults = configure(name).flat()
        sub = systems.add_parser(
            name,
            help=_first_line(system),
            description=f"{_first_line(system)} Defaults: the named configuration of "
            f"{name} (eqxnqs.configure).",
        )
        sub.add_argument("--out", required=True, help="output folder (one run per folder)")
        sub.add_argument("--resume", action="store_true", help="continue the run in --out")
        sub.add_argument("--no-progress", action="store_true", help="hide the progress bar")
        sub.add_argument(
            "--compilation-cache",
            metavar="FOLDER",
            help="folder of JAX's persistent compilation cache, so that a repeated or "
            "resumed run compiles nothing again, or 'none' (default: "
            "$EQXNQS_COMPILATION_CACHE, else ~/.cache/eqxnqs/jax)",
        )
        sub.add_argument(
            "--netket-example",
            action="store_true",
            help="start from the settings of NetKet's helium example (NetKet's rho layers "
            "and input (d/L)^2, random readout, all-particle moves, sigma 0.05, 16 chains, "
            "sweep 32, uniform start, fixed step, 4096 samples, 128 discarded, linear cusp, "
            "no clipping, no trust region); options given explicitly still apply",
        )
        _add_group(sub, "system", system, defaults)
        for title, group in GROUPS.items():
            _add_group(sub, title, group, defaults)
        _add_option(
            sub,
            "seed",
            next(f for f in dataclasses.fields(RunConfig) if f.name == "seed"),
            int,
            defaults["seed"],
        )
    return parser


def config_from_args(args) -> RunConfig:
    """The run configuration of parsed command-line arguments."""
    options = option_names()
    settings = {name: value for name, value in vars(args).items() if name in options}
    return configure(args.system, netket_example=args.netket_example, **settings)


def _renamed(argv: list[str]) -> list[str]:
    for old, new in RENAMED.items():
        if old in argv:
            print(f"eqxnqs: warning: {old} is now {new}; {old} goes in 0.3.", file=sys.stderr)
    return [RENAMED.get(word, word) for word in argv]


def _system_error(argv: list[str]) -> str | None:
    """A one-line error for an unknown system, or for another system's option."""
    if len(argv) < 2 or argv[0] != "run" or argv[1].startswith("-"):
        return None
    if argv[1] not in SYSTEMS:
        return f"unknown system {argv[1]!r}; choose one of {', '.join(SYSTEMS)}."
    own = {flag(o) for o in SYSTEMS[argv[1]].options()}
    others = {flag(o) for o in system_options()}
    for word in argv[2:]:
        given = word.split("=")[0]
        if given in others - own:
            return f"system {argv[1]} has no option {given}"
    return None


def main(argv=None) -> int:
    argv = _renamed(list(sys.argv[1:] if argv is None else argv))
    error = _system_error(argv)
    if error is not None:
        print(f"eqxnqs: error: {error}", file=sys.stderr)
        return 2
    args = _parser().parse_args(argv)
    from ._checkpoint import CheckpointError, RunDivergedError
    from ._compilation_cache import enable_compilation_cache
    from ._serialization import is_main_process
    from ._vmc_run import RunFolderError, run_vmc

    try:
        enable_compilation_cache(args.compilation_cache)
        results = run_vmc(
            config_from_args(args),
            args.out,
            resume=args.resume,
            show_progress=not args.no_progress,
        )
    except (ConfigError, RunFolderError, CheckpointError, RunDivergedError, OSError) as error:
        print(f"eqxnqs: error: {in_command_line_words(str(error))}", file=sys.stderr)
        return 2
    if not is_main_process():  # in a run over several processes, process 0 reports
        return 0
    print(results.summary(args.out))
    for warning in results.warnings:
        print(f"eqxnqs: warning: {in_command_line_words(warning)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
