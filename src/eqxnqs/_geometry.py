"""The periodic box: its validation, pairs, periodic distances, and NetKet's particle space.

Every other module takes its geometry from here: the sine displacement that
the wavefunctions see, the minimum-image distance that the potentials and
g(r) use, the pair order, and the Hilbert space of N particles in the box.
"""

import math
from collections.abc import Sequence

import jax.numpy as jnp
import netket.experimental as nkx
import numpy as np
from jaxtyping import Array, Float

from ._xla import sine


def check_box(box: float | Sequence[float]) -> tuple[float, ...]:
    """Side lengths of a periodic box as a tuple of positive floats.

    A single number is a one-dimensional box.
    """
    lengths = (box,) if isinstance(box, (int, float)) else tuple(box)
    if not lengths:
        raise ValueError("box must have at least one side length; got ().")
    try:
        lengths = tuple(float(length) for length in lengths)
    except (TypeError, ValueError):
        raise ValueError(f"box must be a number or a sequence of numbers; got {box!r}.") from None
    if not all(math.isfinite(length) and length > 0 for length in lengths):
        raise ValueError(f"every box side length must be a finite number > 0; got {lengths}.")
    return lengths


def check_particle_count(n_particles, minimum: int = 2) -> int:
    """`n_particles` if it is an integer >= `minimum`, else a one-line ValueError."""
    if isinstance(n_particles, bool) or not isinstance(n_particles, int) or n_particles < minimum:
        raise ValueError(f"n_particles must be an integer >= {minimum}; got {n_particles!r}.")
    return n_particles


def all_pair_displacements(
    positions: Float[Array, "n_particles dim"], box: Float[Array, " dim"]
) -> tuple[Float[Array, "n_particles n_particles dim"], Array]:
    """``x_i - x_j`` for every ordered pair, with the diagonal (i = j) moved to ``L/2``,
    where the chord distance and the periodic vector are smooth, and the off-diagonal
    mask ``(N, N)``. For the factors that sum over each particle's neighbours."""
    u = positions[:, None, :] - positions[None, :, :]
    off = ~jnp.eye(positions.shape[0], dtype=bool)
    return jnp.where(off[..., None], u, box / 2), off


def n_pairs(n_particles: int) -> int:
    """Number of unordered pairs ``i < j`` of ``n_particles`` particles."""
    return n_particles * (n_particles - 1) // 2


def pair_indices(n_particles: int) -> tuple[np.ndarray, np.ndarray]:
    """``(i, j)`` of every pair ``i < j``, in NetKet's order (``numpy.triu_indices``)."""
    return np.triu_indices(n_particles, 1)


def sine_displacement(
    u: Float[Array, "... dim"], box: Float[Array, " dim"]
) -> Float[Array, "... dim"]:
    """``(L/2) sin(pi u / L)`` per axis: the smooth periodic stand-in for a displacement ``u``.

    Periodic in ``u`` with period ``L`` and odd; NetKet's DeepSet feature.
    For close particles it is ``(pi/2) u`` to first order, not ``u`` (see
    `chord_distance` for a distance that is). Units are those of ``u`` and
    ``box``.
    """
    return box / 2.0 * sine(jnp.pi * u / box)


def chord_distance(u: Float[Array, "... dim"], box: Float[Array, " dim"]) -> Float[Array, "..."]:
    """``|(L/pi) sin(pi u / L)|`` over the axes: a smooth periodic distance equal to ``|u|``
    to first order for close particles (and ``L/pi`` at ``u = L/2`` in 1D)."""
    return jnp.linalg.norm(box / jnp.pi * sine(jnp.pi * u / box), axis=-1)


def periodic_vector(
    u: Float[Array, "... dim"], box: Float[Array, " dim"]
) -> Float[Array, "... dim"]:
    """``(L / 2 pi) sin(2 pi u / L)`` per axis: odd, periodic and smooth, ``u`` itself for
    close particles, and zero at ``u = L/2`` (the vector of the triplet and backflow)."""
    return box / (2.0 * jnp.pi) * sine(2.0 * jnp.pi * u / box)


def cutoff_envelope(r: Float[Array, "..."], cutoff: float) -> Float[Array, "..."]:
    """``(1 - (r / r_c)^2)^3`` for ``r < r_c`` and 0 beyond: 1 at contact, smooth (C^2) at
    ``r_c``, so that learned functions of the distance end within the box."""
    return jnp.where(r < cutoff, (1.0 - (r / cutoff) ** 2) ** 3, 0.0)


def sine_pair_displacements(
    positions: Float[Array, "n_particles dim"], box: Float[Array, " dim"]
) -> Float[Array, "n_pairs dim"]:
    """`sine_displacement` of ``x_i - x_j`` for every pair ``i < j`` (order of `pair_indices`)."""
    i, j = pair_indices(positions.shape[0])
    return sine_displacement(positions[i] - positions[j], box)


def minimum_image(u: Float[Array, "... dim"], box: Float[Array, " dim"]) -> Float[Array, "... dim"]:
    """The displacement ``u`` moved to its nearest periodic image, in ``[-L/2, L/2)`` per axis."""
    return jnp.remainder(u + box / 2.0, box) - box / 2.0


def minimum_image_distances(
    positions: Float[Array, "n_particles dim"], box: Float[Array, " dim"]
) -> Float[Array, " n_pairs"]:
    """Distance of every pair ``i < j`` to the nearest periodic image (order of `pair_indices`)."""
    i, j = pair_indices(positions.shape[0])
    return jnp.linalg.norm(minimum_image(positions[i] - positions[j], box), axis=-1)


def periodic_particles(n_particles: int, box: float | Sequence[float]) -> nkx.hilbert.Particle:
    """NetKet's Hilbert space of N particles in a box periodic in every direction."""
    check_particle_count(n_particles)
    box = check_box(box)
    return nkx.hilbert.Particle(
        N=n_particles, geometry=nkx.geometry.Cell(d=len(box), L=box, pbc=True)
    )


def box_from_hilbert(hilbert, *, what: str = "eqxnqs") -> tuple[tuple[float, ...], int]:
    """Box side lengths and particle number of a NetKet continuous Hilbert space.

    Refuses a space that is not periodic in every direction (as NetKet's
    `DeepSetRelDistance` does), naming `what` needs it.
    """
    geometry = getattr(hilbert, "geometry", None)
    if geometry is None or not hasattr(hilbert, "n_particles"):
        raise TypeError(
            "expected a NetKet continuous Hilbert space such as "
            f"netket.experimental.hilbert.Particle; got {type(hilbert).__name__}."
        )
    pbc = tuple(bool(p) for p in geometry.pbc)
    if not all(pbc):
        raise ValueError(
            f"{what} needs a box that is periodic in every direction; the Hilbert space has "
            f"pbc={pbc}."
        )
    return check_box(hilbert.domain), int(hilbert.n_particles)
