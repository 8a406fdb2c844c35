r"""Exact gradient and Hessian diagonal of `DeepSetRelDistance`, in O(N^2).

With ``u_p = x_i - x_j`` for each unordered pair ``p = {i, j}`` (taken once),

.. math::
    \log\psi = \rho(s) + \sum_p C(u_p), \qquad s = c \sum_p \phi(y(u_p)),

where ``c`` is 1 (sum pooling) or ``1/n_pairs`` (mean pooling). Every pair
term depends on ``x_i`` through ``+u_p`` and on ``x_j`` through ``-u_p``, so
for the coordinate ``a`` of particle ``i``

.. math::
    \partial_{ia} s = c \sum_{p \ni i} \pm \partial_{u_a} \phi_p, \qquad
    \partial^2_{ia} s = c \sum_{p \ni i} \partial^2_{u_a} \phi_p,

    \partial_{ia} \log\psi = \nabla\rho \cdot \partial_{ia} s + \ldots, \qquad
    \partial^2_{ia} \log\psi = \partial_{ia} s^T H_\rho\, \partial_{ia} s
        + \nabla\rho \cdot \partial^2_{ia} s + \ldots

(the dots are the cusp's own pair sums). The per-pair derivatives along the
D axes are one Taylor pass of phi (`mlp_jet`); rho's gradient and Hessian
are taken once at ``s``. The cost grows like ``N^2``, like a forward pass,
where the full Hessian costs ``N^3``. The pair sums use a circulant layout
(`_circulant_pairs`) so that collecting them per particle needs no scatter.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._hessian_diagonal import grad_and_hessian_diagonal
from ._pooling import linear_pooling_weight
from ._taylor import Jet, mlp_jet

def _circulant_pairs(n_particles: int) -> tuple[np.ndarray, np.ndarray]:
    """Shifts ``k`` and weights enumerating every pair as ``(i, (i + k) mod N)``.

    With ``k = 1 .. N // 2`` and all ``i``, each unordered pair appears once,
    except for ``k = N / 2`` (even N), where it appears twice and gets weight
    1/2. Unlike ``triu_indices`` this layout lets every per-particle sum be a
    sum of rolled columns instead of a scatter, which is slow on the CPU.
    """
    shifts = np.arange(1, n_particles // 2 + 1)
    weights = np.where(2 * shifts == n_particles, 0.5, 1.0)
    return shifts, weights


def _sine_feature_jet(
    theta: Float[Array, " D"], box: Float[Array, " D"], scale: float
) -> Jet:
    """Jet of ``y = scale (sin(theta) / 2)^2``, ``theta = pi u / L``, along the D axes of u."""
    value = scale / 4.0 * jnp.sin(theta) ** 2
    slope = scale * jnp.pi / (4.0 * box) * jnp.sin(2.0 * theta)
    curvature = scale * jnp.pi**2 / (2.0 * box**2) * jnp.cos(2.0 * theta)
    return Jet(value, jnp.diag(slope), jnp.diag(curvature))


def _cusp_jet(model, theta: Float[Array, " D"], box: Float[Array, " D"]) -> Jet:
    """Jet of ``C = -b / (2 |d|^k)``, ``d = (L/2) sin(theta)``, along the D axes of u."""
    b, k = model.cusp_strength, model.cusp_exponent
    sin, cos = jnp.sin(theta), jnp.cos(theta)
    d = box / 2.0 * sin
    d_slope = jnp.pi / 2.0 * cos
    d_curvature = -(jnp.pi**2) / (2.0 * box) * sin
    r2 = jnp.sum(d**2)
    value = -0.5 * b * r2 ** (-k / 2)
    c_r2 = 0.25 * b * k * r2 ** (-k / 2 - 1)  # dC/d(r^2)
    c_r2r2 = -(k / 2 + 1) * c_r2 / r2
    r2_slope = 2.0 * d * d_slope
    r2_curvature = 2.0 * (d_slope**2 + d * d_curvature)
    first = c_r2 * r2_slope
    second = c_r2r2 * r2_slope**2 + c_r2 * r2_curvature
    return Jet(value[None], first[:, None], second[:, None])


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


def rel_distance_grad_and_hessian_diagonal(model, x: Float[Array, " n_dof"]):
    """``(grad, hessian_diagonal)`` of ``model(x)``, each of shape ``(n_dof,)``."""
    n, dim = model.n_particles, model.dim
    c = linear_pooling_weight(model.pooling, n * (n - 1) // 2)
    if c is None:
        # A custom pooling need not be linear: take the exact but costly route.
        return grad_and_hessian_diagonal(model, x)
    box = jnp.asarray(model.box, dtype=x.dtype)
    positions = x.reshape(n, dim)
    shifts, weights = _circulant_pairs(n)
    partners = (np.arange(n)[:, None] + shifts[None, :]) % n
    theta = jnp.pi * (positions[:, None, :] - positions[partners]) / box  # (N, K, D)

    def pair_jet_of(t):
        return mlp_jet(model.phi, _sine_feature_jet(t, box, model.input_scale))

    pair_jet = jax.vmap(jax.vmap(pair_jet_of))
    jets = pair_jet(theta)
    pooled = c * jnp.einsum("k,ikf->f", weights, jets.value)

    def rho(s):
        return model.rho(s)[0]

    rho_grad = jax.grad(rho)(pooled)
    rho_hessian = jax.hessian(rho)(pooled)
    ds = c * _per_particle(jets.first, shifts, weights, -1.0)  # (N, D, F)
    d2s_rho = c * _per_particle(jets.second @ rho_grad, shifts, weights, 1.0)  # (N, D)
    grad = ds @ rho_grad
    hessian_diagonal = jnp.einsum("idf,fg,idg->id", ds, rho_hessian, ds) + d2s_rho

    if model.cusp is not None:
        cusp = jax.vmap(jax.vmap(lambda t: _cusp_jet(model, t, box)))(theta)
        grad = grad + _per_particle(cusp.first[..., 0], shifts, weights, -1.0)
        hessian_diagonal = hessian_diagonal + _per_particle(cusp.second[..., 0], shifts, weights, 1.0)
    return grad.reshape(-1), hessian_diagonal.reshape(-1)
