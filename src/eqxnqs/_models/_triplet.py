r"""The triplet (three-body) Jastrow factor of Schmidt, Kalos, Lee and Chester.

.. math::
    \log\psi = -\frac{\lambda}{2} \sum_i \lvert G_i \rvert^2, \qquad
    G_i = \sum_{j \ne i} \xi(\lvert d_{ij} \rvert)\, s_{ij}, \qquad
    \xi(r) = \exp\!\Big(-\Big(\frac{r - r_t}{w_t}\Big)^2\Big),

K. E. Schmidt, M. H. Kalos, M. A. Lee and G. V. Chester, PRL 45, 573
(1980). ``G_i`` is a weighted vector sum of particle ``i``'s neighbours at
distance about ``r_t``; ``|G_i|^2`` expands into terms of three particles
``i, j, k`` (and two, ``j = k``), so the factor adds the correlations of
triplets that a pair function (a Jastrow factor, or a DeepSet of pair
distances, whose only many-body freedom is a function of one global sum)
does not have. For liquid helium it lowers the variational energy by a
good part of the gap between the best pair wavefunction and the exact one.

Periodic versions of the vector and distance, smooth everywhere:
``s = (L / 2 pi) sin(2 pi u / L)`` per axis (odd and periodic, ``u`` for
close particles) and ``|d|`` the chord distance (`chord_distance`). Their
product ``g(u) = xi(|d(u)|) s(u)`` is odd, so its Jacobian ``J`` is even and
its second derivatives ``H`` odd in ``u``, and with ``Delta_kj = G_k - G_j``

.. math::
    \partial_{ka}\log\psi = -\lambda \sum_{j\ne k} \Delta_{kj} \cdot J_{kj,\cdot a},
    \qquad
    \partial^2_{ka}\log\psi = -\lambda \Big( \Big\lvert \sum_{j \ne k} J_{kj,\cdot a}
        \Big\rvert^2 + \sum_{j\ne k} \lvert J_{kj,\cdot a} \rvert^2
        + \sum_{j\ne k} \Delta_{kj} \cdot H_{kj,\cdot aa} \Big),

exact in O(N^2 D^2) (`TripletJastrow.grad_and_laplacian`).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._geometry import (
    all_pair_displacements,
    check_box,
    check_particle_count,
    chord_distance,
    periodic_vector,
)
from .._typing import RealArray, typechecked
from ._jastrow import checked_positive, inverse_softplus
from ._neighbours import moved_sums, neighbour_sums
from ._pairwise import axis_jets, hessian_jets
from ._periodic import PeriodicLogAmplitude


class TripletJastrow(PeriodicLogAmplitude):
    """``log psi = -(lambda/2) sum_i |sum_{j != i} xi(|d_ij|) s_ij|^2``; see the module docstring.

    Learnable: ``lambda`` (any sign, in 1 / length^2; 0 by default, so the
    factor starts as 1), and the centre ``r_t > 0`` and width ``w_t > 0`` of
    ``xi`` (stored as ``c`` with value ``softplus(c)``). Lengths are in the
    unit of the box.
    """

    strength: Float[Array, ""]
    c_center: Float[Array, ""]
    c_width: Float[Array, ""]
    box: tuple[float, ...] = eqx.field(static=True)
    n_particles: int = eqx.field(static=True)

    def __init__(
        self,
        box,
        n_particles: int,
        *,
        strength: float = 0.0,
        center: float = 1.0,
        width: float = 0.5,
    ):
        """**Arguments:** `box` (side lengths), `n_particles` (>= 3: with two
        particles ``|G_1|^2 = |G_2|^2`` is a pair function), and the starting
        `strength` lambda, `center` r_t and `width` w_t (for helium in units of
        r_m, about the nearest-neighbour distance: 1 and 0.5 by default)."""
        self.box = check_box(box)
        check_particle_count(n_particles, 3)
        if isinstance(strength, bool) or not isinstance(strength, (int, float)):
            raise ValueError(f"strength must be a real number; got {strength!r}.")
        self.n_particles = n_particles
        self.strength = jnp.asarray(float(strength), dtype=jnp.float64)
        self.c_center = inverse_softplus(checked_positive("center", center))
        self.c_width = inverse_softplus(checked_positive("width", width))

    @property
    def center(self) -> Float[Array, ""]:
        """``r_t = softplus(c_center)``."""
        return jax.nn.softplus(self.c_center)

    @property
    def width(self) -> Float[Array, ""]:
        """``w_t = softplus(c_width)``."""
        return jax.nn.softplus(self.c_width)

    def hyperparameters(self) -> dict:
        return dict(box=self.box, n_particles=self.n_particles)

    def pair_vector(self, u: Float[Array, " dim"]) -> Float[Array, " dim"]:
        """``g(u) = xi(|d(u)|) s(u)`` for one displacement ``u = x_i - x_j``."""
        box = jnp.asarray(self.box, dtype=u.dtype)
        r = chord_distance(u, box)
        xi = jnp.exp(-(((r - self.center) / self.width) ** 2))
        return xi * periodic_vector(u, box)

    def _displacements(self, x):
        positions = x.reshape(self.n_particles, self.dim)
        return all_pair_displacements(positions, jnp.asarray(self.box, dtype=x.dtype))

    def _log_psi(self, G):
        return -0.5 * self.strength * jnp.sum(G**2)

    @typechecked
    def __call__(self, x: Float[RealArray, " n_dof"]) -> Float[Array, ""]:
        """``log psi`` of one configuration ``x`` of shape ``(n_particles * dim,)``."""
        self.check_configuration(x)
        return self._log_psi(self.move_state(jnp.asarray(x)))

    @property
    def has_fast_moves(self) -> bool:
        return True

    def move_state(self, x):
        """The neighbour vectors ``G_i``, shape ``(n_particles, dim)``."""
        return neighbour_sums(self.pair_vector, x, self.n_particles, self.box)

    def moved(self, x, state, particle, position):
        """O(N): ``G_i`` changes by one term for ``i != k``; ``G_k`` is rebuilt
        (g is odd: ``g(x_k - x_i) = -g(x_i - x_k)``)."""
        G = moved_sums(
            self.pair_vector, x, state, self.n_particles, self.box, particle, position, jnp.negative
        )
        return self._log_psi(G), G

    def grad_and_laplacian(self, x, weights):
        """Exact gradient and weighted Laplacian in O(N^2 D^2) (module docstring)."""
        self.check_configuration(x)
        x = jnp.asarray(x)
        u, off = self._displacements(x)

        # Along each axis a: J[:, a] and H[:, a, a], axis first; then [component, axis].
        g, J, H = jax.vmap(jax.vmap(lambda v: axis_jets(self.pair_vector, v)))(u)
        J, H = jnp.swapaxes(J, -1, -2), jnp.swapaxes(H, -1, -2)  # (N, N, D, D)
        mask = off[..., None, None]
        J = jnp.where(mask, J, 0.0)
        H = jnp.where(mask, H, 0.0)
        G = jnp.sum(jnp.where(off[..., None], g, 0.0), axis=1)
        delta = G[:, None, :] - G[None, :, :]  # (N, N, D): G_k - G_j
        grad = -self.strength * jnp.einsum("kjc,kjca->ka", delta, J)
        second = -self.strength * (
            jnp.sum(jnp.sum(J, axis=1) ** 2, axis=1)
            + jnp.einsum("kjca,kjca->ka", J, J)
            + jnp.einsum("kjc,kjca->ka", delta, H)
        )
        w = jnp.broadcast_to(jnp.asarray(weights, dtype=x.dtype), x.shape)
        return grad.reshape(-1), jnp.sum(w * second.reshape(-1))

    def grad_and_directional_laplacian(self, x, directions):
        r"""Exact gradient and ``tr(C^T H C)`` in O(N^2 D^2 k) for k columns of C.

        Along a direction ``c``, ``dG_i = sum_j J_ij c_ij`` and ``d^2 G_i =
        sum_j H_ij[c_ij, c_ij]`` with ``c_ij = c_i - c_j``, so
        ``c^T H c = -lambda sum_i (|dG_i|^2 + G_i . d^2 G_i)``.
        """
        self.check_configuration(x)
        x = jnp.asarray(x)
        u, off = self._displacements(x)
        g, J, H = jax.vmap(jax.vmap(lambda v: hessian_jets(self.pair_vector, v)))(u)
        J = jnp.where(off[..., None, None], J, 0.0)  # (N, N, D[component], D[axis])
        H = jnp.where(off[..., None, None, None], H, 0.0)
        G = jnp.sum(jnp.where(off[..., None], g, 0.0), axis=1)
        delta = G[:, None, :] - G[None, :, :]
        grad = -self.strength * jnp.einsum("kjc,kjca->ka", delta, J)
        columns = directions.reshape(self.n_particles, self.dim, -1)
        change = columns[:, None] - columns[None, :]  # (N, N, D, k): c_i - c_j
        first = jnp.einsum("ijca,ijak->ick", J, change)  # dG_i along every column
        metric = jnp.einsum("ijak,ijbk->ijab", change, change)
        second = jnp.einsum("ic,ijcab,ijab->", G, H, metric)
        return grad.reshape(-1), -self.strength * (jnp.sum(first**2) + second)
