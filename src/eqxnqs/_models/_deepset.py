from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.nn.initializers import lecun_normal, zeros
from jaxtyping import Array, Float, PRNGKeyArray

from .._typing import Initializer, RealArray, typechecked
from ._features import _check_widths
from ._mlp import MLP
from ._pooling import resolve_pooling


def apply_deepset(
    phi: MLP | None,
    rho: MLP,
    pooling: Callable,
    elements: Float[Array, "n_elements in_features"],
) -> Float[Array, ""]:
    """``rho(pool_k phi(elements[k]))`` for one set, as a scalar."""
    if phi is not None:
        elements = jax.vmap(phi)(elements)
    return rho(pooling(elements, axis=0))[0]


class DeepSetMLP(eqx.Module):
    """The permutation-invariant DeepSets network ``rho(pool_k phi(x_k))``.

    Equinox version of `netket.models.DeepSetMLP`: one set of shape
    ``(n_elements, in_features)`` in, one scalar out. As in NetKet, the hidden
    activation also follows phi's last layer, and rho gets a final 1-wide
    layer after the widths in ``features_rho``.
    """

    phi: MLP | None
    rho: MLP
    pooling: Callable = eqx.field(static=True)

    @typechecked
    def __init__(
        self,
        in_features: int,
        *,
        features_phi: int | Sequence[int] | None = None,
        features_rho: int | Sequence[int] | None = None,
        param_dtype=jnp.float64,
        hidden_activation: Callable | None = jax.nn.gelu,
        output_activation: Callable | None = None,
        pooling: str | Callable = jnp.sum,
        use_bias: bool = True,
        kernel_init: Initializer = lecun_normal(),
        bias_init: Initializer = zeros,
        key: PRNGKeyArray,
    ):
        """**Arguments:**

        - `in_features`: number of features of each set element.
        - `features_phi`: widths of phi's layers (int: one layer); `None` or
          `()` means no phi network.
        - `features_rho`: widths of rho's layers before its 1-wide output
          layer (int: one layer); `None` means rho is a single 1-wide layer.
        - `param_dtype`: dtype of every parameter (float64 by default).
        - `hidden_activation`, `output_activation`, `pooling` (callable
          `f(x, axis=...)`, or `"sum"`/`"mean"`), `use_bias`, `kernel_init`,
          `bias_init`: as in NetKet.
        - `key`: a JAX PRNG key.
        """
        if in_features < 1:
            raise ValueError(f"in_features must be at least 1; got {in_features}.")
        if isinstance(features_phi, int):
            features_phi = (features_phi,)
        if isinstance(features_rho, int):
            features_rho = (features_rho,)
        phi_w = _check_widths(tuple(features_phi or ()), "features_phi")
        rho_w = _check_widths((*(features_rho or ()), 1), "features_rho")
        phi_key, rho_key = jax.random.split(key)
        mlp_options = dict(
            activation=hidden_activation,
            use_bias=use_bias,
            kernel_init=kernel_init,
            bias_init=bias_init,
            dtype=param_dtype,
        )
        self.phi = (
            MLP(
                in_features,
                phi_w,
                final_activation=hidden_activation,
                key=phi_key,
                **mlp_options,
            )
            if phi_w
            else None
        )
        rho_in = phi_w[-1] if phi_w else in_features
        self.rho = MLP(
            rho_in,
            rho_w,
            final_activation=output_activation,
            key=rho_key,
            **mlp_options,
        )
        self.pooling = resolve_pooling(pooling)

    @property
    def in_features(self) -> int:
        first = self.phi if self.phi is not None else self.rho
        return first.layers[0].in_features

    @typechecked
    def __call__(self, x: Float[RealArray, "n_elements in_features"]) -> Float[Array, ""]:
        """Log-amplitude-like scalar of one set ``x`` of shape ``(n_elements, in_features)``."""
        if x.shape[-1] != self.in_features:
            raise ValueError(
                f"DeepSetMLP expects set elements with {self.in_features} "
                f"features, shape (n_elements, {self.in_features}); got shape "
                f"{tuple(x.shape)}."
            )
        return apply_deepset(self.phi, self.rho, self.pooling, jnp.asarray(x))
