r"""A learned factor of every particle's neighbourhood: many-body correlations in O(N^2).

.. math::
    \log\psi = \sum_i F(I_i), \qquad
    \rho_i^c = \sum_{j \ne i} \xi_c(\lvert d_{ij} \rvert), \qquad
    G_i^c = \sum_{j \ne i} \xi_c(\lvert d_{ij} \rvert)\, s_{ij},

with C radial channels ``xi_c`` (an MLP of the chord distance ``|d|`` times
`cutoff_envelope`, so they end at half the shortest side), the periodic vector
``s = (L/2 pi) sin(2 pi u / L)``, and ``F`` an MLP of each particle's
invariants ``I_i = (rho_i^c, G_i^c . G_i^c')``: how many neighbours it has at
each distance, and how evenly they surround it. ``G . G`` has terms of three
particles (``s_ij . s_ik``: the angle at i) and a non-linear ``F`` of them
more, so this factor holds the correlations that a pair function does not.
The triplet factor of Schmidt et al. is its one-channel case ``F = -(lambda/2)
|G|^2``; a function of ``rho_i`` alone is Lutsyshyn's coordinated
wavefunction (arXiv:1506.03752). ``F``'s last layer starts at zero, so a new
factor is 1.

Cost. Each particle's descriptor ``d_i = (rho_i, G_i)`` (``P = C (1 + D)``
numbers) is a sum of pair terms ``g(u_ij)``, so a single-particle move changes
every ``d_i`` by one term and rebuilds the mover's: O(N) (the move
protocol). With ``J_ik = d d_i / d x_k`` and ``H_i`` the P x P Hessian of
``F(I(d))`` at ``d_i``, the exact derivatives are

.. math::
    \partial_k \log\psi = \sum_i J_{ik}^T \nabla F_i, \qquad
    \sum_k w_k \partial_k^2 \log\psi = \sum_i \Big(\nabla F_i \cdot \Delta_w d_i
        + \sum_{k,a} w_{ka}\, J_{ik,\cdot a}^T H_i\, J_{ik,\cdot a}\Big),

O(N^2 D P^2), with ``Delta_w d_i = sum_j sum_a (w_ia + w_ja) d^2 g(u_ij) /
du_a^2``.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .._geometry import (
    all_pair_displacements,
    check_box,
    check_particle_count,
    chord_distance,
    cutoff_envelope,
    periodic_vector,
)
from .._typing import RealArray, typechecked
from ._activations import activation_by_name, activation_name
from ._mlp import MLP, mlp
from ._neighbours import moved_sums, neighbour_sums
from ._pairwise import axis_jets, hessian_jets
from ._periodic import PeriodicLogAmplitude


class NeighbourhoodJastrow(PeriodicLogAmplitude):
    """``log psi = sum_i F(invariants of i's neighbourhood)``; see the module docstring.

    Lengths in the box's unit. `radial` maps a distance (shape ``(1,)``) to the
    C channels; `readout` maps one particle's invariants to its term.
    """

    radial: MLP
    readout: MLP
    box: tuple[float, ...] = eqx.field(static=True)
    n_particles: int = eqx.field(static=True)

    def __init__(
        self,
        box,
        n_particles: int,
        *,
        channels: int = 4,
        radial_widths: tuple[int, ...] = (16,),
        widths: tuple[int, ...] = (16, 16),
        activation: str = "tanh",
        key: PRNGKeyArray,
    ):
        """**Arguments:** `box` (side lengths), `n_particles` (>= 3: two particles have
        only a pair function), the number of radial `channels` C, the hidden widths of
        the radial MLP (`radial_widths`) and of F (`widths`), their hidden
        `activation` (a jax.nn function's name), and a PRNG `key`. F's last layer
        starts at zero: a new factor is 1."""
        self.box = check_box(box)
        check_particle_count(n_particles, 3)
        for name, value in (("radial_widths", radial_widths), ("widths", widths)):
            if not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in value):
                raise ValueError(f"{name} must be positive integers; got {value!r}.")
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise ValueError(f"channels must be a positive integer; got {channels!r}.")
        fn = activation_by_name(activation)
        radial_key, readout_key = jax.random.split(key)
        self.radial = mlp(1, (*radial_widths, channels), fn, key=radial_key)
        n_invariants = channels + channels * (channels + 1) // 2
        readout = mlp(n_invariants, (*widths, 1), fn, key=readout_key)
        self.readout = eqx.tree_at(
            lambda m: m.layers[-1].weight, readout, jnp.zeros((1, tuple(widths)[-1]))
        )
        self.n_particles = n_particles

    def hyperparameters(self) -> dict:
        return dict(
            box=self.box,
            n_particles=self.n_particles,
            channels=self.channels,
            radial_widths=self.radial.widths[:-1],
            widths=self.readout.widths[:-1],
            activation=activation_name(self.readout.activation),
        )

    @property
    def channels(self) -> int:
        return self.radial.widths[-1]

    def pair_descriptor(self, u: Float[Array, " dim"]) -> Float[Array, " p"]:
        """``g(u) = (xi(r), xi(r) s(u))`` flattened: one neighbour's share of ``d_i``,
        ``P = C (1 + D)`` numbers."""
        box = jnp.asarray(self.box, dtype=u.dtype)
        r = chord_distance(u, box)
        xi = self.radial(r[None]) * cutoff_envelope(r, min(self.box) / 2)
        return jnp.concatenate([xi, jnp.outer(xi, periodic_vector(u, box)).reshape(-1)])

    def particle_term(self, descriptor: Float[Array, " p"]) -> Float[Array, ""]:
        """``F(I(d_i))`` of one particle's descriptor."""
        c = self.channels
        rho, vectors = descriptor[:c], descriptor[c:].reshape(c, self.dim)
        i, j = jnp.triu_indices(c)
        products = jnp.sum(vectors[i] * vectors[j], axis=-1)
        return self.readout(jnp.concatenate([rho, products]))[0]

    def _displacements(self, x):
        positions = x.reshape(self.n_particles, self.dim)
        return all_pair_displacements(positions, jnp.asarray(self.box, dtype=x.dtype))

    def move_state(self, x):
        """Every particle's descriptor ``d_i``, shape ``(n_particles, P)``."""
        return neighbour_sums(self.pair_descriptor, x, self.n_particles, self.box)

    def _log_psi(self, descriptors):
        return jnp.sum(jax.vmap(self.particle_term)(descriptors))

    @typechecked
    def __call__(self, x: Float[RealArray, " n_dof"]) -> Float[Array, ""]:
        """``log psi`` of one configuration ``x`` of shape ``(n_particles * dim,)``."""
        self.check_configuration(x)
        return self._log_psi(self.move_state(jnp.asarray(x)))

    @property
    def has_fast_moves(self) -> bool:
        return True

    def moved(self, x, state, particle, position):
        """O(N): every ``d_i`` changes by one term; the mover's is rebuilt
        (``g(-u) = (xi, -xi s)``: its vector part reversed)."""
        c = self.channels

        def reverse(d):
            return jnp.concatenate([d[:c], -d[c:]])

        descriptors = moved_sums(
            self.pair_descriptor, x, state, self.n_particles, self.box, particle, position, reverse
        )
        return self._log_psi(descriptors), descriptors

    def _parts(self, x, jets):
        """Descriptors, their Jacobians ``J`` (N, N, P, D) and the per-pair second
        derivatives `jets` gives, with F's gradient and Hessian per particle."""
        u, off = self._displacements(x)
        g, Jg, Hg = jax.vmap(jax.vmap(lambda v: jets(self.pair_descriptor, v)))(u)
        mask = off.reshape(*off.shape, *[1] * (Jg.ndim - 2))
        Jg = jnp.where(mask, Jg, 0.0)
        Hg = jnp.where(off.reshape(*off.shape, *[1] * (Hg.ndim - 2)), Hg, 0.0)
        descriptors = jnp.sum(jnp.where(off[..., None], g, 0.0), axis=1)
        own = jnp.sum(Jg, axis=1)  # (N, P, D)
        eye = jnp.eye(self.n_particles, dtype=x.dtype)
        J = eye[:, :, None, None] * own[:, None] - Jg  # d d_i / d x_k
        grad_F = jax.vmap(jax.grad(self.particle_term))(descriptors)
        hess_F = jax.vmap(jax.hessian(self.particle_term))(descriptors)
        return J, Hg, grad_F, hess_F

    def grad_and_laplacian(self, x, weights):
        """Exact gradient and weighted Laplacian in O(N^2 D P^2) (module docstring)."""
        self.check_configuration(x)
        x = jnp.asarray(x)
        J, second, grad_F, hess_F = self._parts(x, _axis_jets_last)
        w = jnp.broadcast_to(jnp.asarray(weights, dtype=x.dtype), x.shape)
        w = w.reshape(self.n_particles, self.dim)
        grad = jnp.einsum("ikpa,ip->ka", J, grad_F)
        # Delta_w d_i = sum_j sum_a (w_ia + w_ja) d^2 g(u_ij) / du_a^2
        pair_w = w[:, None, :] + w[None, :, :]
        laplacian_d = jnp.einsum("ijpa,ija->ip", second, pair_w)
        quadratic = jnp.einsum("ikpa,ipq,ikqa,ka->", J, hess_F, J, w)
        return grad.reshape(-1), jnp.sum(grad_F * laplacian_d) + quadratic

    def grad_and_directional_laplacian(self, x, directions):
        """Exact gradient and ``tr(C^T H C)`` in O(N^2 D k P + N k P^2) for k columns."""
        self.check_configuration(x)
        x = jnp.asarray(x)
        J, hessians, grad_F, hess_F = self._parts(x, hessian_jets)
        grad = jnp.einsum("ikpa,ip->ka", J, grad_F)
        columns = directions.reshape(self.n_particles, self.dim, -1)
        along = jnp.einsum("ikpa,kan->ipn", J, columns)  # d d_i along every column
        change = columns[:, None] - columns[None, :]  # (N, N, D, k)
        second_d = jnp.einsum("ijpab,ijan,ijbn->ip", hessians, change, change)
        quadratic = jnp.einsum("ipn,ipq,iqn->", along, hess_F, along)
        return grad.reshape(-1), jnp.sum(grad_F * second_d) + quadratic


def _axis_jets_last(fn, u):
    """`axis_jets` with the axis last: value (P,), first and second (P, D)."""
    value, first, second = axis_jets(fn, u)
    return value, first.T, second.T
