"""Sums over each particle's neighbours, and their O(N) change when one particle moves.

The triplet factor and the backflow are built from per-particle
sums ``S_i = sum_{j != i} f(x_i - x_j)`` of one pair function ``f``.
"""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._geometry import all_pair_displacements


def neighbour_sums(fn, x: Float[Array, " n_dof"], n_particles: int, box) -> Array:
    """``sum_{j != i} fn(x_i - x_j)`` for every particle i, shape ``(n_particles, ...)``."""
    positions = x.reshape(n_particles, -1)
    u, off = all_pair_displacements(positions, jnp.asarray(box, dtype=x.dtype))
    terms = jax.vmap(jax.vmap(fn))(u)
    mask = off.reshape(*off.shape, *[1] * (terms.ndim - 2))
    return jnp.sum(jnp.where(mask, terms, 0.0), axis=1)


def neighbour_terms(fn, x: Float[Array, " n_dof"], n_particles: int, box, particle, at) -> Array:
    """``fn(x_i - at)`` for every particle i but `particle` (whose row is zero): the terms
    of the others' sums that a particle at `at` contributes, O(N)."""
    positions = x.reshape(n_particles, -1)
    others = jnp.arange(n_particles) != particle
    half_box = jnp.asarray(box, dtype=x.dtype) / 2
    u = jnp.where(others[:, None], positions - at, half_box)
    terms = jax.vmap(fn)(u)
    return jnp.where(others.reshape(-1, *[1] * (terms.ndim - 1)), terms, 0.0)


def moved_sums(fn, x, sums, n_particles: int, box, particle, position, reverse) -> Array:
    """The neighbour sums after `particle` moves to `position`, from `sums` in O(N).

    Every other particle's sum changes by one term; the mover's is rebuilt as
    ``reverse(sum of the new terms)``, `reverse` mapping ``fn(u)`` to ``fn(-u)`` (a sign
    flip for odd parts).
    """
    old_position = x.reshape(n_particles, -1)[particle]
    new = neighbour_terms(fn, x, n_particles, box, particle, position)
    old = neighbour_terms(fn, x, n_particles, box, particle, old_position)
    return (sums + new - old).at[particle].set(reverse(jnp.sum(new, axis=0)))
