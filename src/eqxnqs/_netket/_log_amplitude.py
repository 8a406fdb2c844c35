import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._typing import RealArray, typechecked


class LogAmplitude(eqx.Module):
    """Batched log-amplitude for NetKet: wraps a single-configuration model.

    ``model`` maps one configuration ``Float[Array, "n_dof"]`` to a scalar and
    exposes ``n_dof``; this module maps ``(*batch, n_dof)`` to ``(*batch,)``
    with ``jax.vmap``, after checking the input's shape. It is what NetKet
    receives: `eqxnqs.make_mcstate` wraps your model in it.
    """

    model: eqx.Module

    def __init__(self, model: eqx.Module):
        if not hasattr(model, "n_dof"):
            raise TypeError(
                "LogAmplitude wraps a model with an `n_dof` attribute (number of "
                f"coordinates of one configuration); {type(model).__name__} has none."
            )
        self.model = model

    @property
    def n_dof(self) -> int:
        return self.model.n_dof

    @typechecked
    def __call__(self, x: Float[RealArray, "*batch n_dof"]) -> Float[Array, "*batch"]:
        """``log psi`` of every configuration in ``x`` of shape ``(*batch, n_dof)``."""
        if x.ndim == 0 or x.shape[-1] != self.n_dof:
            raise ValueError(
                f"{type(self.model).__name__} expects configurations of shape "
                f"(*batch, {self.n_dof}); got shape {tuple(x.shape)}."
            )
        x = jnp.asarray(x)
        flat = x.reshape(-1, self.n_dof)
        return jax.vmap(self.model)(flat).reshape(x.shape[:-1])

    def grad_and_laplacian(
        self, x: Float[Array, "n_samples n_dof"], inverse_mass
    ) -> tuple[Float[Array, "n_samples n_dof"], Float[Array, " n_samples"]]:
        """The model's ``grad_and_laplacian`` of every configuration, a few at a time.

        ``x`` has shape ``(n_samples, n_dof)``; `inverse_mass` weighs the
        Laplacian (a number or one per coordinate). The model's
        ``samples_per_step`` configurations go through each ``lax.map`` step.
        `eqxnqs.KineticEnergy` asks NetKet's ``apply_fun`` for it by name
        (``apply_fun(variables, x, inverse_mass, method="grad_and_laplacian")``).
        """
        model = self.model
        if not hasattr(model, "grad_and_laplacian"):
            raise AttributeError(f"{type(model).__name__} has no grad_and_laplacian.")
        return jax.lax.map(
            lambda y: model.grad_and_laplacian(y, inverse_mass),
            x,
            batch_size=model.samples_per_step,
        )
