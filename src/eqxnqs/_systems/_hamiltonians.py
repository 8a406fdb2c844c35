"""Ready-made NetKet Hamiltonians: helium-4 in 1D, 2D and 3D, Gaussian bosons, Calogero-Sutherland.

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
import numpy as np

from .._geometry import minimum_image_distances, periodic_particles
from .._netket._kinetic import KineticEnergy
from ._potentials import (
    HELIUM_POTENTIALS,
    KELVIN_PER_UNIT,
    R_M_ANGSTROM,
    aziz_hfdhe2,
    gaussian_pair,
    shift_correction,
    tail_correction,
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
    #: A ground-state energy per particle to compare with, or ``None``.
    reference_energy_per_particle: float | None = None
    #: Where that reference comes from, and whether it is exact.
    reference_source: str | None = None
    #: Energy per particle added as a constant for a truncated potential: the tail beyond
    #: the cutoff, and the mean of a shift inside it (0: none).
    tail_energy_per_particle: float = 0.0
    #: ``V(x)`` of one flattened configuration ``(N * D,)``, the function the
    #: Hamiltonian's ``PotentialEnergy`` holds (``None``: not known).
    potential: Callable | None = None

    @property
    def n_particles(self) -> int:
        return self.hilbert.n_particles

    @property
    def box(self) -> tuple[float, ...]:
        return tuple(float(length) for length in self.hilbert.domain)


def pair_potential(
    hilbert: nkx.hilbert.Particle,
    pair: Callable,
    *,
    cutoff: float | None = None,
    constant: float = 0.0,
) -> nk.operator.PotentialEnergy:
    """``PotentialEnergy`` of ``sum_{i<j} pair(r_ij) + constant`` with minimum-image distances.

    With `cutoff`, pairs at ``r_ij >= cutoff`` contribute nothing (the
    truncated potential; add its tail as `constant`, see `tail_correction`).
    The function of one configuration is `pair_energy`.
    """
    return nk.operator.PotentialEnergy(
        hilbert, pair_energy(hilbert, pair, cutoff=cutoff, constant=constant)
    )


def pair_energy(
    hilbert: nkx.hilbert.Particle,
    pair: Callable,
    *,
    cutoff: float | None = None,
    constant: float = 0.0,
) -> Callable:
    """``V(x) = sum_{i<j} pair(r_ij) + constant`` of one flattened configuration ``(N * D,)``.

    Minimum-image distances; `cutoff` as in `pair_potential`.
    """
    box = jnp.asarray(hilbert.domain)
    n, dim = hilbert.n_particles, len(hilbert.domain)

    def energy(x):
        r = minimum_image_distances(x.reshape(n, dim), box)
        values = pair(r) if cutoff is None else jnp.where(r < cutoff, pair(r), 0.0)
        return jnp.sum(values) + constant

    return energy


def _system(name, hilbert, potential, **fields) -> System:
    """A `System` with ``H = eqxnqs.KineticEnergy(mass 1) + PotentialEnergy(potential)``."""
    hamiltonian = KineticEnergy(hilbert, mass=1.0) + nk.operator.PotentialEnergy(hilbert, potential)
    return System(name, hilbert, hamiltonian, potential=potential, **fields)


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
    reference = HELIUM_1D_REFERENCES.get((n_particles, density)) or (None, None)
    return _system(
        "helium-1d",
        hilbert,
        pair_energy(hilbert, aziz_hfdhe2),
        kelvin_per_unit=KELVIN_PER_UNIT,
        angstrom_per_unit=R_M_ANGSTROM,
        reference_energy_per_particle=reference[0],
        reference_source=reference[1],
    )


#: Equilibrium densities of helium-4 used by default: 2D in 1/angstrom^2, 3D in 1/angstrom^3.
HELIUM_DENSITIES = {2: 0.04344, 3: 0.02186}

#: The cells that `helium` builds: a square (a cube in 3D), or in 2D the rectangle
#: that holds a triangular lattice of the N atoms.
CELLS = ("square", "triangular")
#: How `helium` truncates the pair potential at r_c (half the shortest box side).
TRUNCATIONS = ("plain", "shifted")


@dataclasses.dataclass(frozen=True)
class HeliumReference:
    """A published ground-state E/N of helium-4 (kelvin) and the Hamiltonian it belongs to.

    It is attached to a `helium` system whose settings match every field but
    `energy_kelvin` and `source`; `n_particles`, `cell` and `truncation` of
    ``None`` mean any (an estimate extrapolated to the thermodynamic limit).
    """

    dim: int
    density: float
    potential: str
    energy_kelvin: float
    source: str
    n_particles: int | None = None
    cell: str | None = None
    truncation: str | None = None

    def matches(self, dim, density, potential, n_particles, cell, truncation) -> bool:
        def either(mine, theirs):
            return mine is None or mine == theirs

        return (
            (self.dim, self.density, self.potential) == (dim, density, potential)
            and either(self.n_particles, n_particles)
            and either(self.cell, cell)
            and either(self.truncation, truncation)
        )


#: Published ground-state energies of helium-4 in 2D and 3D, each with its Hamiltonian.
HELIUM_REFERENCES = (
    HeliumReference(
        3,
        0.02186,
        "hfdhe2",
        -7.12,
        "GFMC with the Aziz HFDHE2 potential at the experimental equilibrium density "
        "0.02186 A^-3, extrapolated to the thermodynamic limit: -7.12 +- 0.03 K "
        "(Kalos, Lee, Whitlock and Chester, PRB 24, 115 (1981)); experiment -7.17 K",
    ),
    HeliumReference(
        2,
        0.04344,
        "hfd-b",
        -0.8974,
        "DMC with Aziz's HFD-B(HE) potential at the 2D equilibrium density 0.04344 A^-2, "
        "extrapolated to the thermodynamic limit: -0.8974 +- 0.0021 K "
        "(Giorgini, Boronat and Casulleras, PRB 54, 6099 (1996))",
    ),
    HeliumReference(
        2,
        0.050,
        "hfdhe2",
        -0.8032,
        "neural-network VMC (message passing, the same Hamiltonian: N = 30, triangular "
        "cell, HFDHE2 truncated and shifted at L_min/2 with shift and tail added back): "
        "-17.505 hbar^2/(m r_m^2) for the system, mean of its last 1024 iterations "
        "(Linteau, Pescia, Nys, Carleo and Holzmann, PRL 134, 246001 (2025), "
        "github.com/cqsl/helium4-2d-nqs); variational, not exact",
        n_particles=30,
        cell="triangular",
        truncation="shifted",
    ),
)


def helium_box(n_particles: int, density: float, dim: int, cell: str = "square") -> tuple:
    """Side lengths (units of r_m) of a periodic cell of N helium atoms at ``density``.

    ``"square"``: a square (2D) or cube (3D). ``"triangular"`` (2D): the
    rectangle ``M_x a`` by ``M_y sqrt(3) a`` that holds a triangular lattice
    of spacing ``a`` with ``N = 2 M_x M_y`` sites, with the ``(M_x, M_y)``
    whose sides are closest to equal (N = 30: 5 x 3, 8.0976 x 8.4153 r_m at
    0.050 A^-2, the cell of Linteau et al.). ``density`` in 1/angstrom^dim.
    """
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join(CELLS)}.")
    if cell == "square":
        return ((n_particles / density) ** (1.0 / dim) / R_M_ANGSTROM,) * dim
    if dim != 2 or n_particles % 2:
        raise ValueError(
            "cell 'triangular' is a 2D cell of an even number of atoms (N = 2 M_x M_y); "
            f"got dim {dim} and n_particles {n_particles}."
        )
    spacing = math.sqrt(2.0 / (math.sqrt(3.0) * density))  # angstrom: one site per sqrt(3)a^2/2
    shapes = [(m, n_particles // 2 // m) for m in range(1, n_particles // 2 + 1)]
    shapes = [(mx, my) for mx, my in shapes if 2 * mx * my == n_particles]
    mx, my = min(shapes, key=lambda s: abs(math.log(s[0] / (s[1] * math.sqrt(3.0)))))
    return (mx * spacing / R_M_ANGSTROM, my * math.sqrt(3.0) * spacing / R_M_ANGSTROM)


def helium(
    n_particles: int,
    density: float | None = None,
    *,
    dim: int = 3,
    cell: str = "square",
    potential: str = "hfdhe2",
    truncation: str = "plain",
) -> System:
    """N helium-4 atoms in a periodic cell (2D or 3D) at ``density``.

    ``density`` is in 1/angstrom^2 (2D) or 1/angstrom^3 (3D); ``None``
    takes the equilibrium density (`HELIUM_DENSITIES`). `cell` is
    ``"square"`` (a square or cube) or, in 2D, ``"triangular"``
    (`helium_box`). Lengths are in r_m = 2.9673 angstrom and energies in
    hbar^2 / (m_He4 r_m^2), as `helium_1d`.

    `potential` names the pair potential: ``"hfdhe2"`` (Aziz 1979) or
    ``"hfd-b"`` (Aziz 1987, HFD-B(HE)). It acts between minimum images and
    is truncated at ``r_c`` = half the shortest side, and the tail beyond
    is added as a constant, ``(rho/2) int_{r_c}^inf V(r) S_D r^(D-1) dr`` per
    particle (`tail_correction`, g(r) = 1 there), as is standard in QMC of
    liquid helium. `truncation` ``"shifted"`` also subtracts ``V(r_c)`` from
    every pair inside ``r_c`` and adds back its mean for a uniform liquid
    (`shift_correction`), the convention of Linteau et al. (2025);
    ``"plain"`` does not. For 1D use `helium_1d`.
    """
    if dim not in (2, 3):
        raise ValueError(f"dim must be 2 or 3 (helium_1d is the ring); got {dim!r}.")
    if density is None:
        density = HELIUM_DENSITIES[dim]
    if not (isinstance(density, (int, float)) and math.isfinite(density) and density > 0):
        raise ValueError(
            f"density must be a finite number > 0 (1/angstrom^{dim}); got {density!r}."
        )
    if potential not in HELIUM_POTENTIALS:
        raise ValueError(
            f"unknown potential {potential!r}; choose one of {', '.join(HELIUM_POTENTIALS)}."
        )
    if truncation not in TRUNCATIONS:
        raise ValueError(
            f"unknown truncation {truncation!r}; choose one of {', '.join(TRUNCATIONS)}."
        )
    box = helium_box(n_particles, density, dim, cell)
    hilbert = periodic_particles(n_particles, box)
    pair = HELIUM_POTENTIALS[potential]
    cutoff = min(box) / 2.0
    density_units = n_particles / math.prod(box)
    tail = tail_correction(pair, cutoff, density_units, dim)
    shift = 0.0
    if truncation == "shifted":
        shift = float(pair(np.asarray(cutoff)))
        tail += shift_correction(pair, cutoff, density_units, dim)
    reference = next(
        (
            ref
            for ref in HELIUM_REFERENCES
            if ref.matches(dim, density, potential, n_particles, cell, truncation)
        ),
        None,
    )
    return _system(
        f"helium-{dim}d",
        hilbert,
        pair_energy(hilbert, lambda r: pair(r) - shift, cutoff=cutoff, constant=n_particles * tail),
        kelvin_per_unit=KELVIN_PER_UNIT,
        angstrom_per_unit=R_M_ANGSTROM,
        reference_energy_per_particle=None
        if reference is None
        else reference.energy_kelvin / KELVIN_PER_UNIT,
        reference_source=None if reference is None else reference.source,
        tail_energy_per_particle=tail,
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
    reference = (None, None)
    if (n_particles, tuple(hilbert.domain), v0) == (20, (20.0,), 2.0) and math.isclose(
        sigma, 2**-0.5, rel_tol=1e-12
    ):
        reference = (
            24.742 / 20,
            "NetKet continuous-space tutorial (Gaussian bosons 1D, N = 20, L = 20): "
            "E = 24.742 for the whole system",
        )
    return _system(
        "gaussian",
        hilbert,
        pair_energy(hilbert, lambda r: gaussian_pair(r, v0, sigma)),
        reference_energy_per_particle=reference[0],
        reference_source=reference[1],
    )


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
    return _system(
        "calogero-sutherland",
        hilbert,
        pair_energy(hilbert, lambda r: strength / jnp.sin(jnp.pi * r / length) ** 2),
        reference_energy_per_particle=calogero_sutherland_energy(n_particles, length, beta)
        / n_particles,
        reference_source="exact: (pi/L)^2 beta^2 N (N^2 - 1) / 6 (Sutherland 1971)",
    )
