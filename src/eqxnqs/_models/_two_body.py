r"""The pair factor of two particles alone at zero energy, as a short-range Jastrow.

Two particles of mass m with the pair potential V, at zero relative energy,
have the pair wavefunction ``f(r) = e^{u(r)}`` with

.. math::
    u'' + \frac{D - 1}{r} u' + u'^2 = V(r)

(lengths and energies in the units of the potential, ``hbar^2 / (m r_m^2)``
for helium: the relative motion has the reduced mass m/2). This is the
short-range part of a liquid's pair correlation that McMillan's
``-(1/2)(b/r)^5`` only approximates: for helium in 2D, McMillan's slope at
its optimal b is twice the two-body one at 0.5 r_m and 0.9 times it at
0.8 r_m. `TwoBodyJastrow` is ``lambda sum_{i<j} s(r_ij) (u(r_ij) - u(r_c))``
with a learnable ``lambda > 0`` and a C2 switch s from 1 to 0 over
``[r_c - w, r_c]``, at the minimum-image distance (smooth wherever the term
is not zero, since ``r_c <= L/2``); a network supplies the rest.

The profile u is solved once per potential, dimension and cut-off (scipy's
LSODA, from the regular solution ``u' = V(r) r / D`` at ``r = 1e-4``, so the
potential must be finite at contact, as Aziz's are) and stored as a
Chebyshev series on ``[r_0, r_c]``. Below ``r_0`` (0.2 r_m, where e^{2u} is
below e^{-50} of its value at r_m for helium) it goes on as its second-order
Taylor polynomial at ``r_0``: u, u' and u'' are continuous, so the local
energy has no hidden delta function anywhere (a factor frozen below some
radius has one, and an optimiser finds it).
"""

import functools
import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.integrate
from jaxtyping import Array, Float
from numpy.polynomial import chebyshev

from .._geometry import check_box, check_particle_count, minimum_image
from ._jastrow import checked_positive, inverse_softplus
from ._pairwise import PairwiseLogAmplitude

#: Where the Chebyshev series of u starts; below it, u's Taylor polynomial.
FIT_START = 0.2
#: Degree of the Chebyshev series (for helium, the two-body local energy is within 1e-9 of V
#: and 1e-5 of zero on [r_0, r_c - w]: `tests/test_two_body.py`).
DEGREE = 40
#: Where the regular solution starts, ``u' = V(r) r / D`` (exact to O(r^3) for a potential
#: finite at contact).
_ORIGIN = 1e-4


@functools.cache
def two_body_profile(
    potential: Callable, dim: int, cutoff: float
) -> tuple[tuple[float, ...], tuple[float, float, float]]:
    """The Chebyshev coefficients of ``u(r) - u(r_c)`` on ``[FIT_START, cutoff]`` (in
    ``x = (2r - r_0 - r_c) / (r_c - r_0)``), and ``(u, u', u'')`` at ``FIT_START``."""
    pair = jax.jit(potential)

    def v(r):
        return float(pair(r))

    def rhs(r, y):
        slope, _ = y
        return [v(r) - (dim - 1) * slope / r - slope * slope, slope]

    if not math.isfinite(v(_ORIGIN)):
        raise ValueError(
            f"the two-body factor needs a potential finite at contact; got V({_ORIGIN:g}) = "
            f"{v(_ORIGIN)}."
        )
    with np.errstate(all="raise"):
        try:
            solution = scipy.integrate.solve_ivp(
                rhs,
                (_ORIGIN, cutoff),
                [v(_ORIGIN) * _ORIGIN / dim, 0.0],
                method="LSODA",
                rtol=1e-12,
                atol=1e-12,
                dense_output=True,
            )
        except (ArithmeticError, ValueError) as error:
            solution = error
    if not getattr(solution, "success", False):
        raise ValueError(
            "the two-body equation did not solve for this potential (it must be finite at "
            f"contact): {getattr(solution, 'message', solution)}"
        )
    n = 4 * DEGREE
    x = np.cos(np.pi * (np.arange(n) + 0.5) / n)
    r = FIT_START + (cutoff - FIT_START) * (x + 1.0) / 2.0
    u = solution.sol(r)[1] - solution.sol(cutoff)[1]
    coefficients = chebyshev.chebfit(x, u, DEGREE)
    slope, u_start = solution.sol(FIT_START)
    u_start -= solution.sol(cutoff)[1]
    curvature = v(FIT_START) - (dim - 1) * slope / FIT_START - slope**2
    return tuple(float(c) for c in coefficients), (float(u_start), float(slope), float(curvature))


