"""Ready-made NetKet Hamiltonians: 1D helium-4 and Gaussian-interacting bosons.

Each is an ordinary ``eqxnqs.KineticEnergy + PotentialEnergy`` (the kinetic
term is the fast drop-in for NetKet's ``KineticEnergy``) on a periodic
`netket.experimental.hilbert.Particle` space; build your own the same way.
"""

import dataclasses
from collections.abc import Callable, Sequence

import jax.numpy as jnp
import netket as nk
import netket.experimental as nkx

from ._box import check_box
from ._kinetic import KineticEnergy
from ._potentials import (
    KELVIN_PER_UNIT,
    R_M_ANGSTROM,
    aziz_hfdhe2,
    gaussian_pair,
    minimum_image_distances,
)


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

    @property
    def n_particles(self) -> int:
        return self.hilbert.n_particles

    @property
    def box(self) -> tuple[float, ...]:
        return tuple(float(length) for length in self.hilbert.domain)


def periodic_particles(n_particles: int, box: float | Sequence[float]) -> nkx.hilbert.Particle:
    """N particles in a box periodic in every direction."""
    if isinstance(n_particles, bool) or not isinstance(n_particles, int) or n_particles < 2:
        raise ValueError(f"n_particles must be an integer >= 2; got {n_particles!r}.")
    box = check_box(box)
    return nkx.hilbert.Particle(
        N=n_particles, geometry=nkx.geometry.Cell(d=len(box), L=box, pbc=True)
    )


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
    hamiltonian = KineticEnergy(hilbert, mass=1.0) + pair_potential(
        hilbert, aziz_hfdhe2
    )
    return System("helium-1d", hilbert, hamiltonian, KELVIN_PER_UNIT, R_M_ANGSTROM)


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
    return System("gaussian", hilbert, hamiltonian)
