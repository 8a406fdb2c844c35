r"""The protocol that wavefunctions built from pair terms implement.

A `PairwiseLogAmplitude` is a log-amplitude of N particles in a periodic box
of the form

.. math::
    \log\psi(x) = R\Big(\sum_{i<j} t(x_i - x_j)\Big),

where the pair terms ``t(u)`` (any pytree of arrays) depend on one
displacement ``u = x_i - x_j`` and ``R`` (the readout) maps their sum to a
scalar. A model implements two methods, `pair_terms` and `readout`, and then
gets, from this one formula:

- the forward pass (`__call__`, one configuration, shape-checked);
- exact ``d log psi / dx_k`` and ``d^2 log psi / dx_k^2`` in O(N^2)
  (`grad_and_hessian_diagonal`), which `eqxnqs.KineticEnergy` uses;
- O(N) single-particle moves (the move protocol, `move_state` and `moved`,
  which `eqxnqs.SingleParticleMetropolis` and g1 use): the state is the pair
  sum and every particle's own sum, and a move changes only the N - 1 terms
  of the moved particle.

A model whose `sums_pairs` is false takes the generic routes: a forward
pass per proposal, and folx's Laplacian in the kinetic energy.

The derivatives. Every pair term depends on ``x_i`` through ``+u_p`` and on
``x_j`` through ``-u_p``; the terms must be even in ``u`` (an unordered pair)
and periodic in the box. With ``S = sum_p t(u_p)`` flattened to a vector,

.. math::
    \partial_{ia} S = \sum_{p \ni i} \pm \partial_{u_a} t_p, \qquad
    \partial^2_{ia} S = \sum_{p \ni i} \partial^2_{u_a} t_p,

    \partial_{ia}\log\psi = \nabla R \cdot \partial_{ia} S, \qquad
    \partial^2_{ia}\log\psi = \partial_{ia} S^T H_R\, \partial_{ia} S
        + \nabla R \cdot \partial^2_{ia} S.

The per-pair derivatives along the D axes are forward-over-forward
autodiff of `pair_terms` by default (`pair_jets`). The kinetic energy needs
only the weighted Laplacian, so its route (`grad_and_laplacian`) asks each
pair for its second derivatives already summed over the axes with the
weights of its two particles (`pair_laplacian_jets`), and sums those over
the pairs. The DeepSet overrides both in Taylor mode: its phi input depends
on each axis alone, and `MLP.jets` / `MLP.laplacian_jets` carry value, first
derivatives and second-order part through phi's layers together (a forward
Laplacian: one second-order vector per pair instead of D), with each
activation's derivatives evaluated once per unit (forward over forward
evaluates them once per axis, and the tanh/gelu custom derivatives twice),
from one exponential per unit for tanh and gelu; the first layer scales its
weights by the per-axis derivatives instead of multiplying by a diagonal
matrix; and each pair's sines and cosines are evaluated once, by a
vectorised polynomial (`sin_cos` and `computed_once`: XLA on the CPU
evaluates its own one element at a time, and again in every loop that reads
them).
``R``'s gradient and Hessian are taken once at ``S``. The pair sums use a
circulant layout (`circulant_pairs`) so that collecting them per particle
needs no scatter, which is slow on the CPU.
"""

import abc

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float, Int, PyTree

from .._geometry import pair_indices
from .._typing import RealArray, typechecked
from ._periodic import PeriodicLogAmplitude


