"""The MPNN's graph: each particle's neighbours, and the periodic features of its edges."""

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._xla import sin_cos, sine


def neighbours(n_particles: int) -> np.ndarray:
    """``(N, N - 1)`` indices: row ``i`` lists ``(i + 1 + s) mod N`` for ``s = 0 .. N - 2``."""
    return (np.arange(n_particles)[:, None] + np.arange(1, n_particles)[None, :]) % n_particles


def edge_features(u: Float[Array, "... dim"], box: Float[Array, " dim"]) -> Float[Array, "... f"]:
    """Periodic features of displacements ``u``, ``2 dim + 1`` of them.

    Per axis ``sin(2 pi u / L)`` and ``cos(2 pi u / L)``, then the squared
    sine distance ``sum_a sin^2(pi u_a / L_a)``. All are smooth: the sine
    distance itself, ``|sin(pi u / L)|``, has a kink at contact, and in 1D a
    kink in ``log psi`` puts a delta function into its Laplacian that the
    local kinetic energy never samples (measured: VMC on soft-core bosons
    then climbs in energy while its variance falls).
    """
    phase = 2.0 * jnp.pi * u / box
    squared = jnp.sum(sine(phase / 2.0) ** 2, axis=-1, keepdims=True)
    return jnp.concatenate([*sin_cos(phase), squared], axis=-1)


def embedding_in_box(
    weight: Float[Array, "out f"],
    bias: Float[Array, " out"],
    box: Float[Array, " dim"],
    new_box: Float[Array, " dim"],
) -> tuple[Float[Array, "out f"], Float[Array, " out"]]:
    """A linear map of `edge_features` in `box` rewritten for `new_box`.

    In length units, with ``phi = 2 pi u / L`` per axis, the map is a linear
    function of ``(L / 2 pi) sin(phi)`` (about ``u``) and of
    ``(L / 2 pi)^2 (1 - cos(phi))`` (about ``u^2 / 2``), plus a constant; the
    squared sine distance is ``sum (1 - cos(phi)) / 2``. The returned map is
    the same function of those two in `new_box`: equal to the old one to
    second order in ``u`` at short range, where a pair's features in a box of
    another size would otherwise mean another distance.
    """
    dim = box.shape[0]
    sines, cosines, squared = weight[:, :dim], weight[:, dim : 2 * dim], weight[:, 2 * dim :]
    ratio = new_box / box
    # cos(phi) enters through its own weight and through the squared sine distance
    curvature = cosines - squared / 2.0
    new_curvature = curvature * ratio**2
    new_weight = jnp.concatenate([sines * ratio, new_curvature + squared / 2.0, squared], axis=1)
    new_bias = bias + jnp.sum(curvature - new_curvature, axis=1)
    return new_weight, new_bias
