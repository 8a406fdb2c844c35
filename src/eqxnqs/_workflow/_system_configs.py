"""The systems a run can name, each with its own settings (`eqxnqs.RunConfig.system`)."""

import dataclasses
from typing import ClassVar

from .._systems._hamiltonians import (
    CELLS,
    HELIUM_DENSITIES,
    TRUNCATIONS,
    System,
    calogero_sutherland,
    gaussian_bosons,
    helium,
    helium_1d,
)
from .._systems._potentials import HELIUM_POTENTIALS
from ._settings import (
    PARTICLE_COUNT,
    POSITIVE_NUMBER,
    Check,
    OneOf,
    Settings,
    require,
    setting,
)

_N = "number of particles N"
_POTENTIAL = setting(
    "hfdhe2", "pair potential: hfdhe2 (Aziz 1979) or hfd-b (Aziz 1987)", OneOf(*HELIUM_POTENTIALS)
)
_TRUNCATION = setting(
    "plain",
    "the potential is cut at half the shortest side with its tail added (plain), and "
    "also shifted by -V(r_c) with the shift's mean added (shifted, as Linteau et al.)",
    OneOf(*TRUNCATIONS),
)


@dataclasses.dataclass(frozen=True)
class SystemConfig(Settings):
    """A system of a run: its `name` and the settings that build it (`build`)."""

    name: ClassVar[str]
    n_particles: int = setting(10, _N, PARTICLE_COUNT)

    def build(self) -> System:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class HeliumRingConfig(SystemConfig):
    """Helium-4 on a ring, as NetKet's helium example (`eqxnqs.helium_1d`)."""

    name: ClassVar[str] = "helium"
    density: float = setting(0.3, "density in 1/angstrom", POSITIVE_NUMBER)

    def build(self) -> System:
        return helium_1d(self.n_particles, self.density)


@dataclasses.dataclass(frozen=True)
class Helium2DConfig(SystemConfig):
    """Helium-4 in a periodic 2D cell (`eqxnqs.helium` with ``dim=2``)."""

    name: ClassVar[str] = "helium-2d"
    density: float = setting(
        HELIUM_DENSITIES[2], "density in 1/angstrom^2 (equilibrium: 0.04344)", POSITIVE_NUMBER
    )
    cell: str = setting(
        "square",
        "square, or triangular: the rectangle of a triangular lattice of N = 2 Mx My "
        "atoms (as Linteau et al.)",
        OneOf(*CELLS),
    )
    potential: str = _POTENTIAL
    truncation: str = _TRUNCATION

    def check(self) -> None:
        require(
            self.cell == "square" or self.n_particles % 2 == 0,
            f"cell triangular holds an even number of atoms; got n_particles {self.n_particles}.",
        )

    def build(self) -> System:
        return helium(
            self.n_particles,
            self.density,
            dim=2,
            cell=self.cell,
            potential=self.potential,
            truncation=self.truncation,
        )


@dataclasses.dataclass(frozen=True)
class Helium3DConfig(SystemConfig):
    """Helium-4 in a periodic cube (`eqxnqs.helium` with ``dim=3``)."""

    name: ClassVar[str] = "helium-3d"
    density: float = setting(
        HELIUM_DENSITIES[3], "density in 1/angstrom^3 (equilibrium: 0.02186)", POSITIVE_NUMBER
    )
    potential: str = _POTENTIAL
    truncation: str = _TRUNCATION

    def build(self) -> System:
        return helium(
            self.n_particles,
            self.density,
            dim=3,
            potential=self.potential,
            truncation=self.truncation,
        )


@dataclasses.dataclass(frozen=True)
class GaussianBosonsConfig(SystemConfig):
    """Bosons with a soft Gaussian pair potential of strength V0 and range sigma.

    `eqxnqs.gaussian_bosons`: ``V0 exp(-r^2 / (2 sigma^2))``.
    """

    name: ClassVar[str] = "gaussian"
    dim: int = setting(1, "spatial dimension D", Check("1, 2 or 3", lambda v: v in (1, 2, 3)))
    box_length: float = setting(4.0, "box side in every direction", POSITIVE_NUMBER)
    v0: float = setting(2.0, "interaction strength V0", POSITIVE_NUMBER)
    sigma: float = setting(0.5, "interaction range sigma", POSITIVE_NUMBER)

    def build(self) -> System:
        return gaussian_bosons(
            self.n_particles, (self.box_length,) * self.dim, v0=self.v0, sigma=self.sigma
        )


@dataclasses.dataclass(frozen=True)
class CalogeroSutherlandConfig(SystemConfig):
    """The Calogero-Sutherland model on a ring, exactly solvable (`eqxnqs.calogero_sutherland`)."""

    name: ClassVar[str] = "calogero-sutherland"
    box_length: float = setting(4.0, "ring length L", POSITIVE_NUMBER)
    beta: float = setting(
        2.0,
        "exponent beta >= 1",
        Check("a number >= 1", lambda v: POSITIVE_NUMBER.accepts(v) and v >= 1),
    )

    def build(self) -> System:
        return calogero_sutherland(self.n_particles, self.box_length, beta=self.beta)


#: The systems that a run can name.
SYSTEMS: dict[str, type[SystemConfig]] = {
    cls.name: cls
    for cls in (
        HeliumRingConfig,
        Helium2DConfig,
        Helium3DConfig,
        GaussianBosonsConfig,
        CalogeroSutherlandConfig,
    )
}


def system_options() -> set[str]:
    """The option names of every system's settings."""
    return {option for system in SYSTEMS.values() for option in system.options()}
