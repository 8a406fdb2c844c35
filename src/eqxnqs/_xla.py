"""Working around XLA's costs on the CPU: trigonometric functions.

Two facts about XLA's CPU compiler, measured on float64 (Results page, "Speed"):

- it evaluates ``sin`` and ``cos`` one element at a time, not vectorised:
  about 15 times the cost of ``exp``, and 8 times that of `sin_cos`, a
  polynomial that XLA vectorises like any arithmetic;
- it counts them as cheap all the same, so it recomputes them inside every
  fused loop that reads them, once per element of that loop. A matrix
  product is never fused into a loop, so a product with the identity matrix
  (`computed_once`) makes its operand be computed once and read from memory.
"""

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

# pi/2 in three parts of 33 bits: k times a part is exact for |k| < 2^20.
_HALF_PI = (1.5707963267341256, 6.077100506303966e-11, 2.0222662487959506e-21)
# Taylor coefficients beyond the leading terms, in z = r^2: exact to 1e-19 for |r| <= pi/4.
_SINE = tuple((-1) ** k / math.factorial(2 * k + 1) for k in range(1, 9))
_COSINE = tuple((-1) ** k / math.factorial(2 * k) for k in range(1, 10))


def _horner(z, coefficients):
    total = coefficients[-1]
    for c in coefficients[-2::-1]:
        total = total * z + c
    return total


@jax.custom_jvp
def sin_cos(x: Float[Array, "..."]) -> tuple[Float[Array, "..."], Float[Array, "..."]]:
    """``(sin x, cos x)`` elementwise: within an ulp of the true values for ``|x| <= 10^3``
    and two up to ``10^5`` (tested); beyond ``10^6`` the reduction loses digits.

    ``x`` is reduced by the nearest multiple ``k pi/2`` in three exact parts
    (Cody and Waite), then both series are evaluated and swapped or negated
    by ``k mod 4``. Differentiated as sine and cosine, through itself.
    """
    k = jnp.round(x * (2.0 / math.pi))
    r = x
    for part in _HALF_PI:
        r = r - k * part
    z = r * r
    sine = r + r * z * _horner(z, _SINE)
    cosine = 1.0 + z * _horner(z, _COSINE)
    quadrant = jnp.mod(k, 4.0)
    swap = (quadrant == 1.0) | (quadrant == 3.0)
    sin = jnp.where(swap, cosine, sine)
    cos = jnp.where(swap, sine, cosine)
    sin = jnp.where(quadrant >= 2.0, -sin, sin)
    cos = jnp.where((quadrant == 1.0) | (quadrant == 2.0), -cos, cos)
    return sin, cos


@sin_cos.defjvp
def _sin_cos_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    sin, cos = sin_cos(x)
    return (sin, cos), (cos * t, -sin * t)


def sine(x: Float[Array, "..."]) -> Float[Array, "..."]:
    """``sin x`` by `sin_cos`: what the wavefunctions' periodic features evaluate."""
    return sin_cos(x)[0]


def computed_once(x: Float[Array, "... n"]) -> Float[Array, "... n"]:
    """``x`` itself (exactly, for finite ``x``), computed once however many loops read it.

    ``x @ I`` along the last axis (module docstring). With a last axis of
    length 1 XLA may turn the product back into a multiplication, and the
    values are then recomputed as before; nothing else changes.
    """
    return x @ jnp.eye(x.shape[-1], dtype=x.dtype)
