"""Ready-made NetKet Hamiltonians: 1D helium-4, Gaussian bosons, Calogero-Sutherland.

Each is an ordinary ``eqxnqs.KineticEnergy + PotentialEnergy`` (the kinetic
term is the fast drop-in for NetKet's ``KineticEnergy``) on a periodic
`netket.experimental.hilbert.Particle` space; build your own the same way.
"""

import dataclasses
import math
from collections.abc import Callable, Sequence

import jax.numpy as jnp
import netket as nk
import netket.experimental as nkx

from .._geometry import minimum_image_distances, periodic_particles
from .._netket._kinetic import KineticEnergy
from ._potentials import KELVIN_PER_UNIT, R_M_ANGSTROM, aziz_hfdhe2, gaussian_pair


@dataclasses.dataclass(frozen=True)
class System:
    """A periodic Bose system: its Hilbert space, Hamiltonian and units."""

    name: str
    hilbert: nkx.hilbert.Particle
    hamiltonian: nk.operator.AbstractOperator
    #: Multiply an energy by this to get kelvin (``None``: no physical unit).
    kelvin_per_unit: float | None = None
    #: Multiply a length by this to get angstrom (``None``: no physical unit).
    angstrom_per_unit: float | None = None
    #: A ground-state energy per particle to compare with, or ``None``.
    reference_energy_per_particle: float | None = None
    #: Where that reference comes from, and whether it is exact.
    reference_source: str | None = None

    @property
    def n_particles(self) -> int:
        return self.hilbert.n_particles

    @property
    def box(self) -> tuple[float, ...]:
        return tuple(float(length) for length in self.hilbert.domain)


def pair_potential(
    hilbert: nkx.hilbert.Particle, pair: Callable, *, name: str = "pair potential"
) -> nk.operator.PotentialEnergy:
    """``PotentialEnergy`` of ``sum_{i<j} pair(r_ij)`` with minimum-image distances."""
    box = jnp.asarray(hilbert.domain)
    n, dim = hilbert.n_particles, len(hilbert.domain)

    def energy(x):
        return jnp.sum(pair(minimum_image_distances(x.reshape(n, dim), box)))

    return nk.operator.PotentialEnergy(hilbert, energy)


def helium_1d(n_particles: int = 10, density: float = 0.3) -> System:
    """N helium-4 atoms on a ring at linear density ``density`` (in 1/angstrom).

    Lengths are in units of r_m = 2.9673 angstrom and energies in
    hbar^2 / (m_He4 r_m^2); the ring length is ``N / (density r_m)``. The
    Hamiltonian is ``KineticEnergy(mass=1)`` plus the Aziz HFDHE2 potential,
    as in NetKet's ``Examples/Continuous/Helium.py``.
    """
    if not density > 0 or density == float("inf"):
        raise ValueError(f"density must be a finite number > 0 (1/angstrom); got {density}.")
    hilbert = periodic_particles(n_particles, n_particles / (density * R_M_ANGSTROM))
    hamiltonian = KineticEnergy(hilbert, mass=1.0) + pair_potential(hilbert, aziz_hfdhe2)
    reference = HELIUM_1D_REFERENCES.get((n_particles, density))
    return System(
        "helium-1d",
        hilbert,
        hamiltonian,
        KELVIN_PER_UNIT,
        R_M_ANGSTROM,
        *(reference or (None, None)),
    )


#: Variational references for 1D helium-4, E/N in hbar^2/(m r_m^2), keyed by (N, density).
HELIUM_1D_REFERENCES = {
    (10, 0.3): (
        5.31,
        "NetKet 3.23 Examples/Continuous/Helium.py, seed 0, converged VMC "
        "(5.31-5.32; variational, not exact)",
    ),
}


