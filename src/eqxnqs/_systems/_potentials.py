"""Pair potentials and the helium units."""

import jax.numpy as jnp
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
