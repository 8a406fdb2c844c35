"""Shared type aliases and the run-time checker used on the public API."""

from collections.abc import Callable
from typing import Any

import numpy as np
from beartype import beartype
from jaxtyping import Array, jaxtyped

#: Anything array-like that holds real numbers: a JAX array or a NumPy array.
RealArray = Array | np.ndarray

#: A NetKet-style initialiser, ``init(key, shape, dtype) -> Array``.
Initializer = Callable[..., Any]


def typechecked(fn):
    """Check ``fn``'s jaxtyping annotations with beartype on every call.

    Under ``jax.jit`` the check runs once, at trace time, so a wrong shape or
    dtype is reported before anything reaches XLA.
    """
    return jaxtyped(typechecker=beartype)(fn)