def gaussian_bosons(
    n_particles: int, box: float | Sequence[float], *, v0: float = 2.0, sigma: float = 0.5
) -> System:
    """Bosons with ``V = v0 sum_{i<j} exp(-r_ij^2 / (2 sigma^2))`` (hbar = m = 1)."""
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0; got {sigma}.")
    hilbert = periodic_particles(n_particles, box)
    hamiltonian = KineticEnergy(hilbert, mass=1.0) + pair_potential(
        hilbert, lambda r: gaussian_pair(r, v0, sigma)
    )
    reference = None
    if (n_particles, tuple(hilbert.domain), v0) == (20, (20.0,), 2.0) and math.isclose(
        sigma, 2**-0.5, rel_tol=1e-12
    ):
        reference = (
            24.742 / 20,
            "NetKet continuous-space tutorial (Gaussian bosons 1D, N = 20, L = 20): "
            "E = 24.742 for the whole system",
        )
    return System("gaussian", hilbert, hamiltonian, None, None, *(reference or (None, None)))


def calogero_sutherland_energy(n_particles: int, box_length: float, beta: float) -> float:
    """Exact ground-state energy ``(pi/L)^2 beta^2 N (N^2 - 1) / 6`` (hbar = m = 1)."""
    return (math.pi / box_length) ** 2 * beta**2 * n_particles * (n_particles**2 - 1) / 6


def calogero_sutherland(n_particles: int, box_length: float, *, beta: float = 2.0) -> System:
    r"""N bosons on a ring of length L with the Calogero-Sutherland interaction.

    .. math::
        H = -\tfrac12 \sum_i \partial_i^2
            + \beta(\beta - 1) (\pi/L)^2 \sum_{i<j} \frac{1}{\sin^2(\pi x_{ij}/L)}

    (hbar = m = 1). Its ground state is ``prod_{i<j} |sin(pi x_ij / L)|^beta``
    with energy ``(pi/L)^2 beta^2 N (N^2 - 1) / 6`` exactly
    (`calogero_sutherland_energy`); ``beta = 1`` is the free-fermion
    (Tonks-Girardeau) point. ``beta >= 1``: for ``beta < 1`` the interaction
    is attractive at contact and this ground state is not the bosonic one
    that VMC would find.
    """
    if not (math.isfinite(beta) and beta >= 1):
        raise ValueError(f"beta must be a finite number >= 1; got {beta}.")
    hilbert = periodic_particles(n_particles, box_length)
    (length,) = (float(side) for side in hilbert.domain)
    strength = beta * (beta - 1) * (math.pi / length) ** 2
    hamiltonian = KineticEnergy(hilbert, mass=1.0) + pair_potential(
        hilbert, lambda r: strength / jnp.sin(jnp.pi * r / length) ** 2
    )
    exact = calogero_sutherland_energy(n_particles, length, beta) / n_particles
    return System(
        "calogero-sutherland",
        hilbert,
        hamiltonian,
        None,
        None,
        exact,
        "exact: (pi/L)^2 beta^2 N (N^2 - 1) / 6 (Sutherland 1971)",
    )


@dataclasses.dataclass(frozen=True)
class SystemPreset:
    """A named system of `eqxnqs.RunConfig` and the command line.

    `build` takes ``n_particles`` and the `settings` (names of `RunConfig`
    fields) as keyword arguments; `cusp_exponent` is what ``"auto"`` means
    for it.
    """

    build: Callable[..., System]
    settings: tuple[str, ...]
    cusp_exponent: int | None


#: The systems that a run can name, and what each takes from the run's settings.
SYSTEM_PRESETS = {
    "helium": SystemPreset(
        lambda n_particles, density: helium_1d(n_particles, density), ("density",), 5
    ),
    "gaussian": SystemPreset(
        lambda n_particles, dim, box_length, v0, sigma: gaussian_bosons(
            n_particles, (box_length,) * dim, v0=v0, sigma=sigma
        ),
        ("dim", "box_length", "v0", "sigma"),
        None,
    ),
    "calogero-sutherland": SystemPreset(
        lambda n_particles, box_length, beta: calogero_sutherland(
            n_particles, box_length, beta=beta
        ),
        ("box_length", "beta"),
        1,
    ),
}
