from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .._typing import Initializer
from ._activations import activation_derivatives, stable


class MLP(eqx.Module):
    """A stack of dense layers with an activation after every layer but the last.

    Maps one feature vector ``Float[Array, "in_size"]`` to
    ``Float[Array, "out_size"]``. Weights are stored as ``eqx.nn.Linear``
    layers (``weight`` of shape ``(out, in)``, the transpose of Flax's
    ``kernel``); they are drawn with NetKet/Flax initialisers in Flax's
    ``(in, out)`` layout so that a seeded initialisation has the same
    distribution as NetKet's.
    """

    layers: tuple[eqx.nn.Linear, ...]
    activation: Callable | None = eqx.field(static=True)
    final_activation: Callable | None = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        widths: Sequence[int],
        *,
        activation: Callable | None,
        final_activation: Callable | None,
        use_bias: bool,
        kernel_init: Initializer,
        bias_init: Initializer,
        dtype,
        key: PRNGKeyArray,
    ):
        """**Arguments:**

        - `in_size`: length of the input vector.
        - `widths`: output size of each layer, in order (at least one).
        - `activation`: applied after every layer except the last (or `None`);
          `jax.nn.tanh` and `jax.nn.gelu` become their `stable` versions (the
          same values, derivatives without cancellation).
        - `final_activation`: applied after the last layer (or `None`).
        - `use_bias`: whether every layer has a bias.
        - `kernel_init`, `bias_init`: `init(key, shape, dtype)` initialisers.
        - `dtype`: parameter dtype.
        - `key`: a JAX PRNG key.
        """
        sizes = (in_size, *widths)
        layers = []
        for layer_key, n_in, n_out in zip(
            jax.random.split(key, len(widths)), sizes[:-1], sizes[1:]
        ):
            kernel_key, bias_key = jax.random.split(layer_key)
            linear = eqx.nn.Linear(n_in, n_out, use_bias=use_bias, dtype=dtype, key=kernel_key)
            kernel = kernel_init(kernel_key, (n_in, n_out), dtype)
            linear = eqx.tree_at(lambda layer: layer.weight, linear, kernel.T)
            if use_bias:
                bias = bias_init(bias_key, (n_out,), dtype)
                linear = eqx.tree_at(lambda layer: layer.bias, linear, bias)
            layers.append(linear)
        self.layers = tuple(layers)
        # tanh and gelu with derivatives that saturated units cannot spoil (_activations).
        self.activation = stable(activation)
        self.final_activation = stable(final_activation)

    @property
    def widths(self) -> tuple[int, ...]:
        """Output size of each layer."""
        return tuple(layer.out_features for layer in self.layers)

    @property
    def use_bias(self) -> bool:
        return self.layers[0].use_bias

    def __call__(self, x: Float[Array, " in_size"]) -> Float[Array, " out_size"]:
        for layer in self.layers[:-1]:
            x = _dense(layer, x)
            if self.activation is not None:
                x = self.activation(x)
        x = _dense(self.layers[-1], x)
        if self.final_activation is not None:
            x = self.final_activation(x)
        return x

    def jets(
        self,
        x: Float[Array, " in_size"],
        first: Float[Array, "k in_size"] | Float[Array, " in_size"],
        second: Float[Array, "k in_size"] | Float[Array, " in_size"],
    ) -> (
        tuple[Float[Array, " out_size"], Float[Array, "k out_size"], Float[Array, "k out_size"]]
        | None
    ):
        """The output's value and its first and second derivatives along ``k`` directions.

        `first` and `second` are the input's derivatives along each direction
        (Taylor mode: each layer maps the three once, and an activation's
        derivatives are evaluated once per unit and shared by the directions).
        Given with shape ``(in_size,)``, they are the diagonals of ``(k, in_size)``
        arrays with ``k = in_size`` (each direction moves one input alone), and
        the first layer scales its weights' columns instead of multiplying.
        ``None`` when an activation is not elementwise.
        """

        def second_order(slope, curvature, first, second):
            return curvature * first**2 + slope * second

        return self._taylor(x, first, second, second_order, per_direction=True)

    def laplacian_jets(
        self,
        x: Float[Array, " in_size"],
        first: Float[Array, "k in_size"] | Float[Array, " in_size"],
        laplacian: Float[Array, " in_size"],
        metric: Float[Array, " k"],
    ) -> (
        tuple[Float[Array, " out_size"], Float[Array, "k out_size"], Float[Array, " out_size"]]
        | None
    ):
        """The output's value, first derivatives along ``k`` directions and weighted Laplacian.

        As `jets`, but the second derivatives are carried only as their sum
        ``sum_k metric_k d^2/dk^2`` (`laplacian`, the input's, shape
        ``(in_size,)``): a forward Laplacian, ``k`` times less second-order
        work than `jets`. ``None`` when an activation is not elementwise.
        """

        def second_order(slope, curvature, first, laplacian):
            # Unrolled over the few directions: XLA's reduction loops are slow on the CPU.
            squares = sum(metric[k] * first[k] ** 2 for k in range(first.shape[0]))
            return curvature * squares + slope * laplacian

        return self._taylor(x, first, laplacian, second_order, per_direction=False)

    def _taylor(self, x, first, second, second_order, *, per_direction: bool):
        """Value, first derivatives and second-order part through every layer.

        ``second_order(slope, curvature, first, second)`` is an activation's
        chain rule for the second-order part; `per_direction`: whether that
        part has one row per direction, like `first` (`jets`), or is one
        weighted sum (`laplacian_jets`).
        """
        activations = [self.activation] * (len(self.layers) - 1) + [self.final_activation]
        for index, (layer, activation) in enumerate(zip(self.layers, activations)):
            x, weight = _dense(layer, x), layer.weight.T
            if index == 0 and first.ndim == 1:
                first = first[:, None] * weight
                second = second[:, None] * weight if per_direction else second @ weight
            else:
                first, second = first @ weight, second @ weight
            if activation is None:
                continue
            derivatives = activation_derivatives(activation)
            if derivatives is None:
                return None
            x, slope, curvature = derivatives(x)
            first, second = slope * first, second_order(slope, curvature, first, second)
        return x, first, second


