r"""A message-passing wavefunction with attention over all pairs.

In the spirit of the message-passing neural quantum states of Pescia et al.
(PRB 110, 035108 (2024)) and of the 2D helium-4 study of Linteau, Pescia,
Nys, Carleo and Holzmann (PRL 134, 246001 (2025)): particles are nodes of a
complete graph, every ordered pair ``(i, j)`` is an edge, and

1. every node starts from the same learned vector ``h_i = h_0`` and every
   edge from a linear map of periodic features of ``u = x_i - x_j``: per axis
   ``sin(2 pi u / L)`` and ``cos(2 pi u / L)``, and the squared sine
   distance ``sum_a sin^2(pi u_a / L_a)`` (``|d|^2`` in units of
   ``(L/2)^2``);
2. each layer updates nodes by multi-head attention over all other
   particles (queries from ``h_i``, keys and values from ``[h_j, e_ij]``,
   softmax over ``j``), ``h_i <- h_i + MLP([h_i, m_i])``, then edges by
   ``e_ij <- e_ij + MLP([e_ij, h_i, h_j])``;
3. ``log psi = 1/2 sum_{i != j} r(e_ij)``, a pair readout summed over every
   pair: a learned Jastrow factor of the final pair states.

Only differences of positions, through functions periodic in the box,
enter, and every sum runs over all particles or pairs, so ``log psi`` is
invariant under permutations, translations and shifting a particle by a box
vector (the tests check all three). The readout's last layer starts at
zero, so a new network has ``log psi = 0``: combine it with a hard-core
factor, ``eqxnqs.SumLogAmplitude(eqxnqs.McMillanJastrow(...), MPNN(...))``,
for the cusp, as the paper does.

Edges are stored as ``(N, N - 1, features)``: edge ``[i, s]`` joins ``i``
to ``j = (i + 1 + s) mod N``, so gathering ``h_j`` is a static index and no
sum needs a scatter. The cost per configuration is O(N^2) per layer. The
kinetic energy's gradient and Laplacian (`grad_and_laplacian`) come from a
forward Laplacian written out for this network (`_mpnn_laplacian`), which
uses its pair-local first layer and constant initial nodes.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .._geometry import check_box, check_particle_count
from .._typing import RealArray, typechecked
from ._activations import activation_by_name
from ._mlp import MLP, _dense, check_param_dtype, check_sizes, mlp
from ._mpnn_graph import edge_features, neighbours
from ._mpnn_laplacian import mpnn_grad_and_laplacian
from ._periodic import PeriodicLogAmplitude

_kernel_init = jax.nn.initializers.lecun_normal()


class MessagePassingLayer(eqx.Module):
    """One attention message-passing step.

    Node states have shape ``(N, node)``, edge states ``(N, N - 1, edge)``.
    """

    to_query: eqx.nn.Linear
    to_key: eqx.nn.Linear
    to_value: eqx.nn.Linear
    node_update: MLP
    edge_update: MLP
    n_heads: int = eqx.field(static=True)

    def __init__(
        self,
        node_features: int,
        edge_features: int,
        n_heads: int,
        head_features: int,
        activation,
        *,
        dtype=jnp.float64,
        key: PRNGKeyArray,
    ):
        keys = jax.random.split(key, 5)
        width = n_heads * head_features
        pair_in = node_features + edge_features

        def linear(n_in, n_out, k):
            layer = eqx.nn.Linear(n_in, n_out, use_bias=False, dtype=dtype, key=k)
            weight = _kernel_init(k, (n_in, n_out), dtype).T
            return eqx.tree_at(lambda lin: lin.weight, layer, weight)

        self.to_query = linear(node_features, width, keys[0])
        self.to_key = linear(pair_in, width, keys[1])
        self.to_value = linear(pair_in, width, keys[2])
        self.node_update = mlp(
            node_features + width,
            (node_features, node_features),
            activation,
            dtype=dtype,
            key=keys[3],
        )
        self.edge_update = mlp(
            edge_features + 2 * node_features,
            (edge_features, edge_features),
            activation,
            dtype=dtype,
            key=keys[4],
        )
        self.n_heads = n_heads

    def __call__(self, h: Float[Array, "n node"], e: Float[Array, "n m edge"], partners):
        n = h.shape[0]
        pair_in = jnp.concatenate([h[partners], e], axis=-1)  # (N, N-1, node + edge)
        q = _dense(self.to_query, h).reshape(n, self.n_heads, -1)
        k = _dense(self.to_key, pair_in).reshape(n, n - 1, self.n_heads, -1)
        v = _dense(self.to_value, pair_in).reshape(n, n - 1, self.n_heads, -1)
        logits = jnp.einsum("ihd,ijhd->ijh", q, k) / math.sqrt(q.shape[-1])
        attention = jax.nn.softmax(logits, axis=1)
        messages = jnp.einsum("ijh,ijhd->ihd", attention, v).reshape(n, -1)
        h = h + self.node_update(jnp.concatenate([h, messages], axis=-1))
        both_ends = [jnp.broadcast_to(h[:, None, :], (n, n - 1, h.shape[-1])), h[partners]]
        e = e + self.edge_update(jnp.concatenate([e, *both_ends], axis=-1))
        return h, e


class MPNN(PeriodicLogAmplitude):
    """Message-passing ``log psi`` with attention over all pairs; see the module docstring.

    Maps one configuration ``x`` of shape ``(n_particles * dim,)`` (lengths
    in the box's unit) to a real scalar. Parameters are `param_dtype` (float64 by default).
    """

    node_init: Float[Array, " node_features"]
    edge_embedding: eqx.nn.Linear
    layers: tuple[MessagePassingLayer, ...]
    readout: MLP
    box: tuple[float, ...] = eqx.field(static=True)
    n_particles: int = eqx.field(static=True)
    node_features: int = eqx.field(static=True)
    edge_features: int = eqx.field(static=True)
    n_layers: int = eqx.field(static=True)
    n_heads: int = eqx.field(static=True)
    head_features: int = eqx.field(static=True)
    readout_features: int = eqx.field(static=True)
    activation: str = eqx.field(static=True)
    param_dtype: str = eqx.field(static=True)

    def __init__(
        self,
        box,
        n_particles: int,
        *,
        node_features: int = 16,
        edge_features: int = 16,
        n_layers: int = 2,
        n_heads: int = 2,
        head_features: int = 8,
        readout_features: int = 16,
        activation: str = "gelu",
        param_dtype=jnp.float64,
        key: PRNGKeyArray,
    ):
        """**Arguments:**

        - `box`: side lengths of the periodic box (a number in 1D).
        - `n_particles`: N >= 2.
        - `node_features`, `edge_features`: widths of the node and edge states.
        - `n_layers`: message-passing layers (>= 1).
        - `n_heads`, `head_features`: attention heads and the width of each.
        - `readout_features`: hidden width of the pair readout ``r``.
        - `activation`: a `jax.nn` function by name (``"gelu"``, ``"tanh"``, ...).
        - `param_dtype`: dtype of every parameter and of the computation (float64 by
          default, which needs ``jax_enable_x64``).
        - `key`: a JAX PRNG key.
        """
        self.box = check_box(box)
        check_particle_count(n_particles)
        check_sizes(
            node_features=node_features,
            edge_features=edge_features,
            n_layers=n_layers,
            n_heads=n_heads,
            head_features=head_features,
            readout_features=readout_features,
        )
        act = activation_by_name(activation)
        dtype = check_param_dtype(param_dtype)
        self.n_particles = n_particles
        self.node_features, self.edge_features = node_features, edge_features
        self.n_layers, self.n_heads, self.head_features = n_layers, n_heads, head_features
        self.readout_features, self.activation = readout_features, activation
        self.param_dtype = dtype.name
        node_key, edge_key, layers_key, readout_key = jax.random.split(key, 4)
        self.node_init = jax.random.normal(node_key, (node_features,), dtype)
        embedding = eqx.nn.Linear(2 * self.dim + 1, edge_features, dtype=dtype, key=edge_key)
        self.edge_embedding = eqx.tree_at(
            lambda lin: lin.weight,
            embedding,
            _kernel_init(edge_key, (2 * self.dim + 1, edge_features), dtype).T,
        )
        self.layers = tuple(
            MessagePassingLayer(
                node_features,
                edge_features,
                n_heads,
                head_features,
                act,
                dtype=dtype,
                key=layer_key,
            )
            for layer_key in jax.random.split(layers_key, n_layers)
        )
        readout = mlp(edge_features, (readout_features, 1), act, dtype=dtype, key=readout_key)
        last = readout.layers[-1]
        self.readout = eqx.tree_at(
            lambda mlp: (mlp.layers[-1].weight, mlp.layers[-1].bias),
            readout,
            (jnp.zeros_like(last.weight), jnp.zeros_like(last.bias)),
        )

    def hyperparameters(self) -> dict:
        """The constructor's arguments (but `key`): enough to rebuild the module's shapes."""
        return dict(
            box=self.box,
            n_particles=self.n_particles,
            node_features=self.node_features,
            edge_features=self.edge_features,
            n_layers=self.n_layers,
            n_heads=self.n_heads,
            head_features=self.head_features,
            readout_features=self.readout_features,
            activation=self.activation,
            param_dtype=self.param_dtype,
        )

    def pair_states(self, x: Float[Array, " n_dof"]) -> Float[Array, "n m edge"]:
        """The final edge states ``e_ij``, shape ``(N, N - 1, edge_features)``.

        Layout as in the module docstring: ``[i, s]`` is the edge to ``(i + 1 + s) mod N``.
        """
        n = self.n_particles
        positions = x.reshape(n, self.dim)
        partners = neighbours(n)
        box = jnp.asarray(self.box, dtype=x.dtype)
        u = positions[:, None, :] - positions[partners]
        e = _dense(self.edge_embedding, edge_features(u, box))
        h = jnp.broadcast_to(self.node_init, (n, self.node_features))
        for layer in self.layers:
            h, e = layer(h, e, partners)
        return e

    @typechecked
    def __call__(self, x: Float[RealArray, " n_dof"]) -> Float[Array, ""]:
        """``log psi`` of one configuration ``x`` of shape ``(n_particles * dim,)``."""
        self.check_configuration(x)
        e = self.pair_states(jnp.asarray(x, dtype=self.param_dtype))
        return 0.5 * jnp.sum(self.readout(e))

    @property
    def samples_per_step(self) -> int:
        """Samples `eqxnqs.KineticEnergy` vectorises at a time.

        An edge Jacobian holds ``N (N - 1) edge_features N D`` numbers per
        sample (417,600 at the reference size, N = 30 in 2D with width 8).
        On the CPU, about 2^19 of them per step: one sample at the reference
        size, the fastest there (Results page); on an accelerator, which
        needs wide batches, 2^22 (10 samples), as in the README's H200 row.
        """
        n = self.n_particles
        budget = 2**19 if jax.default_backend() == "cpu" else 2**22
        return max(1, budget // (n * (n - 1) * self.edge_features * self.n_dof))

    def grad_and_laplacian(
        self, x: Float[Array, " n_dof"], weights: Float[Array, "..."]
    ) -> tuple[Float[Array, " n_dof"], Float[Array, ""]]:
        """``d log psi / dx_k`` and ``sum_k w_k d^2 log psi / dx_k^2``, exact.

        A forward Laplacian written out for this network: 2.5x fewer
        operations than folx's on the same function (README, "The MPNN's
        kinetic energy"). ``weights``: a scalar or one positive value per
        coordinate.
        """
        self.check_configuration(x)
        return mpnn_grad_and_laplacian(self, jnp.asarray(x, dtype=self.param_dtype), weights)
