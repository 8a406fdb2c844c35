from collections.abc import Callable

import jax.numpy as jnp

#: Pooling operations known by name; any callable ``f(x, axis=...)`` works too.
POOLINGS: dict[str, Callable] = {"sum": jnp.sum, "mean": jnp.mean}


def resolve_pooling(pooling: str | Callable) -> Callable:
    """Return the pooling callable for a name (``"sum"``, ``"mean"``) or a callable."""
    if callable(pooling):
        return pooling
    try:
        return POOLINGS[pooling]
    except KeyError:
        raise ValueError(
            f"pooling must be a callable f(x, axis=...) or one of "
            f"{sorted(POOLINGS)}; got {pooling!r}."
        ) from None


def pooling_name(pooling: Callable) -> str | None:
    """The name of a known pooling callable, or ``None`` for a custom one."""
    for name, fn in POOLINGS.items():
        if fn is pooling:
            return name
    return None


def linear_pooling_weight(pooling: Callable, n_elements: int) -> float | None:
    """``c`` with ``pooling(x, axis=0) == c * sum(x, axis=0)``, or `None` if not linear.

    Sum pooling has ``c = 1`` and mean pooling ``c = 1 / n_elements``; a
    custom pooling is not assumed linear.
    """
    name = pooling_name(pooling)
    if name == "sum":
        return 1.0
    if name == "mean":
        return 1.0 / n_elements
    return None
