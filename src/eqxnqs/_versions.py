"""The versions of the libraries eqxnqs works with, checked when it is imported.

eqxnqs extends NetKet through some of its internals (the clipped SR update
re-implements ``netket._src.driver.vmc_sr``'s private ``compute_loss_and_update``;
the Equinox model wrapper and sampler states are NetKet's), which may change
in any minor release: NetKet is pinned to the minor series it is tested with.
"""

import importlib.metadata
import os
import warnings

#: Set to ``warn`` to import eqxnqs with unsupported versions anyway (a warning,
#: not an error): for trying a newer JAX, e.g. the one a GPU machine ships with.
ALLOW_UNSUPPORTED = "EQXNQS_UNSUPPORTED_VERSIONS"

#: Supported versions: name -> (lowest, first unsupported), as (major, minor[, patch]).
SUPPORTED = {
    "netket": ((3, 23), (3, 24)),
    "jax": ((0, 10, 2), (0, 11)),
    "equinox": ((0, 13, 8), (0, 14)),
}


def _release(version: str) -> tuple[int, ...]:
    """The leading numbers of a version string: ``"3.23.0rc1"`` -> ``(3, 23, 0)``."""
    numbers = []
    for part in version.split("."):
        digits = ""
        for character in part:
            if not character.isdigit():
                break
            digits += character
        if not digits:
            break
        numbers.append(int(digits))
        if len(digits) < len(part):
            break
    return tuple(numbers)


def check_supported(name: str, version: str) -> None:
    """Raise ImportError, in one line, if `version` of `name` is outside `SUPPORTED`.

    With the environment variable `ALLOW_UNSUPPORTED` set to ``warn``, warn instead.
    """
    lowest, first_unsupported = SUPPORTED[name]
    if not lowest <= _release(version) < first_unsupported:
        low = ".".join(map(str, lowest))
        high = ".".join(map(str, first_unsupported))
        message = (
            f"eqxnqs needs {name} >={low},<{high}; {name} {version} is installed "
            f"(pip install '{name}>={low},<{high}')"
        )
        if os.environ.get(ALLOW_UNSUPPORTED, "") == "warn":
            warnings.warn(f"{message}; going on untested ({ALLOW_UNSUPPORTED}=warn).", stacklevel=2)
        else:
            raise ImportError(f"{message}, or set {ALLOW_UNSUPPORTED}=warn to try it anyway.")


def check_installed() -> None:
    """`check_supported` for every library in `SUPPORTED`, as installed."""
    for name in SUPPORTED:
        check_supported(name, importlib.metadata.version(name))