def _clenshaw(coefficients: tuple[float, ...], x: Float[Array, ""]) -> Float[Array, ""]:
    b1 = b2 = jnp.zeros_like(x)
    for c in coefficients[:0:-1]:
        b1, b2 = 2.0 * x * b1 - b2 + c, b1
    return x * b1 - b2 + coefficients[0]


def _switch(r: Float[Array, ""], cutoff: float, width: float) -> Float[Array, ""]:
    t = jnp.clip((r - (cutoff - width)) / width, 0.0, 1.0)
    return 1.0 - t**3 * (10.0 - 15.0 * t + 6.0 * t**2)


class TwoBodyJastrow(PairwiseLogAmplitude):
    """``log psi = lambda sum_{i<j} s(r_ij) (u(r_ij) - u(r_c))``: the zero-energy pair
    factor of the potential (see the module docstring), with learnable ``lambda > 0``.

    Lengths in the unit of the box and of the potential; `power` returns lambda.
    """

    c: Float[Array, ""]
    box: tuple[float, ...] = eqx.field(static=True)
    n_particles: int = eqx.field(static=True)
    potential: Callable = eqx.field(static=True)
    cutoff: float = eqx.field(static=True)
    width: float = eqx.field(static=True)
    coefficients: tuple[float, ...] = eqx.field(static=True)
    taylor: tuple[float, float, float] = eqx.field(static=True)

    def __init__(
        self,
        box,
        n_particles: int,
        potential: Callable,
        *,
        cutoff: float = 1.2,
        width: float = 0.3,
        power: float = 1.0,
    ):
        """**Arguments:** `box` (side lengths), `n_particles`, the pair `potential`
        (a function of the distance, in units of hbar^2 / (m length^2) with the
        box's length: `eqxnqs.aziz_hfdhe2` for helium in r_m), the `cutoff` r_c
        (at most half the shortest side) and the `width` w of the switch, and
        the initial `power` lambda (> 0)."""
        self.box = check_box(box)
        check_particle_count(n_particles)
        if not callable(potential):
            raise ValueError(f"potential must be a function of the distance; got {potential!r}.")
        cutoff, width = checked_positive("cutoff", cutoff), checked_positive("width", width)
        if not FIT_START < cutoff - width:
            raise ValueError(f"cutoff - width must exceed {FIT_START} r_m; got {cutoff} - {width}.")
        if cutoff > min(self.box) / 2:
            raise ValueError(
                f"cutoff must be at most half the shortest box side ({min(self.box) / 2:g}); "
                f"got {cutoff}."
            )
        self.n_particles, self.potential = n_particles, potential
        self.cutoff, self.width = cutoff, width
        self.coefficients, self.taylor = two_body_profile(potential, len(self.box), cutoff)
        self.c = inverse_softplus(checked_positive("power", power))

    @property
    def power(self) -> Float[Array, ""]:
        """``lambda = softplus(c)``."""
        return jax.nn.softplus(self.c)

    def hyperparameters(self) -> dict:
        return dict(
            box=self.box,
            n_particles=self.n_particles,
            potential=self.potential,
            cutoff=self.cutoff,
            width=self.width,
        )

    def profile(self, r: Float[Array, ""]) -> Float[Array, ""]:
        """``s(r) (u(r) - u(r_c))`` at the distance ``r`` (r_m); 0 beyond r_c."""
        fitted = (r >= FIT_START) & (r < self.cutoff)
        # Outside the fit the series is evaluated at x = 0 (and not used), so that no
        # derivative of a clipped x leaks into the one at the fit's ends.
        x = jnp.where(fitted, (2.0 * r - FIT_START - self.cutoff) / (self.cutoff - FIT_START), 0.0)
        u0, u1, u2 = self.taylor
        below = u0 + (r - FIT_START) * (u1 + 0.5 * u2 * (r - FIT_START))
        u = jnp.where(r < FIT_START, below, _clenshaw(self.coefficients, x))
        return jnp.where(r < self.cutoff, _switch(r, self.cutoff, self.width) * u, 0.0)

    def pair_terms(self, u: Float[Array, " dim"]) -> Float[Array, ""]:
        d = minimum_image(u, jnp.asarray(self.box, dtype=u.dtype))
        return self.profile(jnp.sqrt(jnp.sum(d * d)))

    def readout(self, pair_sum: Float[Array, ""]) -> Float[Array, ""]:
        return self.power * pair_sum
