r"""Activations by name, with second derivatives that saturated units cannot spoil.

JAX differentiates ``tanh`` as ``(g + g t)(1 - t)`` with ``t = tanh(x)``. For
a saturated unit (``x`` far below zero, ``t = -1``) the first factor cancels
exactly when evaluated op by op, but under ``jit`` XLA may fuse ``g + g t`` into
a multiply-add that keeps the rounding error of ``g t``; with the large
cotangents ``g`` of a Laplacian the result is wrong by ~1e-3 at ``x ~ -1e3``
(the error grows like ``|x|^5``), and it depends on compilation. ``gelu``
(tanh form) inherits it. NetKet's own kinetic energy is hit equally.

`stable` replaces `jax.nn.tanh` and `jax.nn.gelu` by versions with the same
forward values (bit for bit: the primal is JAX's own) and a custom JVP written
with products of sigmoids, ``tanh' = 4 sigma(2x) sigma(-2x)`` and ``gelu' =
sigma(2y) + 2 x y' sigma(2y) sigma(-2y)`` (``y = sqrt(2/pi) (x + 0.044715
x^3)``): no sum cancels, so a saturated unit's derivatives of every order
are zero to rounding, jitted or not. `activation_derivatives` gives the value
and the first two derivatives at once, from the same sigmoids, both from one
exponential ``e^{-2|y|}`` (Taylor-mode jets, `MLP.jets`; gelu's value there is
``x sigma(2y)``, within an ulp or two of JAX's). The other jax.nn activations (sigmoid,
softplus, silu, elu, ...) have no such cancellation and are used as they are.
Every eqxnqs MLP applies `stable` to its activations.
"""

import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

_GELU_C = math.sqrt(2.0 / math.pi)


def _sigmoid_pair(y):
    """``(sigma(2y), sigma(-2y))``: ``(1 + tanh y) / 2`` and ``(1 - tanh y) / 2`` without
    cancellation, from one exponential ``e^{-2|y|}`` (at most 1: nothing overflows)."""
    decay = jnp.exp(-2.0 * jnp.abs(y))
    large = 1.0 / (1.0 + decay)
    small = decay * large
    positive = y >= 0
    return jnp.where(positive, large, small), jnp.where(positive, small, large)


def _tanh_derivatives(x):
    up, down = _sigmoid_pair(x)
    slope = 4.0 * up * down
    return jnp.tanh(x), slope, 2.0 * slope * (down - up)


def _gelu_derivatives(x):
    y = _GELU_C * (x + 0.044715 * x**3)
    dy = _GELU_C * (1.0 + 3 * 0.044715 * x**2)
    ddy = _GELU_C * 6 * 0.044715 * x
    up, down = _sigmoid_pair(y)
    both = up * down
    curvature = 2.0 * both * (2.0 * dy + x * ddy + 2.0 * x * dy**2 * (down - up))
    return x * up, up + 2.0 * x * dy * both, curvature


@jax.custom_jvp
def stable_tanh(x):
    """``jax.nn.tanh`` with a derivative free of cancellation (module docstring)."""
    return jnp.tanh(x)


@stable_tanh.defjvp
def _stable_tanh_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    value, slope, _ = _tanh_derivatives(x)
    return value, slope * t


@jax.custom_jvp
def stable_gelu(x):
    """``jax.nn.gelu`` (tanh form) with a derivative free of cancellation."""
    return jax.nn.gelu(x)


@stable_gelu.defjvp
def _stable_gelu_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    _, slope, _ = _gelu_derivatives(x)
    return jax.nn.gelu(x), slope * t


#: jax.nn activations that act on each element alone (so that their derivatives are too).
ELEMENTWISE = frozenset(
    "celu elu gelu hard_sigmoid hard_silu hard_swish hard_tanh identity leaky_relu "
    "log_sigmoid mish relu relu6 selu sigmoid silu soft_sign softplus sparse_plus "
    "sparse_sigmoid squareplus swish tanh".split()
)


def activation_derivatives(fn: Callable):
    """``z -> (fn(z), fn'(z), fn''(z))`` elementwise, or ``None`` if `fn` is not elementwise.

    The stable tanh and gelu share one pair of sigmoids among the three, with
    no cancelling sums (module docstring); other elementwise jax.nn functions
    are differentiated by forward-mode autodiff along a tangent of ones.
    """
    if fn is stable_tanh:
        return _tanh_derivatives
    if fn is stable_gelu:
        return _gelu_derivatives
    if not any(getattr(jax.nn, name, None) is fn for name in ELEMENTWISE):
        return None
    return functools.partial(elementwise_derivatives, fn)


def elementwise_derivatives(fn: Callable, x):
    """``fn(x)`` and its first and second derivatives, for an ``fn`` that acts on each
    element of ``x`` alone (forward mode along a tangent of ones)."""
    ones = jnp.ones_like(x)
    value, slope = jax.jvp(fn, (x,), (ones,))
    curvature = jax.jvp(lambda v: jax.jvp(fn, (v,), (ones,))[1], (x,), (ones,))[1]
    return value, slope, curvature


#: jax.nn activations whose derivatives can cancel, and their stable replacements.
_STABLE = {jax.nn.tanh: stable_tanh, jax.nn.gelu: stable_gelu}
_NAMES = {stable_tanh: "tanh", stable_gelu: "gelu"}


def stable(fn: Callable | None) -> Callable | None:
    """`fn`, or its stable replacement for `jax.nn.tanh` and `jax.nn.gelu`."""
    return _STABLE.get(fn, fn)


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
    if fn in _NAMES:
        return _NAMES[fn]
    for name in dir(jax.nn):
        if not name.startswith("_") and getattr(jax.nn, name) is fn:
            return name
    raise ValueError(
        f"{what} {fn!r} is not a jax.nn function, so it cannot be saved by name; "
        "use one of jax.nn's activations to save this model."
    )
