"""Second-order Taylor propagation ("jets") along several directions at once.

A `Jet` holds, for a vector function ``f`` of ``u`` and K directions ``e_k``,
the value ``f(u)`` and the first and second derivatives of
``t -> f(u + t e_k)`` at ``t = 0``: the directional derivative ``J e_k`` and
the directional curvature ``e_k^T H e_k`` of every output. Pushing one through
an MLP costs one forward pass plus two products per layer and direction; the
activation's derivatives are evaluated once per point, not once per direction.
This is what makes the DeepSet's Laplacian cheap.
"""

import functools
from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._mlp import MLP


class Jet(NamedTuple):
    """Value and directional derivatives of a vector along K directions.

    - `value`: ``f(u)``, shape ``(F,)``.
    - `first`: ``d/dt f(u + t e_k)`` at 0, shape ``(K, F)``.
    - `second`: ``d^2/dt^2 f(u + t e_k)`` at 0, shape ``(K, F)``.
    """

    value: Float[Array, " F"]
    first: Float[Array, "K F"]
    second: Float[Array, "K F"]


def is_elementwise(fn: Callable) -> bool:
    """Whether ``fn`` acts on each entry of a vector on its own (probed numerically).

    Activations such as gelu or tanh are; softmax is not. The probe compares
    ``fn`` on a vector with ``fn`` on each entry alone, so a function that
    mixes entries is caught before a wrong second derivative is computed.
    """
    try:
        return _probe_elementwise(fn)
    except TypeError:  # an unhashable callable: probe without the cache
        return _probe_elementwise.__wrapped__(fn)


@functools.lru_cache(maxsize=64)
def _probe_elementwise(fn: Callable) -> bool:
    probe = np.array([-2.3, -0.7, 0.0, 0.4, 1.9])
    try:
        with jax.ensure_compile_time_eval():
            whole = np.asarray(fn(jnp.asarray(probe)))
            alone = np.array([np.asarray(fn(jnp.asarray(probe[i : i + 1])))[0] for i in range(5)])
    except Exception:
        return False
    return whole.shape == probe.shape and np.allclose(whole, alone, rtol=1e-12, atol=1e-14)


def _elementwise_derivatives(fn: Callable, z: Array) -> tuple[Array, Array, Array]:
    """``fn(z)``, ``fn'(z)`` and ``fn''(z)`` entry by entry, for an elementwise ``fn``."""
    ones = jnp.ones_like(z)

    def value_and_slope(z):
        return jax.jvp(fn, (z,), (ones,))

    (value, slope), (_, curvature) = jax.jvp(value_and_slope, (z,), (ones,))
    return value, slope, curvature


def activation_jet(fn: Callable | None, jet: Jet) -> Jet:
    """Push a jet through an activation (any function of a vector; `None` is the identity)."""
    if fn is None:
        return jet
    if is_elementwise(fn):
        value, slope, curvature = _elementwise_derivatives(fn, jet.value)
        first = slope * jet.first
        second = slope * jet.second + curvature * jet.first**2
        return Jet(value, first, second)

    def along(first, second):
        def directional(z):
            return jax.jvp(fn, (z,), (first,))[1]

        d1, d2 = jax.jvp(directional, (jet.value,), (first,))
        return d1, d2 + jax.jvp(fn, (jet.value,), (second,))[1]

    first, second = jax.vmap(along)(jet.first, jet.second)
    return Jet(fn(jet.value), first, second)


def linear_jet(layer: eqx.nn.Linear, jet: Jet) -> Jet:
    """Push a jet through a dense layer ``W u + b`` (all terms but the value are linear)."""
    weight_t = layer.weight.T
    value = jet.value @ weight_t
    if layer.bias is not None:
        value = value + layer.bias
    return Jet(value, jet.first @ weight_t, jet.second @ weight_t)


def mlp_jet(mlp: MLP, jet: Jet) -> Jet:
    """Push a jet through every layer and activation of ``mlp``."""
    last = len(mlp.layers) - 1
    for index, layer in enumerate(mlp.layers):
        jet = linear_jet(layer, jet)
        jet = activation_jet(mlp.activation if index < last else mlp.final_activation, jet)
    return jet
