"""Pair potentials and the helium units."""

import dataclasses
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


@dataclasses.dataclass(frozen=True)
class AzizParameters:
    """The coefficients of an Aziz (HFD) helium pair potential, as published.

    ``V(r) = epsilon [A exp(-alpha x + beta x^2) - F(x) (c6/x^6 + c8/x^8 + c10/x^10)]``
    with ``x = r / r_m`` and ``F(x) = exp(-(D/x - 1)^2)`` for ``x < D``, else 1.
    `epsilon_kelvin` is epsilon / k_B in kelvin and `r_m_angstrom` the
    potential's own r_m in angstrom.
    """

    name: str
    epsilon_kelvin: float
    r_m_angstrom: float
    a: float
    alpha: float
    beta: float
    d: float
    c6: float
    c8: float
    c10: float


#: Aziz, Nain, Carley, Taylor and McConville, J. Chem. Phys. 70, 4330 (1979).
HFDHE2 = AzizParameters(
    "HFDHE2", 10.8, 2.9673, 0.5448504e6, 13.353384, 0.0, 1.241314, 1.3732412, 0.4253785, 0.178100
)
#: HFD-B(HE): Aziz, McCourt and Wong, Mol. Phys. 61, 1487 (1987).
HFD_B = AzizParameters(
    "HFD-B(HE)",
    10.948,
    2.963,
    1.8443101e5,
    10.43329537,
    -2.27965105,
    1.4826,
    1.36745214,
    0.42123807,
    0.17473318,
)


def aziz_potential(r: Float[Array, "..."], parameters: AzizParameters) -> Float[Array, "..."]:
    """An Aziz helium pair potential in the helium units of this package.

    ``r`` in units of r_m = 2.9673 angstrom (`R_M_ANGSTROM`, HFDHE2's r_m,
    whatever the potential's own r_m); the result in units of
    hbar^2 / (m_He4 r_m^2) (multiply by `KELVIN_PER_UNIT` for kelvin).
    """
    p = parameters
    x = r * (R_M_ANGSTROM / p.r_m_angstrom)
    damping = jnp.where(x < p.d, jnp.exp(-((p.d / x - 1.0) ** 2)), 1.0)
    dispersion = p.c6 / x**6 + p.c8 / x**8 + p.c10 / x**10
    repulsion = p.a * jnp.exp(-p.alpha * x + p.beta * x**2)
    return p.epsilon_kelvin / KELVIN_PER_UNIT * (repulsion - dispersion * damping)


def aziz_hfdhe2(r: Float[Array, "..."]) -> Float[Array, "..."]:
    """Aziz et al. (1979) HFDHE2 helium pair potential (`HFDHE2`, see `aziz_potential`).

    ``r`` in units of r_m = 2.9673 angstrom; the result is in units of
    hbar^2 / (m_He4 r_m^2). The coefficients are Aziz's published ones
    (NetKet's example has C6 = 1.37332412, a transposed digit, and A =
    0.544850e6).
    """
    return aziz_potential(r, HFDHE2)


def aziz_hfd_b(r: Float[Array, "..."]) -> Float[Array, "..."]:
    """Aziz, McCourt and Wong (1987) HFD-B(HE) helium pair potential (`HFD_B`).

    The potential of the 2D DMC of Giorgini, Boronat and Casulleras (1996);
    slightly deeper than HFDHE2. Units as `aziz_hfdhe2`.
    """
    return aziz_potential(r, HFD_B)


#: The helium pair potentials a system can name.
HELIUM_POTENTIALS = {"hfdhe2": aziz_hfdhe2, "hfd-b": aziz_hfd_b}


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


def ball_volume(radius: float, dim: int) -> float:
    """Volume of a ball of ``radius`` in ``dim`` dimensions (a length in 1D, an area in 2D)."""
    return math.pi ** (dim / 2) * radius**dim / math.gamma(dim / 2 + 1)


def shift_correction(pair, cutoff: float, density: float, dim: int) -> float:
    r"""Energy per particle that a shift of ``pair`` by ``-V(r_c)`` inside ``r_c`` removes,
    for a uniform liquid.

    .. math::
        \frac{E_{shift}}{N} = \frac{\rho}{2}\, V_D(r_c)\, V(r_c),

    ``V_D(r_c)`` the volume of the ball of radius ``r_c`` (g(r) = 1 inside it,
    the convention of Linteau et al., PRL 134, 246001 (2025)). Units as
    `tail_correction`.
    """
    return 0.5 * density * ball_volume(cutoff, dim) * float(pair(np.asarray(cutoff)))
