"""Means and errors of per-sample estimators, across Markov chains."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
from jaxtyping import Array, Float


class Estimate(NamedTuple):
    """A Monte Carlo estimate: `mean`, its standard `error`, and `r_hat`, each of one shape.

    The error is NetKet's (chain means corrected for the integrated
    autocorrelation time); ``r_hat`` is its split-chain Gelman-Rubin statistic.
    """

    mean: np.ndarray
    error: np.ndarray
    r_hat: np.ndarray


def as_chains(samples, n_dof: int) -> Float[Array, "n_chains n_per_chain n_dof"]:
    """Samples as ``(n_chains, n_per_chain, n_dof)``.

    NetKet's ``vstate.samples`` already has this shape; a flat
    ``(n_samples, n_dof)`` array is taken as one chain.
    """
    samples = jnp.asarray(samples)
    if samples.ndim == 2:
        samples = samples[None]
    if samples.ndim != 3 or samples.shape[-1] != n_dof:
        raise ValueError(
            f"samples must have shape (n_chains, n_per_chain, {n_dof}) or (n_samples, {n_dof}); "
            f"got {tuple(samples.shape)}."
        )
    if not jnp.issubdtype(samples.dtype, jnp.floating):
        raise ValueError(f"samples must be real coordinates; got dtype {samples.dtype}.")
    return samples


@jax.jit
def _component_statistics(flat):
    """NetKet's statistics of each component of ``(n_chains, n_per_chain, n)``, and which
    components are the same in every sample."""
    constant = jnp.all(flat == flat[:1, :1], axis=(0, 1))
    return jax.vmap(nk.stats.statistics, in_axes=-1)(flat), constant


def chain_estimate(values: Float[Array, "n_chains n_per_chain ..."]) -> Estimate:
    """The `Estimate` of every component of per-sample ``values`` (nothing is dropped)."""
    values = jnp.asarray(values)
    n_chains, n_per_chain = values.shape[:2]
    flat = values.reshape(n_chains, n_per_chain, -1)
    stats, constant = _component_statistics(flat)
    # A component that is the same in every sample (g1 at r = 0) is exact; NetKet's
    # autocorrelation estimate would divide 0 by 0 there.
    constant = np.asarray(constant)
    error = np.where(constant, 0.0, np.asarray(stats.error_of_mean))
    r_hat = np.where(constant, 1.0, np.asarray(stats.R_hat))
    shape = values.shape[2:]
    return Estimate(*(np.asarray(a).reshape(shape) for a in (stats.mean, error, r_hat)))


#: Numbers (float64) that one vectorised step of an observable may hold: 32 MiB.
ELEMENTS_PER_STEP = 2**22


def per_sample(fn, samples, work_per_sample: int, *, elements_per_step: int = ELEMENTS_PER_STEP):
    """``fn`` of every sample of ``(n_chains, n_per_chain, n_dof)``, a few samples at a time.

    `fn` maps one configuration to an array; `work_per_sample` (the size of
    one call's largest intermediate array) and `elements_per_step` set how
    many samples each ``lax.map`` step takes, so that memory stays bounded.
    """
    n_chains, n_per_chain, n_dof = samples.shape
    flat = samples.reshape(-1, n_dof)
    batch = max(1, min(flat.shape[0], elements_per_step // max(1, work_per_sample)))
    values = jax.lax.map(fn, flat, batch_size=batch)
    return values.reshape(n_chains, n_per_chain, *values.shape[1:])
