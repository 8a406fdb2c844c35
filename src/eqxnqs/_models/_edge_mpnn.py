r"""The message-passing wavefunction of Linteau, Pescia, Nys, Carleo and Holzmann.

The network of their 2D helium-4 study (PRL 134, 246001 (2025); code
cqsl/helium4-2d-nqs, ``canonical_ensemble/MPNN.py`` and
``trial_wavefunction.py``), whose state at N = 30, 0.050 A^-2 is the best
published neural wavefunction of that system. Its states live on the
``N x N`` edges of the complete graph, diagonal included:

1. every edge starts as ``Y_ij = [I_ij, H_0]``: the static features
   ``I_ij`` of ``u = x_i - x_j`` (per axis ``sin(2 pi u / L)`` and
   ``cos(2 pi u / L)``, then the sine distance ``|sin(pi u / L)|``, then a
   constant 1, their spin product for bosons) and a learned vector ``H_0``;
2. each layer lets edge ``(i, l)`` attend to the paths ``i -> j -> l``
   through every particle ``j``,

   .. math::
       A_{il} = \mathrm{MLP}_1\Big(\tfrac{1}{\sqrt{F}} \sum_j q_{ij} \odot k_{jl}\Big),
       \quad q = Y W_q,\ k = Y W_k,

   sends the message ``M_il = A_il * MLP_2(Y_il)`` and updates
   ``Y_il <- [I_il, MLP_3([Y_il, M_il])]`` (the raw features re-enter at
   every layer); the sum over ``j`` is a three-body term, O(N^3) per layer;
3. ``log psi = delta sum_{i<j} r((Y_ij + Y_ji) / 2)``, a pair readout of
   the symmetrised final edges, scaled by a learned ``delta`` that starts
   at zero (so a new network has ``log psi = 0``).

Their network also carries node states, updated from the messages but never
read by ``log psi``; they are left out here (their parameters, 208 per
layer, do not change the wavefunction). Their McMillan factor,
``-delta_1 sum 1/|d|^5`` with ``d = (L/2) sin(pi u / L)``, is
`eqxnqs.McMillanJastrow` with ``b = (2 delta_1)^{1/5} 2/pi``; `from_linteau`
builds both from their saved parameters.

The sine distance has a kink where two particles meet. In 2D and 3D its
Laplacian there is integrable ((D - 1)/|u|) and the local kinetic energy is
exact; in 1D it would be a delta function that sampling never sees (the
`eqxnqs.MPNN` docs measure what that does), so this network is for 2D and
3D. The function is invariant under permutations, translations and
shifting a particle by a box vector (tests). The kinetic energy's derivatives come from
folx's forward Laplacian (the default of `eqxnqs.PeriodicLogAmplitude`).
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._geometry import check_box, check_particle_count
from .._typing import RealArray, typechecked
from .._xla import sin_cos, sine
from ._activations import activation_by_name
from ._mlp import MLP, _dense, check_param_dtype, check_sizes, mlp
from ._periodic import PeriodicLogAmplitude

_kernel_init = jax.nn.initializers.lecun_normal()


def _linear(n_in: int, n_out: int, dtype, key: PRNGKeyArray) -> eqx.nn.Linear:
    layer = eqx.nn.Linear(n_in, n_out, use_bias=False, dtype=dtype, key=key)
    return eqx.tree_at(lambda lin: lin.weight, layer, _kernel_init(key, (n_in, n_out), dtype).T)


def static_edge_features(
    positions: Float[Array, "n dim"], box: Float[Array, " dim"]
) -> Float[Array, "n n f"]:
    """``I_ij`` for every ordered pair, diagonal included: ``2 dim + 2`` features.

    Per axis ``sin(2 pi u / L)``, then per axis ``cos(2 pi u / L)``, then
    ``|sin(pi u / L)|`` (the norm over axes; 0 on the diagonal), then 1.
    """
    n = positions.shape[0]
    u = positions[:, None, :] - positions[None, :, :]
    sin, cos = sin_cos(2.0 * jnp.pi * u / box)
    eye = jnp.eye(n, dtype=positions.dtype)
    # 1 added under the root on the diagonal, where u = 0: finite derivatives there.
    distance = jnp.sqrt(jnp.sum(sine(jnp.pi * u / box) ** 2, axis=-1) + eye) * (1.0 - eye)
    ones = jnp.ones((n, n, 1), dtype=positions.dtype)
    return jnp.concatenate([sin, cos, distance[..., None], ones], axis=-1)


class EdgeAttentionLayer(eqx.Module):
    """One layer: attention over the paths through a third particle, then the edge update.

    Maps edge states of shape ``(N, N, static + features)`` to the same shape.
    """

    to_query: eqx.nn.Linear
    to_key: eqx.nn.Linear
    attention: MLP
    message: MLP
    update: MLP

    def __init__(self, n_static: int, features: int, activation, *, dtype, key: PRNGKeyArray):
        keys = jax.random.split(key, 5)
        width = n_static + features
        self.to_query = _linear(width, features, dtype, keys[0])
        self.to_key = _linear(width, features, dtype, keys[1])
        self.attention = mlp(features, (features, features), activation, dtype=dtype, key=keys[2])
        self.message = mlp(width, (features, features), activation, dtype=dtype, key=keys[3])
        self.update = mlp(
            width + features, (features, features), activation, dtype=dtype, key=keys[4]
        )

    def __call__(
        self, static: Float[Array, "n n s"], y: Float[Array, "n n w"]
    ) -> Float[Array, "n n w"]:
        q, k = _dense(self.to_query, y), _dense(self.to_key, y)
        paths = jnp.einsum("ijf,jlf->ilf", q, k) / math.sqrt(q.shape[-1])
        messages = self.attention(paths) * self.message(y)
        return jnp.concatenate([static, self.update(jnp.concatenate([y, messages], -1))], -1)


class EdgeMPNN(PeriodicLogAmplitude):
    """Linteau et al.'s message-passing ``log psi``; see the module docstring.

    Maps one configuration ``x`` of shape ``(n_particles * dim,)`` (lengths
    in the box's unit) to a real scalar. Multiply it by a hard-core factor,
    ``eqxnqs.SumLogAmplitude(eqxnqs.McMillanJastrow(...), EdgeMPNN(...))``.
    """

    edge_init: Float[Array, " features"]
    layers: tuple[EdgeAttentionLayer, ...]
    readout: MLP
    readout_scale: Float[Array, ""]
    box: tuple[float, ...] = eqx.field(static=True)
    n_particles: int = eqx.field(static=True)
    features: int = eqx.field(static=True)
    n_layers: int = eqx.field(static=True)
    activation: str = eqx.field(static=True)
    param_dtype: str = eqx.field(static=True)

    def __init__(
        self,
        box,
        n_particles: int,
        *,
        features: int = 8,
        n_layers: int = 4,
        activation: str = "gelu",
        param_dtype=jnp.float64,
        key: PRNGKeyArray,
    ):
        """**Arguments:**

        - `box`: side lengths of the periodic box, 2D or 3D (module docstring).
        - `n_particles`: N >= 2.
        - `features`: width of the learned edge states, of the attention and
          of every hidden layer (8 in the paper).
        - `n_layers`: message-passing layers (4 in the paper).
        - `activation`: a `jax.nn` function by name (``"gelu"``, the paper's).
        - `param_dtype`: dtype of every parameter and of the computation
          (float64 by default, which needs ``jax_enable_x64``).
        - `key`: a JAX PRNG key.
        """
        self.box = check_box(box)
        if len(self.box) == 1:
            raise ValueError(
                "EdgeMPNN needs 2 or 3 dimensions: its sine-distance feature has a kink at "
                "contact, which in 1D puts a delta function into the kinetic energy that "
                "sampling never sees; use eqxnqs.MPNN (smooth at contact) in 1D."
            )
        check_particle_count(n_particles)
        check_sizes(features=features, n_layers=n_layers)
        act = activation_by_name(activation)
        dtype = check_param_dtype(param_dtype)
        self.n_particles, self.features, self.n_layers = n_particles, features, n_layers
        self.activation, self.param_dtype = activation, dtype.name
        init_key, layers_key, readout_key = jax.random.split(key, 3)
        # As their Flax embedding: LeCun-normal over a (2, features) table, one row used.
        self.edge_init = _kernel_init(init_key, (2, features), dtype)[1]
        self.layers = tuple(
            EdgeAttentionLayer(self.n_static, features, act, dtype=dtype, key=layer_key)
            for layer_key in jax.random.split(layers_key, n_layers)
        )
        readout = mlp(self.n_static + features, (features, 1), act, dtype=dtype, key=readout_key)
        # No bias on the last layer (NetKet's MLP): it would only add a constant.
        unbiased = eqx.nn.Linear(features, 1, use_bias=False, dtype=dtype, key=readout_key)
        unbiased = eqx.tree_at(lambda lin: lin.weight, unbiased, readout.layers[-1].weight)
        self.readout = eqx.tree_at(lambda m: m.layers[-1], readout, unbiased)
        self.readout_scale = jnp.zeros((), dtype)

    @property
    def n_static(self) -> int:
        """Number of static edge features ``I_ij``: ``2 dim + 2``."""
        return 2 * self.dim + 2

    def hyperparameters(self) -> dict:
        """The constructor's arguments (but `key`): enough to rebuild the module's shapes."""
        return dict(
            box=self.box,
            n_particles=self.n_particles,
            features=self.features,
            n_layers=self.n_layers,
            activation=self.activation,
            param_dtype=self.param_dtype,
        )

    @property
    def samples_per_step(self) -> int:
        """Samples `eqxnqs.KineticEnergy` vectorises at a time: about 2^20 Jacobian entries.

        folx's edge Jacobians hold ``N^2 N D (2 D + 2 + features)`` numbers
        per sample, 1.2 million at the paper's size (N = 30 in 2D), where one
        sample per step is the fastest (Results page).
        """
        width = self.n_static + self.features
        return max(1, 2**20 // (self.n_particles**2 * self.n_dof * width))

    def edge_states(self, x: Float[Array, " n_dof"]) -> Float[Array, "n n width"]:
        """The final edge states ``Y_ij``, shape ``(N, N, 2 dim + 2 + features)``."""
        n = self.n_particles
        positions = x.reshape(n, self.dim)
        static = static_edge_features(positions, jnp.asarray(self.box, dtype=x.dtype))
        init = jnp.broadcast_to(self.edge_init, (n, n, self.features))
        y = jnp.concatenate([static, init], axis=-1)
        for layer in self.layers:
            y = layer(static, y)
        return y

    @typechecked
    def __call__(self, x: Float[RealArray, " n_dof"]) -> Float[Array, ""]:
        """``log psi`` of one configuration ``x`` of shape ``(n_particles * dim,)``."""
        self.check_configuration(x)
        y = self.edge_states(jnp.asarray(x, dtype=self.param_dtype))
        upper = np.triu_indices(self.n_particles, 1)
        pairs = 0.5 * (y + jnp.swapaxes(y, 0, 1))[upper]
        return self.readout_scale * jnp.sum(self.readout(pairs))
