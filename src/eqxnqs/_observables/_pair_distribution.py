"""Observables from Monte Carlo samples."""

import math

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._geometry import minimum_image_distances

#: Every sample's pair distances, shape ``(n_samples, n_pairs)``.
_all_distances = jax.jit(jax.vmap(minimum_image_distances, in_axes=(0, None)))


def _ball_volume(radius, dim: int):
    return math.pi ** (dim / 2) / math.gamma(dim / 2 + 1) * radius**dim


def pair_distribution(
    samples: Float[Array, "n_samples n_dof"],
    box,
    *,
    n_bins: int = 50,
    r_max: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pair distribution function g(r) from configurations in a periodic box.

    Distances are minimum-image; ``r_max`` defaults to half the shortest side
    (beyond it the spherical shells are cut by the box). Normalised so that
    an ideal gas (uniform, independent positions) has g(r) = 1:
    ``g = counts / (n_samples * n_pairs * shell_volume / box_volume)``.

    Returns the bin centres and g at them (``n_bins`` each).
    """
    box = np.atleast_1d(np.asarray(box, dtype=float))
    dim = box.size
    samples = jnp.asarray(samples).reshape(-1, samples.shape[-1])
    n_particles = samples.shape[-1] // dim
    if n_particles * dim != samples.shape[-1] or n_particles < 2:
        raise ValueError(
            f"samples of shape {tuple(samples.shape)} do not hold >= 2 particles in {dim}D."
        )
    r_max = float(box.min() / 2) if r_max is None else float(r_max)
    if not 0 < r_max <= box.min() / 2:
        raise ValueError(f"r_max must be in (0, {box.min() / 2}] (half the box); got {r_max}.")
    positions = samples.reshape(samples.shape[0], n_particles, dim)
    distances = np.asarray(_all_distances(positions, jnp.asarray(box))).ravel()
    counts, edges = np.histogram(distances, bins=n_bins, range=(0.0, r_max))
    shells = _ball_volume(edges[1:], dim) - _ball_volume(edges[:-1], dim)
    n_pairs = n_particles * (n_particles - 1) / 2
    ideal = samples.shape[0] * n_pairs * shells / np.prod(box)
    return (edges[1:] + edges[:-1]) / 2, counts / ideal
