"""Converters between NetKet's Flax `DeepSetRelDistance` and ours.

NetKet's parameter tree (``variables["params"]``) is::

    {"cusp": (1,),
     "deepset": {"DeepSetMLP_0": {"ds_phi": {"Dense_0": {"kernel": (in, out), "bias": (out,)}, ...},
                                   "ds_rho": {"Dense_0": ..., ...}}}}

Flax ``kernel`` is ``(in, out)``; Equinox ``weight`` is its transpose.
NetKet always holds a ``cusp`` parameter, used only when ``cusp_exponent`` is
set; our module has none without a cusp term.
"""

from collections.abc import Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import netket as nk

from .._geometry import periodic_particles
from .._models._mlp import MLP
from .._models._rel_distance import NETKET_LAYOUT, DeepSetRelDistance


def _dense_params(mlp: MLP) -> dict:
    out = {}
    for k, layer in enumerate(mlp.layers):
        out[f"Dense_{k}"] = {"kernel": layer.weight.T}
        if layer.bias is not None:
            out[f"Dense_{k}"]["bias"] = layer.bias
    return out


def _require_netket_layout(model: DeepSetRelDistance) -> None:
    layout = {name: getattr(model, name) for name in NETKET_LAYOUT}
    if layout != NETKET_LAYOUT:
        raise ValueError(
            f"this model has {_settings(layout)}; only {_settings(NETKET_LAYOUT)} "
            "(eqxnqs.NETKET_LAYOUT) has the layers, parameters and inputs of NetKet's Flax "
            "DeepSetRelDistance. Build the model with **eqxnqs.NETKET_LAYOUT to convert it."
        )


def _settings(values: dict) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in values.items())


def flax_params(model: DeepSetRelDistance) -> dict:
    """NetKet's Flax parameter tree (the ``"params"`` collection) of `model`."""
    _require_netket_layout(model)
    cusp = model.cusp if model.cusp is not None else jnp.ones((1,), model.param_dtype)
    return {
        "cusp": cusp,
        "deepset": {
            "DeepSetMLP_0": {
                "ds_phi": _dense_params(model.phi),
                "ds_rho": _dense_params(model.rho),
            }
        },
    }


def _load_dense(mlp: MLP, tree, where: str) -> MLP:
    if not isinstance(tree, Mapping) or set(tree) != {f"Dense_{k}" for k in range(len(mlp.layers))}:
        found = sorted(tree) if isinstance(tree, Mapping) else type(tree).__name__
        raise ValueError(
            f"{where} must hold Dense_0 .. Dense_{len(mlp.layers) - 1} "
            f"({len(mlp.layers)} layers); found {found}."
        )
    layers = []
    for k, layer in enumerate(mlp.layers):
        dense = tree[f"Dense_{k}"]
        kernel = jnp.asarray(dense["kernel"])
        kernel_shape = (layer.in_features, layer.out_features)
        if kernel.shape != kernel_shape:
            raise ValueError(
                f"{where}/Dense_{k}/kernel must have shape {kernel_shape}; got {kernel.shape}."
            )
        layer = eqx.tree_at(lambda lay: lay.weight, layer, kernel.T)
        if layer.bias is not None:
            if "bias" not in dense:
                raise ValueError(f"{where}/Dense_{k} has no bias but the model uses biases.")
            bias = jnp.asarray(dense["bias"])
            if bias.shape != layer.bias.shape:
                raise ValueError(
                    f"{where}/Dense_{k}/bias must have shape {layer.bias.shape}; got {bias.shape}."
                )
            layer = eqx.tree_at(lambda lay: lay.bias, layer, bias)
        elif "bias" in dense:
            raise ValueError(f"{where}/Dense_{k} has a bias but the model has use_bias=False.")
        layers.append(layer)
    return eqx.tree_at(lambda m: m.layers, mlp, tuple(layers))


def load_flax_params(model: DeepSetRelDistance, params: Mapping) -> DeepSetRelDistance:
    """A copy of `model` holding NetKet's Flax parameters `params`.

    `params` is the ``"params"`` collection (or the whole ``variables``
    dict) of a `netket.models.DeepSetRelDistance` with the same layers.
    """
    _require_netket_layout(model)
    if "params" in params and "deepset" not in params:
        params = params["params"]
    try:
        deepset = params["deepset"]["DeepSetMLP_0"]
        phi_tree, rho_tree = deepset["ds_phi"], deepset["ds_rho"]
    except (KeyError, TypeError):
        raise ValueError(
            "expected NetKet DeepSetRelDistance parameters with "
            "deepset/DeepSetMLP_0/ds_phi and ds_rho; got keys "
            f"{sorted(params) if isinstance(params, Mapping) else type(params).__name__}."
        ) from None
    model = eqx.tree_at(lambda m: m.phi, model, _load_dense(model.phi, phi_tree, "ds_phi"))
    model = eqx.tree_at(lambda m: m.rho, model, _load_dense(model.rho, rho_tree, "ds_rho"))
    if model.cusp is not None:
        cusp = jnp.asarray(params.get("cusp", jnp.zeros(0)))
        if cusp.shape != (1,):
            raise ValueError(f"cusp must have shape (1,); got {cusp.shape}.")
        model = eqx.tree_at(lambda m: m.cusp, model, cusp)
    return model


def from_flax(flax_model: nk.models.DeepSetRelDistance, variables: Mapping) -> DeepSetRelDistance:
    """Our `DeepSetRelDistance` equal to NetKet's `flax_model` with `variables`."""
    if not isinstance(flax_model, nk.models.DeepSetRelDistance):
        raise TypeError(
            f"expected a netket.models.DeepSetRelDistance; got {type(flax_model).__name__}."
        )
    # Shapes only: every array is replaced by NetKet's parameters below.
    template = eqx.filter_eval_shape(
        DeepSetRelDistance.from_hilbert,
        flax_model.hilbert,
        layers_phi=flax_model.layers_phi,
        layers_rho=flax_model.layers_rho,
        features_phi=flax_model.features_phi,
        features_rho=flax_model.features_rho,
        cusp_exponent=flax_model.cusp_exponent,
        param_dtype=flax_model.param_dtype,
        activation=flax_model.activation,
        output_activation=flax_model.output_activation,
        pooling=flax_model.pooling,
        use_bias=flax_model.use_bias,
        **NETKET_LAYOUT,
        key=jax.random.key(0),
    )
    return load_flax_params(template, variables)


def to_flax(model: DeepSetRelDistance) -> tuple[nk.models.DeepSetRelDistance, dict]:
    """NetKet's Flax `DeepSetRelDistance` and ``variables`` equal to `model`."""
    _require_netket_layout(model)
    hyper = model.hyperparameters()
    flax_model = nk.models.DeepSetRelDistance(
        hilbert=periodic_particles(hyper.pop("n_particles"), hyper.pop("box")),
        **{name: value for name, value in hyper.items() if name not in NETKET_LAYOUT},
    )
    return flax_model, {"params": flax_params(model)}
