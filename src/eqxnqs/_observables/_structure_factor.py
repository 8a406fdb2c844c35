r"""The static structure factor S(k) and, in 1D, the Luttinger parameter K.

.. math::
    S(\mathbf k) = \frac{1}{N} \big\langle |\rho_{\mathbf k}|^2 \big\rangle, \qquad
    \rho_{\mathbf k} = \sum_j e^{-i \mathbf k \cdot \mathbf x_j},

on the reciprocal lattice of the periodic box, ``k_a = 2 pi n_a / L_a`` with
integer ``n_a`` and ``k != 0``. An ideal gas has ``S(k) = 1``; every
system tends to 1 at large k.
"""

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._geometry import check_box
from ._statistics import Estimate, as_chains, chain_estimate, per_sample


class StructureFactor(NamedTuple):
    """S(k) averaged over shells of equal |k| (one entry per shell, in increasing |k|).

    - `k`: |k| of each shell (1 / length).
    - `value`, `error`, `r_hat`: the estimate of S on each shell (`Estimate`).
    - `multiplicity`: how many reciprocal vectors k the shell holds (k and
      -k counted once: ``S(-k) = S(k)``).
    """

    k: np.ndarray
    value: np.ndarray
    error: np.ndarray
    r_hat: np.ndarray
    multiplicity: np.ndarray


def _box_and_particles(samples_shape, box) -> tuple[tuple[float, ...], int]:
    box = check_box(box)
    n_dof = samples_shape[-1]
    if n_dof % len(box) or n_dof // len(box) < 2:
        raise ValueError(
            f"samples with {n_dof} coordinates do not hold >= 2 particles in {len(box)}D."
        )
    return box, n_dof // len(box)


def default_k_max(box: tuple[float, ...], n_particles: int) -> float:
    """Three times (1D) or twice (2D, 3D) ``2 pi rho^(1/D)``, the scale of the first peak."""
    dim = len(box)
    scale = 2 * math.pi * (n_particles / math.prod(box)) ** (1 / dim)
    return (3.0 if dim == 1 else 2.0) * scale


def reciprocal_shells(box: tuple[float, ...], k_max: float):
    """Half of the reciprocal vectors with ``0 < |k| <= k_max`` (one of each pair k, -k).

    Returns the vectors ``(n_k, D)``, the shell of each ``(n_k,)``, and each
    shell's |k| and number of vectors.
    """
    ranges = [
        np.arange(-int(k_max * length / (2 * math.pi)) - 1, int(k_max * length / (2 * math.pi)) + 2)
        for length in box
    ]
    grid = np.stack(np.meshgrid(*ranges, indexing="ij"), -1).reshape(-1, len(box))
    vectors = grid * (2 * math.pi / np.asarray(box))
    norms = np.linalg.norm(vectors, axis=-1)
    # The first non-zero integer component positive: one of each pair k, -k.
    first = np.array([row[np.flatnonzero(row)[0]] if row.any() else 0 for row in grid])
    keep = (first > 0) & (norms <= k_max * (1 + 1e-12))
    vectors, norms = vectors[keep], norms[keep]
    if not len(vectors):
        raise ValueError(
            f"k_max = {k_max} is below the smallest reciprocal vector 2 pi / L = "
            f"{2 * math.pi / max(box):.6g}."
        )
    shell_k, shell = np.unique(np.round(norms, 9), return_inverse=True)
    multiplicity = np.bincount(shell)
    return vectors, shell, shell_k, multiplicity


def _shell_values(samples, box, n_particles, vectors, shell, multiplicity):
    """Per-sample S of each shell, ``(n_chains, n_per_chain, n_shells)``."""
    dim = len(box)
    k = jnp.asarray(vectors, dtype=samples.dtype)
    weights = jnp.asarray(1.0 / multiplicity, dtype=samples.dtype)
    shell = jnp.asarray(shell)

    def one(x):
        phases = x.reshape(n_particles, dim) @ k.T  # (N, n_k)
        power = jnp.sum(jnp.cos(phases), 0) ** 2 + jnp.sum(jnp.sin(phases), 0) ** 2
        by_shell = jax.ops.segment_sum(power / n_particles, shell, len(multiplicity))
        return by_shell * weights

    return per_sample(one, samples, n_particles * len(vectors))


def structure_factor(samples, box, *, k_max: float | None = None) -> StructureFactor:
    """S(k) of configurations in a periodic box, on shells of equal |k| up to `k_max`.

    `samples` has shape ``(n_chains, n_per_chain, N * D)`` (``vstate.samples``)
    or ``(n_samples, N * D)`` (one chain); `box` the side lengths. `k_max`
    defaults to `default_k_max` (three times ``2 pi rho`` in 1D, twice
    ``2 pi rho^(1/D)`` in 2D and 3D). Errors are NetKet's, across chains and
    corrected for autocorrelation. Costs ``O(n_samples * N * n_k)``.
    """
    box, n_particles = _box_and_particles(jnp.shape(samples), box)
    samples = as_chains(samples, n_particles * len(box))
    k_max = default_k_max(box, n_particles) if k_max is None else float(k_max)
    if not (math.isfinite(k_max) and k_max > 0):
        raise ValueError(f"k_max must be a positive number; got {k_max}.")
    vectors, shell, shell_k, multiplicity = reciprocal_shells(box, k_max)
    values = _shell_values(samples, box, n_particles, vectors, shell, multiplicity)
    estimate = chain_estimate(values)
    return StructureFactor(shell_k, *estimate, multiplicity)


def luttinger_parameter(samples, box, *, n_fit: int = 1) -> Estimate:
    r"""The Luttinger parameter K of a 1D system from the slope of S(k) at small k.

    ``S(k) ~ K |k| / (2 pi rho)`` for small k, so K is the least-squares slope
    through the origin of ``2 pi rho S(k_m) / k_m`` over the `n_fit` smallest
    ``k_m = 2 pi m / L``; with ``n_fit = 1`` (default), ``K = N S(2 pi / L)``.
    The estimator is linear in the per-sample ``|rho_k|^2``, so its error
    (NetKet's, across chains) includes the correlation between the k's.
    Free fermions and the Tonks-Girardeau gas have K = 1; the
    Calogero-Sutherland model has K = 1 / beta.
    """
    box, n_particles = _box_and_particles(jnp.shape(samples), box)
    if len(box) != 1:
        raise ValueError(f"the Luttinger parameter is defined here for 1D systems; box is {box}.")
    if not (isinstance(n_fit, int) and n_fit >= 1):
        raise ValueError(f"n_fit must be a positive integer; got {n_fit!r}.")
    samples = as_chains(samples, n_particles)
    (length,) = box
    vectors, shell, k, multiplicity = reciprocal_shells(box, 2 * math.pi * n_fit / length)
    values = _shell_values(samples, box, n_particles, vectors, shell, multiplicity)
    density = n_particles / length
    weights = jnp.asarray(2 * math.pi * density * k / np.sum(k**2), dtype=values.dtype)
    return chain_estimate(values @ weights)
