r"""One-body density matrix g1(r), momentum distribution n(k) and condensate fraction.

For a real, positive ground state the translation-averaged one-body density
matrix, normalised to ``g1(0) = 1``, is

.. math::
    g_1(\mathbf r) = \Big\langle \frac{1}{N} \sum_i
        \frac{\psi(\mathbf x_1, \dots, \mathbf x_i + \mathbf r, \dots, \mathbf x_N)}
             {\psi(\mathbf x)} \Big\rangle_{|\psi|^2}

(the standard displacement estimator). It is evaluated on the grid of
displacements ``r_a = m L_a / M`` (``m = 0 .. M-1`` per axis), which covers the
box, so the momentum distribution on the reciprocal lattice follows by a
discrete Fourier transform,

.. math::
    n(\mathbf k) = \frac{N}{M^D} \sum_{\mathbf r} g_1(\mathbf r)\,
        \cos(\mathbf k \cdot \mathbf r), \qquad \sum_{\mathbf k} n(\mathbf k) = N,

and the condensate fraction of the finite box is ``n0 = n(k = 0) / N``, the
mean of g1 over the box (the occupation of the zero-momentum orbital, which
is the leading natural orbital of a translation-invariant state). The grid
aliases n(k) beyond ``|k| = pi M / L``: n0 is exact up to ``sum_{G != 0}
n(G) / N``, ``G = 2 pi M / L``, which a fine enough grid makes negligible.
"""

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._geometry import check_box, minimum_image
from .._models._periodic import PeriodicLogAmplitude
from ._statistics import ELEMENTS_PER_STEP, Estimate, as_chains, chain_estimate, per_sample

#: Displacements per axis when `n_points` is not given, by dimension.
DEFAULT_POINTS = {1: 32, 2: 12, 3: 8}


class OneBodyDensityMatrix(NamedTuple):
    """g1 on a grid of displacements, with n(k), the condensate fraction and a tail check.

    - `displacements`: the grid ``(M^D, D)`` of vectors r, in ``[0, L)`` per axis.
    - `distance`: each displacement's minimum-image length ``(M^D,)``.
    - `g1`: `Estimate` of g1 at each displacement (``g1(0) = 1`` exactly).
    - `radius`, `g1_radial`: the distinct distances and the `Estimate` of g1
      averaged over the displacements of each (its error from the per-sample
      averages, so correlations between displacements are included).
    - `momenta`: the reciprocal vectors ``(M^D, D)`` of the grid (FFT order).
    - `n_k`: `Estimate` of n(k) at each momentum (sums to N).
    - `condensate_fraction`: `Estimate` of ``n0 = n(0) / N``.
    - `largest_sample_share`: the largest share of one sample in the sum of
      the per-sample n0 estimates. The ratio psi(x') / psi(x) is
      heavy-tailed; nothing is clipped or dropped, and a share above a few
      percent says that the estimate rests on a few samples.
    - `n_samples`: how many samples were used.
    """

    displacements: np.ndarray
    distance: np.ndarray
    g1: Estimate
    radius: np.ndarray
    g1_radial: Estimate
    momenta: np.ndarray
    n_k: Estimate
    condensate_fraction: Estimate
    largest_sample_share: float
    n_samples: int


def displacement_grid(box: tuple[float, ...], n_points: int) -> np.ndarray:
    """The ``n_points^D`` displacements ``m L_a / n_points`` (C order), shape ``(n^D, D)``."""
    axes = [np.arange(n_points) * length / n_points for length in box]
    return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(box))


def _log_ratio_function(model, n_particles: int, dim: int):
    """``f(x, particle, position) -> log psi(x') - log psi(x)`` through the model's move
    protocol: O(N) for pair sums and triplets, a forward pass for the rest (and for
    any other callable)."""
    if isinstance(model, PeriodicLogAmplitude):
        move_state, moved = model.move_state, model.moved
    else:

        def move_state(x):
            return None

        def moved(x, state, particle, position):
            y = x.reshape(n_particles, dim).at[particle].set(position).reshape(-1)
            return model(y), None

    def prepare(x):
        return move_state(x), model(x)

    def log_ratio(x, prepared, particle, position):
        state, log_psi = prepared
        return moved(x, state, particle, position)[0] - log_psi

    return prepare, log_ratio


