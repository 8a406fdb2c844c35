r"""NetKet's `VMC_SR` with local energies clipped in the gradient only.

The SR update is :math:`\delta\theta = (S + \lambda)^{-1} \langle O^* (E_{loc} -
\langle E_{loc}\rangle)\rangle`. In continuous space the local energy is heavy
tailed: a configuration where two atoms nearly touch has a huge potential
and kinetic energy. One such sample can dominate the force, and SR divides it
by the small eigenvalues of S, so a single step can throw the network into a
region it never leaves (e.g. a gelu unit whose input is negative for every
sample). FermiNet and DeepQMC therefore clip the local energies that enter
the gradient to ``median +- width * mean|E_loc - median|``. The energy that
is logged and reported is never clipped.
"""

import jax
import jax.numpy as jnp
import numpy as np
from netket import stats as nkstats
from netket._src.driver.vmc_sr import VMC_SR as _NetKetVMC_SR
from netket._src.driver.vmc_sr import (
    _MCMC_DIAGNOSTICS_MAX_LAG,
    get_samples_and_pdf,
    sr,
    srt,
    srt_onthefly,
)
from netket.utils import struct
from netket.vqs import MCState


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


class VMC_SR(_NetKetVMC_SR):
    """`netket.driver.VMC_SR` whose gradient uses clipped local energies.

    Same constructor and behaviour as NetKet's driver, plus:

    - `clip_local_energy`: the width (in mean absolute deviations around the
      median) to which local energies are clipped *in the gradient only*;
      `None` gives NetKet's update exactly. The logged and returned energy
      statistics always use the unclipped values.

    Each step also logs ``NonFiniteLocalEnergies``: how many local energies
    were not finite (they make the logged energy non-finite as well; in the
    gradient they are replaced by the median).
    """

    clip_local_energy: float | None = struct.field(pytree_node=False, serialize=False)
    _n_non_finite: object = struct.field(pytree_node=False, serialize=False, default=0)

    def __init__(self, *args, clip_local_energy: float | None = 5.0, **kwargs):
        if clip_local_energy is not None and not (
            np.isfinite(clip_local_energy) and clip_local_energy > 0
        ):
            raise ValueError(
                f"clip_local_energy must be a positive number or None; got {clip_local_energy!r}."
            )
        super().__init__(*args, **kwargs)
        if clip_local_energy is not None and not isinstance(self.state, MCState):
            raise ValueError(
                "clip_local_energy needs a Monte Carlo state (MCState); pass "
                "clip_local_energy=None for an exact (full-sum) state."
            )
        self.clip_local_energy = clip_local_energy
        self._n_non_finite = 0

    def compute_loss_and_update(self):
        if self.clip_local_energy is None:
            loss_stats, dp = super().compute_loss_and_update()
            self._n_non_finite = None
            return loss_stats, dp
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
