import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float


def sine_pair_displacements(
    positions: Float[Array, "n_particles dim"], box: Float[Array, " dim"]
) -> Float[Array, "n_pairs dim"]:
    """Periodic displacement ``(L/2) sin(pi (x_i - x_j) / L)`` of every pair ``i < j``.

    Pairs are ordered as ``numpy.triu_indices(n_particles, 1)``, as in NetKet.
    Each component is smooth and periodic in ``x_i - x_j`` with period ``L``
    and equals ``x_i - x_j`` to first order for close particles. Units are
    those of ``positions`` and ``box``.
    """
    i, j = np.triu_indices(positions.shape[0], 1)
    return box / 2.0 * jnp.sin(jnp.pi * (positions[i] - positions[j]) / box)
