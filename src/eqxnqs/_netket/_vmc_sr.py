r"""NetKet's `VMC_SR` with clipped local energies in the gradient and a trust region.

The SR update is :math:`\delta\theta = (S + \lambda)^{-1} \langle O^* (E_{loc} -
\langle E_{loc}\rangle)\rangle`. In continuous space the local energy is heavy
tailed: a configuration where two atoms nearly touch has a huge potential
and kinetic energy. One such sample can dominate the force, and SR divides it
by the small eigenvalues of S, so a single step can throw the network into a
region it never leaves (e.g. a gelu unit whose input is negative for every
sample). FermiNet and DeepQMC therefore clip the local energies that enter
the gradient to ``median +- width * mean|E_loc - median|``. The energy that
is logged and reported is never clipped.

The first steps from a poor initial state can still be violent (a cusp
strength jumping by a factor 50 in one step). A trust region bounds them:
the natural-gradient update ``dp`` is scaled down whenever its norm in the
metric of the samples, ``sqrt(dp^T S dp)`` = the standard deviation over the
samples of the first-order change ``J dp`` of log psi, exceeds ``max_norm``
(FermiNet's "norm constraint" does the same for KFAC). With ``optax.sgd(lr)``
one step then changes log psi by at most ``lr * max_norm`` (RMS over the
samples) to first order.

In sample space (MinSR, ``use_ntk``) NetKet contracts the Jacobian ``J``
on the fly by default, which never holds it in memory but runs the network's
backward pass layer by layer. When ``J`` fits in `JACOBIAN_BYTES`, building
it once and forming ``J J^T`` is faster on the models here, so that is the
default instead; an explicit ``on_the_fly`` is always obeyed.
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization
from jax.flatten_util import ravel_pytree
from netket import jax as nkjax
from netket import stats as nkstats
from netket._src.driver.vmc_sr import (
    _MCMC_DIAGNOSTICS_MAX_LAG,
    get_samples_and_pdf,
    sr,
    srt,
    srt_onthefly,
)
from netket._src.driver.vmc_sr import VMC_SR as _NetKetVMC_SR
from netket.utils import struct
from netket.vqs import MCState


@jax.jit
def clip_local_energies(local_energies: jax.Array, width: float) -> jax.Array:
    """Clip to ``median +- width * mean absolute deviation from the median``.

    Non-finite values are replaced by the median first (they would otherwise
    make the deviation infinite). Works on any shape; statistics are taken
    over all entries.
    """
    finite = jnp.isfinite(local_energies)
    median = jnp.nanmedian(jnp.where(finite, local_energies, jnp.nan))
    values = jnp.where(finite, local_energies, median)
    deviation = jnp.mean(jnp.abs(values - median))
    return jnp.clip(values, median - width * deviation, median + width * deviation)


#: Without an explicit `on_the_fly`, MinSR materialises the Jacobian when it fits in this.
JACOBIAN_BYTES = 2**30


def jacobian_bytes(vstate: MCState) -> int:
    """The size of the Jacobian of log psi over all samples of `vstate`, in bytes."""
    itemsize = max(leaf.dtype.itemsize for leaf in jax.tree.leaves(vstate.parameters))
    return vstate.n_samples * vstate.n_parameters * itemsize


#: The trust region's norm is estimated on at most about this many samples.
NORM_SAMPLES = 512


@partial(jax.jit, static_argnums=0)
def fisher_norm(apply_fun, parameters, model_state, samples, update) -> jax.Array:
    """``sqrt(update^T S update)``: the spread over `samples` of ``J update``.

    ``J`` is the Jacobian of log psi with respect to the parameters; the
    spread is the standard deviation of the real part, as S is centred.
    """
    samples = samples.reshape(-1, samples.shape[-1])

    def log_psi(params):
        return apply_fun({"params": params, **model_state}, samples)

    _, change = jax.jvp(log_psi, (parameters,), (update,))
    change = jnp.real(change)
    return jnp.sqrt(jnp.mean((change - jnp.mean(change)) ** 2))


class VMC_SR(_NetKetVMC_SR):
    """`netket.driver.VMC_SR` with clipped local energies in the gradient and a trust region.

    Same constructor and behaviour as NetKet's driver, plus:

    - `clip_local_energy`: the width (in mean absolute deviations around the
      median) to which local energies are clipped *in the gradient only*;
      `None` does not clip. The logged and returned energy statistics always
      use the unclipped values.
    - `max_norm`: the largest ``sqrt(dp^T S dp)`` of an update ``dp``
      (larger updates are scaled down to it); `None` for no bound. The
      default, 100, lets ``optax.sgd(0.01)`` change log psi by at most 1
      (RMS over the samples) per step. The norm is estimated on about 512
      evenly spaced samples of the iteration (all of them when there are
      fewer), which costs a quarter of a full pass at 2048 samples. Each
      step logs ``UpdateNorm``, the norm before scaling.

    - `on_the_fly`: as NetKet's, but by default (`None`) MinSR builds the
      Jacobian whenever it fits in `JACOBIAN_BYTES` (1 GiB), and only larger
      ones are contracted on the fly. A checkpoint written with either choice
      resumes with the other (SPRING's buffer is converted).

    With ``clip_local_energy=None, max_norm=None`` the updates are NetKet's
    exactly.

    Each step also logs ``NonFiniteLocalEnergies``: how many local energies
    were not finite (they make the logged energy non-finite as well; in the
    gradient they are replaced by the median), and ``SamplerWidth`` when the
    sampler adapts its proposal width (``target_acceptance``).
    """

    clip_local_energy: float | None = struct.field(pytree_node=False, serialize=False)
    max_norm: float | None = struct.field(pytree_node=False, serialize=False)
    _n_non_finite: object = struct.field(pytree_node=False, serialize=False, default=None)
    _update_norm: object = struct.field(pytree_node=False, serialize=False, default=None)

    def __init__(
        self,
        *args,
        clip_local_energy: float | None = 5.0,
        max_norm: float | None = 100.0,
        on_the_fly: bool | None = None,
        **kwargs,
    ):
        for name, value in (("clip_local_energy", clip_local_energy), ("max_norm", max_norm)):
            if value is not None and not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number or None; got {value!r}.")
        vstate = kwargs.get("variational_state")
        if isinstance(vstate, MCState):
            if kwargs.get("use_ntk") is None:  # NetKet's rule, without its message
                kwargs["use_ntk"] = vstate.n_parameters > vstate.n_samples
            if on_the_fly is None:
                on_the_fly = kwargs["use_ntk"] and jacobian_bytes(vstate) > JACOBIAN_BYTES
        super().__init__(*args, on_the_fly=on_the_fly, **kwargs)
        if (clip_local_energy, max_norm) != (None, None) and not isinstance(self.state, MCState):
            raise ValueError(
                "clip_local_energy and max_norm need a Monte Carlo state (MCState); pass "
                "None for both with an exact (full-sum) state."
            )
        self.clip_local_energy = clip_local_energy
        self.max_norm = max_norm
        self._n_non_finite = None
        self._update_norm = None

    def __process_deserialization_state__(self, state):
        # SPRING's buffer is a flat vector with a materialised Jacobian and a
        # parameter tree on the fly: a checkpoint written the other way is converted.
        state = super().__process_deserialization_state__(state)
        saved, current = state.get("_old_updates"), self._old_updates
        if saved is None or current is None or isinstance(saved, dict) == isinstance(current, dict):
            return state
        template, _ = nkjax.tree_to_real(self.state.parameters)
        _, unravel = ravel_pytree(template)
        if isinstance(saved, dict):
            flat, _ = ravel_pytree(serialization.from_state_dict(template, saved))
            state["_old_updates"] = np.asarray(flat)
        else:
            state["_old_updates"] = serialization.to_state_dict(unravel(jnp.asarray(saved)))
        return state

    def compute_loss_and_update(self):
        if self.clip_local_energy is None:
            loss_stats, dp = super().compute_loss_and_update()
            self._n_non_finite = None
        else:
            loss_stats, dp = self._clipped_loss_and_update()
        if self.max_norm is not None:
            samples, _ = get_samples_and_pdf(self.state)
            samples = samples.reshape(-1, samples.shape[-1])
            # A bound needs no precision: at most NORM_SAMPLES evenly spaced samples.
            samples = samples[:: max(1, samples.shape[0] // NORM_SAMPLES)]
            norm = fisher_norm(
                self.state._apply_fun, self.state.parameters, self.state.model_state, samples, dp
            )
            self._update_norm = norm
            scale = jnp.minimum(1.0, self.max_norm / norm)
            self._dp = dp = jax.tree.map(lambda leaf: leaf * scale.astype(leaf.dtype), dp)
        return loss_stats, dp

    def _clipped_loss_and_update(self):
        local_energies = self.state.local_estimators(self._ham)
        self._loss_stats = nkstats.statistics(local_energies)
        self._n_non_finite = jnp.sum(~jnp.isfinite(local_energies.data))
        decay = self._mcmc_convergence_diagnostics_ema_decay
        if decay is not None:  # NetKet's running convergence diagnostics, as in its driver
            old = self._loss_stats_online
            self._loss_stats_online = nkstats.online_statistics(
                local_energies,
                old_estimator=None if old is None or old.n_samples == 0 else old,
                decay=decay,
                max_lag=_MCMC_DIAGNOSTICS_MAX_LAG,
            )
        clipped = nkstats.LocalEstimators(
            clip_local_energies(local_energies.data, self.clip_local_energy)
        )
        diag_shift, proj_reg, momentum = self.diag_shift, self.proj_reg, self.momentum
        if callable(diag_shift):
            diag_shift = diag_shift(self.step_count)
        if callable(proj_reg):
            proj_reg = proj_reg(self.step_count)
        if callable(momentum):
            momentum = momentum(self.step_count)
        samples, pdf = get_samples_and_pdf(self.state)
        if self.use_ntk:
            update = srt_onthefly if self.on_the_fly else srt
        elif self.on_the_fly:
            raise NotImplementedError("on_the_fly=True needs use_ntk=True, as in NetKet.")
        else:
            update = sr
        self._dp, self._old_updates, self.info = update(
            self.state._apply_fun,
            clipped,
            self.state.parameters,
            self.state.model_state,
            samples,
            diag_shift=diag_shift,
            solver_fn=self._linear_solver,
            mode=self.mode,
            proj_reg=proj_reg,
            momentum=momentum,
            old_updates=self._old_updates,
            chunk_size=self.chunk_size_bwd,
            weights=pdf,
        )
        return self._loss_stats, self._dp

    def _log_additional_data(self, log_dict: dict):
        super()._log_additional_data(log_dict)
        if self._n_non_finite is not None:
            log_dict["NonFiniteLocalEnergies"] = int(self._n_non_finite)
        if self._update_norm is not None:
            log_dict["UpdateNorm"] = float(self._update_norm)
        segments = getattr(self.state.sampler_state, "segment_acceptance", None)
        if segments is not None:
            log_dict["SegmentAcceptance"] = segments
        width = getattr(self.state.sampler_state, "rule_state", None)
        if isinstance(width, jax.Array) and width.ndim == 0:
            log_dict["SamplerWidth"] = float(width)
