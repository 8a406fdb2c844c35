"""One declaration per setting: its type, default, help text and check.

A group of settings is a frozen dataclass deriving from `Settings` whose
fields are declared with `setting`. The command line (`eqxnqs run`), the
documentation's settings page, ``config.json`` and its migration are all
made from these declarations.
"""

import dataclasses
import math
from collections.abc import Callable
from typing import Any


class ConfigError(ValueError):
    """A run setting is invalid. Messages name settings by their option names."""


@dataclasses.dataclass(frozen=True)
class Check:
    """A condition on one setting: ``accepts(value)``, and what it says when it fails."""

    description: str
    accepts: Callable[[Any], bool]
    #: The values allowed, when they are a list of names (for ``--help``).
    choices: tuple[str, ...] | None = None

    def __call__(self, name: str, value) -> None:
        try:
            ok = bool(self.accepts(value))
        except TypeError:
            ok = False
        if not ok:
            raise ConfigError(f"{name} must be {self.description}; got {value!r}.")


class OneOf(Check):
    """The setting is one of `choices`."""

    def __init__(self, *choices: str):
        super().__init__(f"one of {', '.join(choices)}", lambda value: value in choices, choices)

    def __call__(self, name: str, value) -> None:
        if value not in self.choices:
            raise ConfigError(f"unknown {name} {value!r}; choose one of {', '.join(self.choices)}.")


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


POSITIVE_INTEGER = Check("a positive integer", lambda v: _integer(v) and v > 0)
NON_NEGATIVE_INTEGER = Check("an integer >= 0", lambda v: _integer(v) and v >= 0)
POSITIVE_NUMBER = Check("a positive number", lambda v: _number(v) and v > 0)
NON_NEGATIVE_NUMBER = Check("a number >= 0", lambda v: _number(v) and v >= 0)
BOOLEAN = Check("True or False", lambda v: isinstance(v, bool))
PARTICLE_COUNT = Check("an integer >= 2", lambda v: _integer(v) and v >= 2)
TEXT = Check("a non-empty string", lambda v: isinstance(v, str) and bool(v))


def optional(check: Check) -> Check:
    """`check`, or ``None``."""
    return Check(
        f"{check.description} or None", lambda v: v is None or check.accepts(v), check.choices
    )


def between(low: float, high: float, *, closed_low: bool = False) -> Check:
    """A number in ``(low, high)`` (``[low, high)`` with `closed_low`)."""
    bracket = "[" if closed_low else "("
    return Check(
        f"in {bracket}{low:g}, {high:g})",
        lambda v: _number(v) and (low <= v if closed_low else low < v) and v < high,
    )


WIDTHS = Check(
    "a non-empty tuple of positive integers",
    lambda v: isinstance(v, tuple) and len(v) > 0 and all(_integer(w) and w > 0 for w in v),
)


def setting(default, help: str, check: Check | None = None, *, option: str | None = None):
    """A field of a `Settings` group.

    **Arguments:**

    - `default`: the declared default.
    - `help`: one sentence for ``--help`` and the documentation (units included).
    - `check`: the condition the value must meet (`Check`).
    - `option`: the setting's name on the command line and in messages, when it
      differs from the field's (``--model`` for ``ModelConfig.kind``).
    """
    return dataclasses.field(
        default=default, metadata={"help": help, "check": check, "option": option}
    )


def option_name(field: dataclasses.Field) -> str:
    return field.metadata.get("option") or field.name


def flag(name: str) -> str:
    """The command-line flag of an option name: ``n_iter`` -> ``--n-iter``."""
    return "--" + name.replace("_", "-")


@dataclasses.dataclass(frozen=True)
class Settings:
    """A group of settings: each field's `Check` runs, then the group's own `check`."""

    def __post_init__(self):
        for field in dataclasses.fields(self):
            check = field.metadata.get("check")
            if check is not None:
                check(option_name(field), getattr(self, field.name))
        self.check()

    def check(self) -> None:
        """Conditions between the group's settings (raise `ConfigError`)."""

    @classmethod
    def options(cls) -> dict[str, dataclasses.Field]:
        """The group's fields by option name."""
        return {option_name(field): field for field in dataclasses.fields(cls)}

    def flat(self) -> dict:
        """The settings by option name."""
        return {option_name(f): getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_flat(cls, values: dict):
        """The group from `values` by option name (others are ignored)."""
        return cls(
            **{
                f.name: values[option_name(f)]
                for f in dataclasses.fields(cls)
                if option_name(f) in values
            }
        )


def require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)
