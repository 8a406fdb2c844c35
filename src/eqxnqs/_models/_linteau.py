"""Linteau et al.'s saved wavefunctions as eqxnqs models.

Their repository (cqsl/helium4-2d-nqs) saves each trained state as Flax
msgpack (``.mpack``) of ``McMillanWithBackflow``'s variables::

    {"params": {"delta1": (1,), "delta2": (1,),
                "MLP_0": {"MLP_0": {"Dense_0": {kernel, bias}, "Dense_1": {kernel}}},
                "MPNN_0": {"Embed_0": {"embedding": (2, F)},
                           "MPNNLayer_k": {"query_k", "key_k": (in, F),
                                           "MLP_0" .. "MLP_3": {"linear1", "linear2"}}}}}

``MLP_0`` of a layer is the attention's MLP, ``MLP_1`` the message's,
``MLP_2`` the node update (unused by log psi, dropped) and ``MLP_3`` the
edge update. Flax kernels are ``(in, out)``, Equinox weights their transpose.
"""

from collections.abc import Mapping
from pathlib import Path

import equinox as eqx
import flax.serialization
import jax
import jax.numpy as jnp

from ._edge_mpnn import EdgeAttentionLayer, EdgeMPNN
from ._jastrow import McMillanJastrow
from ._mlp import MLP
from ._sum import SumLogAmplitude


def _array(tree, path: tuple[str, ...], shape: tuple[int, ...]):
    node = tree
    for name in path:
        if not isinstance(node, Mapping) or name not in node:
            raise ValueError(f"Linteau et al.'s parameters have no {'/'.join(path)}.")
        node = node[name]
    value = jnp.asarray(node, dtype=jnp.float64)
    if value.shape != shape:
        raise ValueError(
            f"{'/'.join(path)} must have shape {shape} for this model; got {value.shape}."
        )
    return value


def _load_kernel(tree, path, linear: eqx.nn.Linear) -> eqx.nn.Linear:
    """`linear` with the Flax kernel (``(in, out)``) at `path` as its weight."""
    kernel = _array(tree, path, (linear.in_features, linear.out_features))
    return eqx.tree_at(lambda lin: lin.weight, linear, kernel.T)


def _load_linear(tree, path, linear: eqx.nn.Linear) -> eqx.nn.Linear:
    linear = _load_kernel(tree, (*path, "kernel"), linear)
    if linear.bias is None:
        return linear
    bias = _array(tree, (*path, "bias"), (linear.out_features,))
    return eqx.tree_at(lambda lin: lin.bias, linear, bias)


def _load_mlp(tree, path, mlp: MLP, names: tuple[str, ...]) -> MLP:
    layers = tuple(
        _load_linear(tree, (*path, name), layer) for name, layer in zip(names, mlp.layers)
    )
    return eqx.tree_at(lambda m: m.layers, mlp, layers)


def _load_layer(tree, path, k: int, layer: EdgeAttentionLayer) -> EdgeAttentionLayer:
    hidden = ("linear1", "linear2")
    return eqx.tree_at(
        lambda lay: (lay.to_query, lay.to_key, lay.attention, lay.message, lay.update),
        layer,
        (
            _load_kernel(tree, (*path, f"query_{k}"), layer.to_query),
            _load_kernel(tree, (*path, f"key_{k}"), layer.to_key),
            _load_mlp(tree, (*path, "MLP_0"), layer.attention, hidden),
            _load_mlp(tree, (*path, "MLP_1"), layer.message, hidden),
            _load_mlp(tree, (*path, "MLP_3"), layer.update, hidden),
        ),
    )


def from_linteau(params, box, n_particles: int) -> SumLogAmplitude:
    """``McMillanJastrow + EdgeMPNN`` with the parameters of Linteau et al.'s saved state.

    **Arguments:**

    - `params`: their ``.mpack`` file's path, or its variables (a mapping
      with ``"params"``, or the ``"params"`` mapping itself).
    - `box`: their cell in r_m (lengths of their dimensionless ``L``), e.g.
      ``eqxnqs.helium_box(30, 0.050, cell="triangular")``.
    - `n_particles`: N.

    The layer count and widths are read from the parameters. Their cusp
    ``-delta_1 sum 1/|d|^5`` with ``d = (L/2) sin(pi u / L)`` becomes
    McMillan's ``-1/2 sum (b/|d'|)^5`` with the chord distance
    ``d' = (2/pi) d``: ``b = (2 delta_1)^{1/5} 2/pi``.
    """
    if isinstance(params, (str, Path)):
        params = flax.serialization.msgpack_restore(Path(params).read_bytes())
    if isinstance(params, Mapping) and "params" in params:
        params = params["params"]
    if not isinstance(params, Mapping) or "MPNN_0" not in params:
        raise ValueError(
            "params must be Linteau et al.'s McMillanWithBackflow variables (with MPNN_0); "
            f"got {type(params).__name__}."
        )
    mpnn = params["MPNN_0"]
    n_layers = sum(1 for name in mpnn if name.startswith("MPNNLayer_"))
    if "Embed_0" not in mpnn or "embedding" not in mpnn["Embed_0"]:
        raise ValueError("Linteau et al.'s parameters have no MPNN_0/Embed_0/embedding.")
    features = jnp.shape(mpnn["Embed_0"]["embedding"])[-1]
    model = EdgeMPNN(box, n_particles, features=features, n_layers=n_layers, key=jax.random.key(0))
    layers = tuple(
        _load_layer(params, ("MPNN_0", f"MPNNLayer_{k}"), k, layer)
        for k, layer in enumerate(model.layers)
    )
    embedding = _array(mpnn, ("Embed_0", "embedding"), (2, features))
    readout = _load_mlp(params, ("MLP_0", "MLP_0"), model.readout, ("Dense_0", "Dense_1"))
    scale = _array(params, ("delta2",), (1,))[0]
    model = eqx.tree_at(
        lambda m: (m.edge_init, m.layers, m.readout, m.readout_scale),
        model,
        (embedding[1], layers, readout, scale),
    )
    delta1 = float(_array(params, ("delta1",), (1,))[0])
    if not delta1 > 0:
        raise ValueError(f"delta1 must be positive (a hard core); got {delta1}.")
    b = (2.0 * delta1) ** 0.2 * 2.0 / jnp.pi
    cusp = McMillanJastrow(box, n_particles, exponent=5, b=float(b))
    return SumLogAmplitude(cusp, model)
