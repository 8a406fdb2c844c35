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
