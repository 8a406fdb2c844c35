"""Working around XLA's cost model on the CPU.

XLA's CPU compiler counts ``sin`` and ``cos`` of real numbers as cheap, so it
recomputes them inside every fused loop that reads them, once per element of
that loop: the DeepSet's per-axis ``d_a^2`` and its two derivatives were
recomputed in about ten loops, some of them as wide as phi, a large part of
the kinetic energy's time (Results page, "Speed"). A matrix product is
never fused into a loop, so a product with the identity matrix makes its
operand be computed once and read from memory by every user.
"""

import jax.numpy as jnp
from jaxtyping import Array, Float


def computed_once(x: Float[Array, "... n"]) -> Float[Array, "... n"]:
    """``x`` itself (exactly, for finite ``x``), computed once however many loops read it.

    ``x @ I`` along the last axis (module docstring). With a last axis of
    length 1 XLA may turn the product back into a multiplication, and the
    values are then recomputed as before; nothing else changes.
    """
    return x @ jnp.eye(x.shape[-1], dtype=x.dtype)