class PairwiseLogAmplitude(PeriodicLogAmplitude):
    """Base class of log-amplitudes ``R(sum_{i<j} t(x_i - x_j))``; see the module docstring.

    Subclasses define the fields `box` (side lengths, a tuple) and
    `n_particles`, and the methods `pair_terms` and `readout`.
    """

    @abc.abstractmethod
    def pair_terms(self, u: Float[Array, " dim"]) -> PyTree[Float[Array, "..."]]:
        """The terms of one pair with displacement ``u = x_i - x_j`` (shape ``(dim,)``).

        Must be even in ``u`` and periodic with the box.
        """

    @abc.abstractmethod
    def readout(self, pair_sum: PyTree[Float[Array, "..."]]) -> Float[Array, ""]:
        """``log psi`` from the sum of `pair_terms` over all pairs ``i < j``."""

    def pair_jets(self, u: Float[Array, " dim"]):
        """`pair_terms` and its first and second derivatives along each axis of ``u``.

        Returns ``(value, first, second)``: three pytrees shaped like
        `pair_terms`, the last two with a leading axis of length ``dim``.
        Forward-over-forward autodiff of `pair_terms` by default; a model may
        override it with a faster route to the same numbers.
        """
        return axis_jets(self.pair_terms, u)

    def pair_laplacian_jets(self, u: Float[Array, " dim"], metric: Float[Array, " dim"]):
        """`pair_terms`, its first derivatives along each axis of ``u``, and
        ``sum_a metric_a d^2/du_a^2`` of it.

        Returns ``(value, first, laplacian)``: pytrees shaped like
        `pair_terms`, ``first`` with a leading axis of length ``dim``. By
        default from `pair_jets`; a model may carry the weighted sum through
        its layers instead of each axis's second derivative (a forward
        Laplacian), as the DeepSet does.
        """
        value, first, second = self.pair_jets(u)
        return value, first, jax.tree.map(lambda s: jnp.tensordot(metric, s, axes=1), second)

    @property
    def sums_pairs(self) -> bool:
        """Whether ``log psi`` really is `readout` of the pair sum (the fast routes need it).

        True unless a subclass says otherwise for some settings (e.g. a
        DeepSet with a non-linear pooling such as max).
        """
        return True

    def pair_displacements(self, x: Float[Array, " n_dof"]) -> Float[Array, "n_pairs dim"]:
        """``x_i - x_j`` of every pair ``i < j`` (NetKet's order), not wrapped into the box."""
        positions = x.reshape(self.n_particles, self.dim)
        i, j = pair_indices(self.n_particles)
        return positions[i] - positions[j]

    def pair_sum(self, x: Float[Array, " n_dof"]) -> PyTree[Float[Array, "..."]]:
        """``sum_{i<j} pair_terms(x_i - x_j)`` of one configuration."""
        terms = jax.vmap(self.pair_terms)(self.pair_displacements(x))
        return jax.tree.map(lambda t: jnp.sum(t, axis=0), terms)

    def particle_pair_sum(
        self, x: Float[Array, " n_dof"], particle: Int[Array, ""], position: Float[Array, " dim"]
    ) -> PyTree[Float[Array, "..."]]:
        """Sum of the pair terms of `particle`, placed at `position`, with every other particle.

        O(N): moving one particle from ``x_k`` to ``x'_k`` changes the pair sum
        by ``particle_pair_sum(x, k, x'_k) - particle_pair_sum(x, k, x_k)``
        (`moved`, which the single-particle sampler and
        `one_body_density_matrix` use, keeps these sums per particle).
        """
        terms = self._particle_terms(x, particle, position)
        return jax.tree.map(lambda t: jnp.sum(t, axis=0), terms)

    @property
    def has_fast_moves(self) -> bool:
        return self.sums_pairs

    def _particle_terms(self, x, particle, position):
        """The pair terms of `particle` at `position` with every particle (own pair zeroed)."""
        positions = x.reshape(self.n_particles, self.dim)
        others = jnp.arange(self.n_particles) != particle
        # Any non-zero displacement stands in for the self-pair, which is masked.
        half_box = jnp.asarray(self.box, dtype=x.dtype) / 2.0
        u = jnp.where(others[:, None], position - positions, half_box)
        terms = jax.vmap(self.pair_terms)(u)
        mask = others.astype(x.dtype)
        return jax.tree.map(lambda t: t * mask.reshape(-1, *[1] * (t.ndim - 1)), terms)

    def move_state(self, x):
        """``(pair_sum, own)``: the pair sum and every particle's own pair sum."""
        if not self.sums_pairs:
            return super().move_state(x)
        positions = x.reshape(self.n_particles, self.dim)
        own = jax.vmap(lambda i: self.particle_pair_sum(x, i, positions[i]))(
            jnp.arange(self.n_particles)
        )
        return self.pair_sum(x), own

    def moved(self, x, state, particle, position):
        """O(N): the pair sum changes by the moved particle's new own sum minus its old one."""
        if not self.sums_pairs:
            return super().moved(x, state, particle, position)
        pair_sum, own = state
        old = self._particle_terms(x, particle, x.reshape(self.n_particles, self.dim)[particle])
        new = self._particle_terms(x, particle, position)
        new_own = jax.tree.map(lambda t: jnp.sum(t, axis=0), new)
        pair_sum = jax.tree.map(lambda s, o, n: s + (n - o[particle]), pair_sum, own, new_own)
        # (The terms are even, so particle i's term with the mover is the mover's with i.)
        own = jax.tree.map(
            lambda o, a, b, n: (o + a - b).at[particle].set(n), own, new, old, new_own
        )
        return self.readout(pair_sum), (pair_sum, own)

    @typechecked
    def __call__(self, x: Float[RealArray, " n_dof"]) -> Float[Array, ""]:
        """``log psi`` of one configuration ``x`` of shape ``(n_particles * dim,)``."""
        self.check_configuration(x)
        return self.readout(self.pair_sum(jnp.asarray(x)))

    @typechecked
    def grad_and_hessian_diagonal(
        self, x: Float[RealArray, " n_dof"]
    ) -> tuple[Float[Array, " n_dof"], Float[Array, " n_dof"]]:
        """Exact ``d log psi / dx_k`` and ``d^2 log psi / dx_k^2`` for every coordinate k.

        Both have shape ``(n_particles * dim,)``, in units of 1/length and
        1/length^2. Costs a few forward passes, growing like N^2 (module
        docstring); when `sums_pairs` is false, the full Hessian instead.
        """
        self.check_configuration(x)
        x = jnp.asarray(x)
        if not self.sums_pairs:
            return full_grad_and_hessian_diagonal(self, x)
        return pairwise_grad_and_hessian_diagonal(self, x)

    def grad_and_laplacian(self, x, weights):
        """As `PeriodicLogAmplitude.grad_and_laplacian`, from `pair_laplacian_jets` in
        O(N^2) (folx's Laplacian when `sums_pairs` is false)."""
        if not self.sums_pairs:
            return super().grad_and_laplacian(x, weights)
        self.check_configuration(x)
        return pairwise_grad_and_laplacian(self, jnp.asarray(x), weights)

    def grad_and_directional_laplacian(self, x, directions):
        """As `PeriodicLogAmplitude.grad_and_directional_laplacian`, from the pair terms'
        full D x D Hessians in O(N^2 D^2 k) (folx's when `sums_pairs` is false)."""
        if not self.sums_pairs:
            return super().grad_and_directional_laplacian(x, directions)
        self.check_configuration(x)
        return pairwise_grad_and_directional_laplacian(self, jnp.asarray(x), directions)


