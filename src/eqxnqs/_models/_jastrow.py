r"""Pair Jastrow factors: log psi = sum over pairs of a function of the chord distance.

Both are `PairwiseLogAmplitude` s of one scalar pair term of the periodic
chord distance ``|d_ij|``, ``d = (L/pi) sin(pi (x_i - x_j) / L)`` per axis,
which equals the distance ``r_ij`` for close particles (so ``b`` is
McMillan's length; NetKet's DeepSet cusp uses ``(L/2) sin``, pi/2 times
larger at contact):

- `McMillanJastrow`: ``-1/2 sum_{i<j} (b / |d_ij|)^k``, McMillan's hard-core
  factor (k = 5 for helium), with ``b > 0`` by construction.
- `PowerLawJastrow`: ``beta sum_{i<j} log |d_ij|``, which vanishes as
  ``|d|^beta`` at contact. In 1D it is the exact Calogero-Sutherland ground
  state ``prod |sin(pi x_ij / L)|^beta`` (up to a constant), with
  ``beta > 0`` by construction (in D > 1, the chord distance generalises
  ``|sin|``).

Positive parameters are stored as ``c`` with value ``softplus(c)``, as the
DeepSet's cusp: a negative ``b`` or ``beta`` would make psi grow without
bound at contact.
"""

import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._geometry import check_box, check_particle_count, chord_distance
from ._pairwise import PairwiseLogAmplitude


def inverse_softplus(value: float) -> Float[Array, ""]:
    """``c`` with ``softplus(c) = value`` (``value > 0``), accurate for large values."""
    value = jnp.asarray(value, dtype=jnp.float64)
    return value + jnp.log(-jnp.expm1(-value))


def checked_positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number; got {value!r}.")
    return float(value)


def _renamed(old: str, new: str) -> None:
    warnings.warn(
        f"{old} is deprecated and will be removed in eqxnqs 0.3; use {new}.",
        DeprecationWarning,
        stacklevel=3,
    )


def _pair_distance(u: Float[Array, " dim"], box: tuple[float, ...]) -> Float[Array, ""]:
    return chord_distance(u, jnp.asarray(box, dtype=u.dtype))


class McMillanJastrow(PairwiseLogAmplitude):
    """``log psi = -1/2 sum_{i<j} (b / |d_ij|)^k`` with learnable ``b > 0``.

    ``b`` is in the length unit of the box; `length` returns it, `exponent` is k.
    """

    c: Float[Array, ""]
    box: tuple[float, ...] = eqx.field(static=True)
    n_particles: int = eqx.field(static=True)
    exponent: int = eqx.field(static=True)

    def __init__(self, box, n_particles: int, *, exponent: int = 5, b: float = 1.0):
        """**Arguments:** `box` (side lengths), `n_particles`, `exponent` k (a
        positive integer, 5 by default), and the initial `b` (> 0)."""
        self.box = check_box(box)
        check_particle_count(n_particles)
        if isinstance(exponent, bool) or not isinstance(exponent, int) or exponent < 1:
            raise ValueError(f"exponent must be a positive integer; got {exponent!r}.")
        self.n_particles, self.exponent = n_particles, exponent
        self.c = inverse_softplus(checked_positive("b", b))

    @property
    def length(self) -> Float[Array, ""]:
        """``b = softplus(c)``."""
        return jax.nn.softplus(self.c)

    @property
    def strength(self) -> Float[Array, ""]:
        """Deprecated name of `length` (b); removed in 0.3."""
        _renamed("McMillanJastrow.strength", "McMillanJastrow.length")
        return self.length

    def hyperparameters(self) -> dict:
        return dict(box=self.box, n_particles=self.n_particles, exponent=self.exponent)

    def pair_terms(self, u: Float[Array, " dim"]) -> Float[Array, ""]:
        return -0.5 * (self.length / _pair_distance(u, self.box)) ** self.exponent

    def readout(self, pair_sum: Float[Array, ""]) -> Float[Array, ""]:
        return pair_sum


class PowerLawJastrow(PairwiseLogAmplitude):
    """``log psi = beta sum_{i<j} log |d_ij|`` with learnable ``beta > 0``.

    In 1D, ``beta = 2`` (say) is the exact ground state of the
    Calogero-Sutherland model with that beta; `power` returns beta.
    """

    c: Float[Array, ""]
    box: tuple[float, ...] = eqx.field(static=True)
    n_particles: int = eqx.field(static=True)

    def __init__(self, box, n_particles: int, *, beta: float = 1.0):
        """**Arguments:** `box` (side lengths), `n_particles`, the initial `beta` (> 0)."""
        self.box = check_box(box)
        check_particle_count(n_particles)
        self.n_particles = n_particles
        self.c = inverse_softplus(checked_positive("beta", beta))

    @property
    def power(self) -> Float[Array, ""]:
        """``beta = softplus(c)``."""
        return jax.nn.softplus(self.c)

    @property
    def exponent(self) -> Float[Array, ""]:
        """Deprecated name of `power` (beta); removed in 0.3."""
        _renamed("PowerLawJastrow.exponent", "PowerLawJastrow.power")
        return self.power

    def hyperparameters(self) -> dict:
        return dict(box=self.box, n_particles=self.n_particles)

    def pair_terms(self, u: Float[Array, " dim"]) -> Float[Array, ""]:
        return jnp.log(_pair_distance(u, self.box))

    def readout(self, pair_sum: Float[Array, ""]) -> Float[Array, ""]:
        return self.power * pair_sum