def _dense(layer: eqx.nn.Linear, x: Float[Array, " in_size"]) -> Float[Array, " out_size"]:
    # ``x @ W.T`` rather than Linear's ``W @ x``: under jax.vmap it becomes one
    # (batch, in) x (in, out) product, which XLA on the CPU runs ~3x faster.
    y = x @ layer.weight.T
    return y if layer.bias is None else y + layer.bias


def mlp(in_size: int, widths, activation, *, dtype=jnp.float64, key: PRNGKeyArray) -> MLP:
    """An `MLP` of the learned factors: LeCun-normal weights, zero biases, no final
    activation; parameters of `dtype` (float64 by default)."""
    return MLP(
        in_size,
        widths,
        activation=activation,
        final_activation=None,
        use_bias=True,
        kernel_init=jax.nn.initializers.lecun_normal(),
        bias_init=jax.nn.initializers.zeros,
        dtype=dtype,
        key=key,
    )


def check_sizes(**sizes) -> None:
    """Refuse any of `sizes` (a network's widths and counts) that is not a positive integer."""
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}.")


def check_param_dtype(param_dtype) -> jnp.dtype:
    """`param_dtype` as a floating dtype; float64 needs ``jax_enable_x64``."""
    dtype = jnp.dtype(param_dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"param_dtype must be a real floating dtype; got {dtype.name}.")
    if dtype == jnp.float64 and not jax.config.jax_enable_x64:
        raise RuntimeError(
            "param_dtype=float64 needs jax_enable_x64; call "
            "jax.config.update('jax_enable_x64', True) before building models."
        )
    return dtype