def one_body_density_matrix(
    model,
    samples,
    *,
    box=None,
    n_points: int | None = None,
    max_samples: int | None = None,
) -> OneBodyDensityMatrix:
    """g1(r), n(k) and the condensate fraction of a real, positive wavefunction.

    - `model`: log psi of one configuration, ``model(x)`` with x of shape
      ``(N * D,)``: any eqxnqs model (through its move protocol, O(N) per
      displaced particle for pair sums and triplets, a forward pass
      otherwise), any such callable with a ``box``, or
      ``eqxnqs.model_from_state(vstate)``.
    - `samples`: configurations drawn from ``|psi|^2``, shape ``(n_chains,
      n_per_chain, N * D)`` (``vstate.samples``) or ``(n_samples, N * D)``.
    - `box`: side lengths; defaults to ``model.box``.
    - `n_points`: displacements per axis (default 32 in 1D, 12 in 2D, 8 in 3D).
    - `max_samples`: use only the first ``max_samples // n_chains`` samples of
      every chain (default: all).

    Every particle of every sample is displaced by every grid vector, so the
    cost is ``n_samples * N * n_points^D`` log-amplitude changes.
    """
    box = check_box(model.box if box is None else box)
    dim = len(box)
    n_points = DEFAULT_POINTS.get(dim, 8) if n_points is None else n_points
    if not (isinstance(n_points, int) and n_points >= 2):
        raise ValueError(f"n_points must be an integer >= 2; got {n_points!r}.")
    n_dof = jnp.shape(samples)[-1]
    n_particles = n_dof // dim
    if n_particles * dim != n_dof or n_particles < 1:
        raise ValueError(f"samples with {n_dof} coordinates do not hold particles in {dim}D.")
    samples = as_chains(samples, n_dof)
    if max_samples is not None:
        if not (isinstance(max_samples, int) and max_samples >= samples.shape[0]):
            raise ValueError(
                f"max_samples must be an integer >= n_chains ({samples.shape[0]}); "
                f"got {max_samples!r}."
            )
        samples = samples[:, : max(1, max_samples // samples.shape[0])]
    grid = displacement_grid(box, n_points)
    box_array = jnp.asarray(box, dtype=samples.dtype)
    displacements = jnp.asarray(grid, dtype=samples.dtype)
    prepare, log_ratio = _log_ratio_function(model, n_particles, dim)
    if jnp.issubdtype(jax.eval_shape(model, samples[0, 0]).dtype, jnp.complexfloating):
        raise ValueError("one_body_density_matrix needs a real log-amplitude (a positive psi).")

    # Memory: one sample's displacements go a few at a time, so that
    # (displacements per step) x N x (one log-ratio's working memory) stays
    # near ELEMENTS_PER_STEP numbers; for a whole forward pass per log-ratio
    # (the MPNN at N = 30 in 2D) all of them at once would need tens of GB.
    x0 = samples[0, 0]
    per_ratio = _working_elements(
        lambda x, prepared: log_ratio(x, prepared, 0, x[:dim]), x0, jax.eval_shape(prepare, x0)
    )
    per_displacement = n_particles * max(per_ratio, n_particles)
    displacements_per_step = max(1, min(len(grid), ELEMENTS_PER_STEP // per_displacement))

    def one(x):
        prepared = prepare(x)
        positions = x.reshape(n_particles, dim)

        def at(r):
            def for_particle(i):
                return jnp.exp(log_ratio(x, prepared, i, (positions[i] + r) % box_array))

            ratio = jnp.mean(jax.vmap(for_particle)(jnp.arange(n_particles)))
            # psi(x) / psi(x) = 1 at r = 0, without the rounding of two evaluations.
            return jnp.where(jnp.all(r == 0), 1.0, ratio)

        return jax.lax.map(at, displacements, batch_size=displacements_per_step)

    g1_values = per_sample(one, samples, displacements_per_step * per_displacement)
    momenta = _grid_momenta(box, n_points)
    cosines = jnp.cos(displacements @ jnp.asarray(momenta, samples.dtype).T)  # (n_r, n_k)
    n_k_values = n_particles * (g1_values @ cosines) / len(grid)
    n0_values = jnp.mean(g1_values, axis=-1)
    share = float(jnp.max(jnp.abs(n0_values)) / jnp.sum(jnp.abs(n0_values)))
    distance = np.linalg.norm(np.asarray(minimum_image(grid, np.asarray(box))), axis=-1)
    radius, shell = np.unique(np.round(distance, 9), return_inverse=True)
    averaging = np.zeros((len(grid), len(radius)))
    averaging[np.arange(len(grid)), shell] = 1.0
    averaging /= averaging.sum(axis=0)
    return OneBodyDensityMatrix(
        displacements=grid,
        distance=distance,
        g1=chain_estimate(g1_values),
        radius=radius,
        g1_radial=chain_estimate(g1_values @ jnp.asarray(averaging, samples.dtype)),
        momenta=momenta,
        n_k=chain_estimate(n_k_values),
        condensate_fraction=chain_estimate(n0_values),
        largest_sample_share=share,
        n_samples=int(samples.shape[0] * samples.shape[1]),
    )


def _working_elements(fn, *args) -> int:
    """Numbers (float64-sized) of XLA's working memory for one call ``fn(*args)``.

    From the compiled call's memory analysis; ``0`` where the backend gives none.
    """
    memory = jax.jit(fn).lower(*args).compile().memory_analysis()
    if memory is None:
        return 0
    return int(memory.temp_size_in_bytes + memory.output_size_in_bytes) // 8


def _grid_momenta(box: tuple[float, ...], n_points: int) -> np.ndarray:
    """Reciprocal vectors of the displacement grid, ``2 pi n / L`` with n in FFT order."""
    axes = [2 * math.pi * np.fft.fftfreq(n_points, d=1.0 / n_points) / length for length in box]
    return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(box))
