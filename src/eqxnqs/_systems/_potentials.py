"""Pair potentials and the helium units."""

import math

import jax.numpy as jnp
import numpy as np
import scipy.integrate
from jaxtyping import Array, Float

#: Length unit of the helium system: r_m of the Aziz potential, in angstrom.
R_M_ANGSTROM = 2.9673
#: Depth of the Aziz potential, epsilon / k_B, in kelvin.
AZIZ_EPSILON_KELVIN = 10.8
#: epsilon in units of hbar^2 / (m_He4 r_m^2): the value of NetKet's helium example.
AZIZ_EPSILON = 7.846373
#: One energy unit hbar^2 / (m_He4 r_m^2) in kelvin (about 1.3764 K).
KELVIN_PER_UNIT = AZIZ_EPSILON_KELVIN / AZIZ_EPSILON


def aziz_hfdhe2(r: Float[Array, "..."]) -> Float[Array, "..."]:
    """Aziz et al. (1979) HFDHE2 helium pair potential.

    ``r`` in units of r_m = 2.9673 angstrom; the result is in units of
    hbar^2 / (m_He4 r_m^2) (multiply by `KELVIN_PER_UNIT` for kelvin). The
    coefficients are Aziz's published ones (NetKet's example has C6 =
    1.37332412, a transposed digit, and A = 0.544850e6).
    """
    a, alpha, d = 0.5448504e6, 13.353384, 1.241314
    c6, c8, c10 = 1.3732412, 0.4253785, 0.178100
    damping = jnp.where(r < d, jnp.exp(-((d / r - 1.0) ** 2)), 1.0)
    dispersion = c6 / r**6 + c8 / r**8 + c10 / r**10
    return AZIZ_EPSILON * (a * jnp.exp(-alpha * r) - dispersion * damping)


def gaussian_pair(r: Float[Array, "..."], v0: float, sigma: float) -> Float[Array, "..."]:
    """``v0 * exp(-r^2 / (2 sigma^2))``: the soft Gaussian pair interaction."""
    return v0 * jnp.exp(-(r**2) / (2.0 * sigma**2))


def tail_correction(pair, cutoff: float, density: float, dim: int) -> float:
    r"""Energy per particle of the pairs beyond ``cutoff``, for a uniform liquid.

    .. math::
        \frac{E_{tail}}{N} = \frac{\rho}{2} \int_{r_c}^\infty V(r)\, S_D\, r^{D-1}\, dr,

    with ``S_2 = 2 pi`` and ``S_3 = 4 pi`` (g(r) = 1 beyond the cutoff, the
    standard correction for a potential truncated at ``r_c``). ``density``
    in particles per unit length^D, in the units of ``pair`` and ``cutoff``.
    """
    if dim not in (2, 3):
        raise ValueError(f"the tail correction is for dim 2 or 3; got {dim}.")
    surface = 2.0 * math.pi if dim == 2 else 4.0 * math.pi

    def integrand(r):
        return float(pair(np.asarray(r))) * surface * r ** (dim - 1)

    value, error = scipy.integrate.quad(integrand, cutoff, np.inf, epsabs=1e-12, epsrel=1e-10)
    return 0.5 * density * value
