"""Activations by name: the `jax.nn` functions that configs and saved models refer to."""

from collections.abc import Callable

import jax


def activation_by_name(name: str | None) -> Callable | None:
    """The `jax.nn` function called `name` (``None`` for none)."""
    if name is None:
        return None
    fn = getattr(jax.nn, name, None) if isinstance(name, str) else None
    if not callable(fn) or name.startswith("_"):
        raise ValueError(f"unknown activation {name!r}: not a jax.nn function (e.g. gelu, tanh).")
    return fn


def activation_name(fn: Callable | None, what: str = "activation") -> str | None:
    """The `jax.nn` name of `fn` (``None`` for none); refuses any other function."""
    if fn is None:
        return None
    for name in dir(jax.nn):
        if not name.startswith("_") and getattr(jax.nn, name) is fn:
            return name
    raise ValueError(
        f"{what} {fn!r} is not a jax.nn function, so it cannot be saved by name; "
        "use one of jax.nn's activations to save this model."
    )
