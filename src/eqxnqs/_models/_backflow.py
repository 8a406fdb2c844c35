r"""Backflow: any wavefunction evaluated at quasi-particle coordinates.

.. math::
    \log\psi(x) = f(q(x)), \qquad
    q_i = x_i + \sum_{j \ne i} \eta(\lvert d_{ij} \rvert)\, s_{ij},

with ``f`` any eqxnqs log-amplitude (a DeepSet, Jastrow and triplet factors,
their sum), ``s = (L / 2 pi) sin(2 pi u / L)`` per axis (odd, periodic, the
displacement ``u = x_i - x_j`` for close particles), ``|d|`` the chord
distance (`chord_distance`) and ``eta`` a learned function of the distance:
an MLP times ``(1 - (r/r_c)^2)^3``, which vanishes smoothly at ``r_c``, half
the shortest side. (Without it, the first trial on 2D helium learnt eta ~
-0.6 at every distance: each quasi-particle moved with the whole box.)
Each quasi-particle moves with its neighbours, the backflow of Feynman and
Cohen; for liquid helium it lowers the variational energy of
Jastrow and triplet wavefunctions towards the exact one (Schmidt, Lee,
Kalos and Chester, PRL 47, 807 (1981); Moroni, Fantoni and Senatore, PRB 52,
13547 (1995)). eta's last layer starts at zero, so a new `Backflow` is
``f`` itself: it can wrap a trained model without changing its energy.

``q`` is a symmetric, translation-covariant function of ``x`` and shifts by a
box vector when ``x_i`` does, so ``f(q)`` keeps ``f``'s symmetries.

The kinetic energy, exactly. With ``Q = dq/dx`` (dense: every ``q_i``
depends on every particle) the chain rule gives

.. math::
    \nabla_x \log\psi = Q^T \nabla_q f, \qquad
    \sum_k w_k \partial_k^2 \log\psi = \operatorname{tr}(C^T H_f C)
        + \nabla_q f \cdot \sum_k w_k \partial_k^2 q, \qquad C = Q\,
        \mathrm{diag}(\sqrt{w}),

where the second derivatives of ``q`` are pair terms, O(N^2 D^2), and
``tr(C^T H_f C)`` is ``f``'s `grad_and_directional_laplacian`: from the pair
terms' Hessians in O(N^2 D^2 n_dof) for pair sums and the triplet, and by
folx for any other ``f``. No Hessian of ``log psi`` is built.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .._geometry import (
    all_pair_displacements,
    chord_distance,
    cutoff_envelope,
    periodic_vector,
)
from .._typing import RealArray, typechecked
from ._activations import activation_by_name
from ._mlp import MLP, mlp
from ._neighbours import neighbour_sums
from ._pairwise import hessian_jets
from ._periodic import PeriodicLogAmplitude


class Backflow(PeriodicLogAmplitude):
    """``log psi(x) = inner(q(x))`` at quasi-particle coordinates; see the module docstring.

    `inner` is any eqxnqs log-amplitude; `eta` maps one distance (shape
    ``(1,)``, in the box's length unit) to the backflow strength (shape
    ``(1,)``, dimensionless).
    """

    inner: PeriodicLogAmplitude
    eta: MLP
    box: tuple[float, ...] = eqx.field(static=True)
    n_particles: int = eqx.field(static=True)

    def __init__(
        self,
        inner: PeriodicLogAmplitude,
        *,
        widths: tuple[int, ...] = (16, 16),
        activation: str = "tanh",
        key: PRNGKeyArray,
    ):
        """**Arguments:** the wavefunction `inner` to evaluate at the quasi-particle
        coordinates, the hidden `widths` of eta's MLP (its output is one number),
        its hidden `activation` (a jax.nn function's name), and a PRNG `key`.
        eta's last layer starts at zero: ``Backflow(inner)`` equals ``inner``."""
        if not isinstance(inner, PeriodicLogAmplitude):
            raise TypeError(
                "inner must be an eqxnqs log-amplitude (a PeriodicLogAmplitude such as "
                f"DeepSetRelDistance or SumLogAmplitude); got {type(inner).__name__}."
            )
        widths = tuple(widths)
        if not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths):
            raise ValueError(f"widths must be positive integers; got {widths!r}.")
        hidden, last = jax.random.split(key)
        eta = mlp(1, (*widths, 1), activation_by_name(activation), key=hidden)
        self.eta = eqx.tree_at(lambda m: m.layers[-1].weight, eta, jnp.zeros((1, widths[-1])))
        self.inner = inner
        self.box = inner.box
        self.n_particles = inner.n_particles

    def hyperparameters(self) -> dict:
        return dict(widths=self.eta.widths[:-1], activation=self.activation_name)

    @property
    def activation_name(self) -> str:
        from ._activations import activation_name

        return activation_name(self.eta.activation)

    def strength(self, r: Float[Array, ""]) -> Float[Array, ""]:
        """``eta(r)``: the MLP times ``(1 - (r/r_c)^2)^3`` (zero beyond ``r_c``, half the
        shortest side), so that no pair beyond the cutoff moves a quasi-particle."""
        return self.eta(r[None])[0] * cutoff_envelope(r, min(self.box) / 2)

    def displacement(self, u: Float[Array, " dim"]) -> Float[Array, " dim"]:
        """``eta(|d(u)|) s(u)``: how far particle i's quasi-particle moves for a neighbour
        at ``x_i - u`` (odd in ``u``)."""
        box = jnp.asarray(self.box, dtype=u.dtype)
        r = chord_distance(u, box)
        return self.strength(r) * periodic_vector(u, box)

    def displacement_jets(self, u: Float[Array, " dim"]):
        """`displacement` of ``u`` with its Jacobian ``(dim, dim)`` and Hessian ``(dim, dim,
        dim)`` (component first): eta's by one scalar jet in r, the geometry's by autodiff
        along the axes, joined by the product rule (eta is the costly part)."""
        box = jnp.asarray(self.box, dtype=u.dtype)

        def geometry(v):
            return jnp.concatenate([chord_distance(v, box)[None], periodic_vector(v, box)])

        g, dg, hg = hessian_jets(geometry, u)
        r, dr, hr = g[0], dg[0], hg[0]
        s, ds, hs = g[1:], dg[1:], hg[1:]
        one = jnp.ones_like(r)
        (eta, slope), (_, curvature) = jax.jvp(
            lambda t: jax.jvp(self.strength, (t,), (one,)), (r,), (one,)
        )
        value = eta * s
        jacobian = slope * s[:, None] * dr[None, :] + eta * ds
        cross = ds[:, :, None] * dr[None, None, :] + ds[:, None, :] * dr[None, :, None]
        hessian = (
            curvature * s[:, None, None] * (dr[:, None] * dr[None, :])
            + slope * (s[:, None, None] * hr[None] + cross)
            + eta * hs
        )
        return value, jacobian, hessian

    def _pairs(self, x):
        positions = x.reshape(self.n_particles, self.dim)
        return all_pair_displacements(positions, jnp.asarray(self.box, dtype=x.dtype))

    def quasi_particles(self, x: Float[Array, " n_dof"]) -> Float[Array, " n_dof"]:
        """The quasi-particle coordinates ``q(x)``, shape ``(n_particles * dim,)``."""
        shifts = neighbour_sums(self.displacement, x, self.n_particles, self.box)
        return x + shifts.reshape(-1)

    @typechecked
    def __call__(self, x: Float[RealArray, " n_dof"]) -> Float[Array, ""]:
        """``log psi`` of one configuration ``x`` of shape ``(n_particles * dim,)``."""
        self.check_configuration(x)
        return self.inner(self.quasi_particles(jnp.asarray(x)))

    def grad_and_laplacian(self, x, weights):
        """Exact gradient and weighted Laplacian by the chain rule (module docstring)."""
        scale = jnp.sqrt(jnp.broadcast_to(jnp.asarray(weights, dtype=x.dtype), x.shape))
        return self.grad_and_directional_laplacian(x, jnp.diag(scale))

    def grad_and_directional_laplacian(self, x, directions):
        """``tr(C^T H C)`` of ``inner(q(x))``: ``inner``'s along ``Q C`` plus ``q``'s own."""
        self.check_configuration(x)
        x = jnp.asarray(x)
        n, dim = self.n_particles, self.dim
        u, off = self._pairs(x)
        b, B, Hb = jax.vmap(jax.vmap(self.displacement_jets))(u)
        b = jnp.where(off[..., None], b, 0.0)
        B = jnp.where(off[..., None, None], B, 0.0)  # (N, N, D[component], D[axis])
        Hb = jnp.where(off[..., None, None, None], Hb, 0.0)
        q = x + jnp.sum(b, axis=1).reshape(-1)
        # dq_i/dx_k = delta_ik (1 + sum_j B_ij) - B_ik (B_ii = 0)
        own = jnp.eye(dim, dtype=x.dtype) + jnp.sum(B, axis=1)  # (N, D, D)
        jacobian = jnp.einsum("ik,ica->icka", jnp.eye(n, dtype=x.dtype), own)
        jacobian = (jacobian - jnp.swapaxes(B, 1, 2)).reshape(n * dim, n * dim)
        columns = directions.reshape(n, dim, -1)
        change = columns[:, None] - columns[None, :]  # (N, N, D, k): c_i - c_j
        q_second = jnp.einsum("ijcab,ijak,ijbk->ic", Hb, change, change).reshape(-1)
        grad_q, curvature = self.inner.grad_and_directional_laplacian(q, jacobian @ directions)
        return jacobian.T @ grad_q, curvature + grad_q @ q_second

    @property
    def surrogate(self) -> PeriodicLogAmplitude:
        """`inner` at the bare coordinates, by its own surrogate if it has one (an iterated
        backflow's innermost wavefunction): the sampler's cheap stand-in."""
        surrogate = self.inner.surrogate
        return self.inner if surrogate is None else surrogate

    @property
    def samples_per_step(self) -> int:
        """A few samples: each carries dense ``n_dof x n_dof`` Jacobians."""
        return max(1, 2**15 // (self.n_particles**2 * self.dim**2))


def with_backflow(model: PeriodicLogAmplitude, *, key: PRNGKeyArray, **options):
    """`model` with its soft part at backflow coordinates and its hard core at the bare ones.

    McMillan and power-law factors, and a DeepSet's cusp term (split off
    exactly as a McMillan factor, `DeepSetRelDistance.split_cusp`), stay at
    the bare coordinates; every other term goes into one `Backflow` (with
    `options`). The result equals `model` until eta is trained. Why: at
    contact a backflow rescales a pair's quasi-distance, and a hard-core
    factor ``(b/r)^5`` turns that into a large change of log psi; outside the
    backflow it stays the same, and the sampler's surrogate (the backflow's
    inner wavefunction at the bare coordinates) stays close to psi.
    """
    from ._jastrow import McMillanJastrow, PowerLawJastrow
    from ._rel_distance import DeepSetRelDistance
    from ._sum import SumLogAmplitude

    terms = model.terms if isinstance(model, SumLogAmplitude) else (model,)
    bare, soft = [], []
    for term in terms:
        if isinstance(term, (McMillanJastrow, PowerLawJastrow)):
            bare.append(term)
        elif isinstance(term, DeepSetRelDistance):
            factor, term = term.split_cusp()
            bare.extend([] if factor is None else [factor])
            soft.append(term)
        else:
            soft.append(term)
    if not soft:
        raise ValueError("a backflow needs a term besides the hard-core factors; got none.")
    inner = soft[0] if len(soft) == 1 else SumLogAmplitude(*soft)
    flow = Backflow(inner, key=key, **options)
    return SumLogAmplitude(*bare, flow) if bare else flow
