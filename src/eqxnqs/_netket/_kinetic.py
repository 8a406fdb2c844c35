r"""A drop-in for NetKet's `KineticEnergy` that never builds the Hessian.

The local kinetic energy (hbar = 1) is

.. math::
    E_{kin}(x) = -\tfrac12 \sum_k \frac{1}{m_k}
        \Big(\partial_k^2 \log\psi + (\partial_k \log\psi)^2\Big),

which needs the gradient and only the *diagonal* of the Hessian of
``log psi``. NetKet builds the whole ``n_dof x n_dof`` Hessian per sample.
This operator takes, per state:

- every eqxnqs model (and NetKet's Flax ``DeepSetRelDistance``, after an
  exact parameter conversion): its ``grad_and_laplacian(x, 1/m)``, asked for
  by name through the state's ``apply_fun(variables, x, 1/m, method=...)``
  (`model_derivatives`), NetKet's and Flax's convention. That is
  O(N^2) per sample for an `eqxnqs.PairwiseLogAmplitude`
  (`eqxnqs.DeepSetRelDistance`, the Jastrows), folx's forward Laplacian for
  other networks (`eqxnqs.MPNN`), and the sum of its terms' routes for an
  `eqxnqs.SumLogAmplitude`;
- any other log-amplitude: folx's forward-mode Laplacian, with the masses
  folded into a rescaling of the coordinates.

Every route is exact to rounding.
"""

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
from netket.jax.sharding import sharding_decorator
from netket.utils import struct

from .._models._periodic import default_samples_per_step, folx_grad_and_laplacian
from ._log_amplitude import LogAmplitude


def _flax_grad_and_laplacian(module, x, inverse_mass):
    """`LogAmplitude.grad_and_laplacian` for NetKet's Flax ``DeepSetRelDistance``.

    Flax calls it with the bound module (``apply(..., method=this)``); the
    parameters are converted exactly to our `DeepSetRelDistance`, inside the trace.
    """
    from ._flax_convert import from_flax

    if not isinstance(module, nk.models.DeepSetRelDistance):
        raise TypeError(f"no fast route for {type(module).__name__}")
    return LogAmplitude(from_flax(module, module.variables)).grad_and_laplacian(x, inverse_mass)


#: What KineticEnergy asks NetKet's ``apply_fun`` for, in turn: the eqxnqs states' method
#: (`LogAmplitude.grad_and_laplacian`), then NetKet's Flax DeepSetRelDistance's.
ROUTES = ("grad_and_laplacian", _flax_grad_and_laplacian)


def model_derivatives(logpsi: Callable, params, x, inverse_mass):
    """``(grad, laplacian)`` of ``log psi`` for configurations ``x`` ``(n_samples, n_dof)``
    by the model's own route, or ``None`` if it has none.

    The route is asked for through NetKet's ``apply_fun(variables, x, *args,
    method=...)``, the Flax convention that NetKet's Equinox wrapper shares.
    A log-amplitude that takes no ``method``, or whose model has no such
    route, answers with an error while it is traced, and gets ``None``.
    """
    for method in ROUTES:
        try:
            return logpsi(params, x, inverse_mass, method=method)
        except (TypeError, AttributeError):
            continue
    return None


def _per_coordinate(mass, hilbert) -> np.ndarray:
    """Masses as given (scalar, per particle or per coordinate) -> validated array."""
    values = np.asarray(mass)
    if values.dtype.kind not in "iuf" or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"masses must be positive finite real numbers; got {mass!r}.")
    n_dof = hilbert.size
    n_particles = getattr(hilbert, "n_particles", n_dof)
    if values.ndim == 0 or values.shape == (n_dof,):
        return values
    if values.shape == (n_particles,):
        return np.repeat(values, n_dof // n_particles)
    raise ValueError(
        f"mass must be a number, one per particle (shape ({n_particles},)) or one "
        f"per coordinate (shape ({n_dof},)); got shape {values.shape}."
    )


def _local_values(logpsi: Callable, operator: "KineticEnergy", params, x):
    """Local kinetic energies of the samples ``x`` (n_samples, n_dof), a few at a time."""
    derivatives = model_derivatives(logpsi, params, x, operator._inverse_mass)
    if derivatives is None:
        return jax.lax.map(
            lambda xs: operator._expect_kernel_single(logpsi, params, xs),
            x,
            batch_size=default_samples_per_step(x.shape[-1]),
        )
    return operator._local_value(*derivatives)


class KineticEnergy(nk.operator.KineticEnergy):
    r"""Kinetic energy ``-1/2 sum_k (1/m_k) d^2/dx_k^2`` (hbar = 1), computed fast.

    Same constructor, expectation values and local values as
    `netket.operator.KineticEnergy` (to rounding), so it can replace it
    anywhere: sums with `PotentialEnergy`, ``MCState.expect`` and
    ``expect_and_grad``, `VMC` / `VMC_SR`, ``chunk_size``, sharding.
    ``mass`` is a number, one value per particle, or one per coordinate
    (NetKet's layout); masses must be positive. See the module docstring
    for how the local value is computed.
    """

    _inverse_mass: jax.Array = struct.field()

    def __init__(self, hilbert, mass: float | list[float], dtype=None):
        per_coordinate = _per_coordinate(mass, hilbert)
        super().__init__(hilbert, mass, dtype)
        self._inverse_mass = jnp.asarray(1.0 / per_coordinate, dtype=self._mass.dtype)

    def _local_value(self, grad, laplacian):
        """``-1/2 (laplacian + sum_k grad_k^2 / m_k)`` (any leading batch shape)."""
        return -0.5 * (laplacian + jnp.sum(self._inverse_mass * grad**2, axis=-1))

    def _expect_kernel_single(self, logpsi: Callable, params, x):
        derivatives = model_derivatives(logpsi, params, x[None], self._inverse_mass)
        if derivatives is None:
            return self._local_value(
                *folx_grad_and_laplacian(lambda y: logpsi(params, y), x, self._inverse_mass)
            )
        return self._local_value(*derivatives)[0]

    def _expect_kernel(self, logpsi: Callable, params, x):
        # Under NetKet's sharding each device maps over its own samples;
        # without the decorator GSPMD would run the sequential map replicated.
        return sharding_decorator(
            functools.partial(_local_values, logpsi),
            sharded_args_tree=(False, False, True),
            pvary_args_tree=(False, True, False),
        )(self, params, x)

    def __repr__(self):
        return f"eqxnqs.KineticEnergy(m={self._mass})"