def full_grad_and_hessian_diagonal(
    fn, x: Float[Array, " n"]
) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
    """Gradient and Hessian diagonal of a scalar ``fn`` at ``x`` through the whole Hessian.

    n forward-over-reverse products, as NetKet's `KineticEnergy` does: the
    exact but costly route for models that do not sum pair terms.
    """
    grad_fn = jax.grad(fn)
    return grad_fn(x), jnp.diagonal(jax.jacfwd(grad_fn)(x))


def circulant_pairs(n_particles: int) -> tuple[np.ndarray, np.ndarray]:
    """Shifts ``k`` and weights enumerating every pair as ``(i, (i + k) mod N)``.

    With ``k = 1 .. N // 2`` and all ``i``, each unordered pair appears once,
    except for ``k = N / 2`` (even N), where it appears twice and gets weight
    1/2. Unlike `pair_indices` this layout lets every per-particle sum be a
    sum of rolled columns instead of a scatter.
    """
    shifts = np.arange(1, n_particles // 2 + 1)
    weights = np.where(2 * shifts == n_particles, 0.5, 1.0)
    return shifts, weights


def _per_particle(columns: Array, shifts: np.ndarray, weights: np.ndarray, sign: float) -> Array:
    """``sum_k w_k (columns[i, k] + sign * columns[(i - k) mod N, k])`` for every i.

    ``columns[i, k]`` belongs to the pair ``(i, (i + k) mod N)``: it counts
    once for its first particle i and, with ``sign``, once for its second.
    """
    total = 0.0
    for index, (shift, weight) in enumerate(zip(shifts, weights)):
        column = columns[:, index]
        total = total + weight * (column + sign * jnp.roll(column, int(shift), axis=0))
    return total


def axis_jets(fn, u: Float[Array, " dim"]):
    """``fn(u)`` and its first and second derivatives along each axis of ``u``.

    ``fn`` maps ``(dim,)`` to a pytree of arrays; returns ``(value, first,
    second)``, the last two with a leading axis of length ``dim``
    (forward-over-forward autodiff).
    """

    def along(axis):
        def slope(v):
            return jax.jvp(fn, (v,), (axis,))[1]

        return jax.jvp(slope, (u,), (axis,))

    first, second = jax.vmap(along)(jnp.eye(u.shape[0], dtype=u.dtype))
    return fn(u), first, second


def hessian_jets(fn, u: Float[Array, " dim"]):
    """``fn(u)``, its Jacobian and its Hessian: shapes ``(m,)``, ``(m, dim)``, ``(m, dim, dim)``.

    ``fn`` maps ``(dim,)`` to ``(m,)``; forward-over-forward autodiff along
    every pair of axes.
    """
    axes = jnp.eye(u.shape[0], dtype=u.dtype)

    def along(a, b):
        def slope(v):
            return jax.jvp(fn, (v,), (a,))[1]

        return jax.jvp(slope, (u,), (b,))

    first, second = jax.vmap(lambda b: jax.vmap(lambda a: along(a, b))(axes))(axes)
    # first[b, a] is the slope along a (the same for every b); second[b, a] = d2 fn / da db.
    return fn(u), jnp.moveaxis(first[0], 0, -1), jnp.moveaxis(second, (0, 1), (-1, -2))


def pairwise_grad_and_directional_laplacian(
    model: PairwiseLogAmplitude, x: Float[Array, " n_dof"], directions: Float[Array, "n_dof k"]
):
    r"""``(grad, tr(C^T H C))`` of ``model(x)`` for ``C = directions``, from the pair terms.

    With ``S = sum_p t(u_p)``, ``J_S = dS/dx`` and ``c_p = c_i - c_j`` the
    change of a pair's displacement along a direction ``c``,

    .. math::
        c^T H c = \sum_p \nabla R \cdot \partial^2 t(u_p)[c_p, c_p]
            + (J_S c)^T H_R (J_S c),

    summed over the columns of ``C``: O(N^2 D^2 k) for k columns.
    """
    n, dim = model.n_particles, model.dim
    positions = x.reshape(n, dim)
    shifts, weights = circulant_pairs(n)
    partners = (np.arange(n)[:, None] + shifts[None, :]) % n
    u = positions[:, None, :] - positions[partners]  # (N, S, D)
    _, unravel = ravel_pytree(model.pair_terms(u[0, 0]))

    def flat_terms(v):
        return ravel_pytree(model.pair_terms(v))[0]

    value, jacobian, hessian = jax.vmap(jax.vmap(lambda v: hessian_jets(flat_terms, v)))(u)
    w = jnp.asarray(weights, dtype=x.dtype)
    pair_sum = jnp.einsum("s,ism->m", w, value)

    def readout(total):
        return model.readout(unravel(total))

    readout_grad = jax.grad(readout)(pair_sum)
    readout_hessian = jax.hessian(readout)(pair_sum)
    slopes = jnp.einsum("isma,m->isa", jacobian, readout_grad)  # (N, S, D)
    grad = _per_particle(slopes, shifts, weights, -1.0)
    columns = directions.reshape(n, dim, -1)
    change = columns[:, None] - columns[partners]  # (N, S, D, k)
    metric = jnp.einsum("isak,isbk->isab", change, change)
    curvature = jnp.einsum("ismab,m->isab", hessian, readout_grad)
    inner = jnp.einsum("s,isab,isab->", w, curvature, metric)
    projected = jnp.einsum("s,isma,isak->mk", w, jacobian, change)  # J_S C
    outer = jnp.einsum("mk,mn,nk->", projected, readout_hessian, projected)
    return grad.reshape(-1), inner + outer


def pairwise_grad_and_laplacian(model: PairwiseLogAmplitude, x: Float[Array, " n_dof"], weights):
    r"""``(grad, sum_k w_k d^2 log psi / dx_k^2)`` of ``model(x)`` in O(N^2).

    A pair ``p = (i, j)`` enters ``x_i`` and ``x_j`` along each axis ``a``,
    so its second derivatives count with the metric ``w_ia + w_ja``:

    .. math::
        \sum_k w_k \partial_k^2 \log\psi = \nabla R \cdot \sum_p \sum_a
            (w_{ia} + w_{ja})\, \partial^2_{u_a} t_p
            + \sum_{ia} w_{ia}\, \partial_{ia} S^T H_R\, \partial_{ia} S,

    and `pair_laplacian_jets` gives each pair's weighted sum at once.
    """
    w = jnp.broadcast_to(jnp.asarray(weights, dtype=x.dtype), x.shape)
    w = w.reshape(model.n_particles, model.dim)
    grad, quadratic, laplacian, readout_grad, pair_weights = _pair_derivatives(model, x, w)
    total = sum(jnp.sum((leaf @ g) @ pair_weights) for leaf, g in zip(laplacian, readout_grad))
    return grad, total + jnp.sum(w * quadratic)


def pairwise_grad_and_hessian_diagonal(model: PairwiseLogAmplitude, x: Float[Array, " n_dof"]):
    """``(grad, hessian_diagonal)`` of ``model(x)`` in O(N^2), each of shape ``(n_dof,)``."""
    grad, quadratic, second, readout_grad, pair_weights = _pair_derivatives(model, x, None)
    shifts, _ = circulant_pairs(model.n_particles)
    curvature = sum(
        _per_particle(leaf @ g, shifts, pair_weights, 1.0) for leaf, g in zip(second, readout_grad)
    )
    return grad, (curvature + quadratic).reshape(-1)


def _pair_derivatives(model: PairwiseLogAmplitude, x, w):
    """What both routes share, from each pair's jets in the circulant layout.

    Returns ``(grad, quadratic, second, readout_grad, pair_weights)``:
    ``d log psi / dx`` ``(n_dof,)``; ``dS_ia^T H_R dS_ia`` per particle and
    axis ``(N, D)``; each leaf's second-order jets, ``(N, K, D, m)`` per
    axis (`pair_jets`, ``w`` None) or ``(N, K, m)`` summed with the metric
    of the weights ``w`` ``(N, D)`` (`pair_laplacian_jets`); ``R``'s
    gradient per leaf; the circulant pairs' weights.
    """
    n, dim = model.n_particles, model.dim
    positions = x.reshape(n, dim)
    shifts, pair_weights = circulant_pairs(n)
    partners = (np.arange(n)[:, None] + shifts[None, :]) % n
    u = positions[:, None, :] - positions[partners]  # (N, K, D)
    if w is None:
        value, first, second = jax.vmap(jax.vmap(model.pair_jets))(u)
        per_axis = (dim,)
    else:
        metric = w[:, None, :] + w[partners]  # (N, K, D)
        value, first, second = jax.vmap(jax.vmap(model.pair_laplacian_jets))(u, metric)
        per_axis = ()
    # Every leaf of the pair terms as columns: value (N, K, m), first (N, K, D, m).
    value = [leaf.reshape(n, len(shifts), -1) for leaf in jax.tree.leaves(value)]
    first = [leaf.reshape(n, len(shifts), dim, -1) for leaf in jax.tree.leaves(first)]
    second = [leaf.reshape(n, len(shifts), *per_axis, -1) for leaf in jax.tree.leaves(second)]
    sizes = np.cumsum([leaf.shape[-1] for leaf in value])[:-1]
    pair_sum = jnp.concatenate([jnp.einsum("k,ikm->m", pair_weights, leaf) for leaf in value])
    _, unravel = ravel_pytree(model.pair_terms(u[0, 0]))

    def readout(s):
        return model.readout(unravel(s))

    readout_grad = jnp.split(jax.grad(readout)(pair_sum), sizes)
    readout_hessian = [
        jnp.split(row, sizes, axis=1) for row in jnp.split(jax.hessian(readout)(pair_sum), sizes)
    ]
    ds = [_per_particle(leaf, shifts, pair_weights, -1.0) for leaf in first]  # (N, D, m) each
    grad = sum(d @ g for d, g in zip(ds, readout_grad))
    quadratic = 0.0
    for a, ds_a in enumerate(ds):
        for b, ds_b in enumerate(ds):
            quadratic = quadratic + jnp.einsum("idm,mn,idn->id", ds_a, readout_hessian[a][b], ds_b)
    return grad.reshape(-1), quadratic, second, readout_grad, pair_weights
