"""What a run found: a typed object, from which ``results.json`` and the summary are made."""

import dataclasses

from .._observables._statistics import Estimate
from ._run_config import RunConfig
from ._trust import FinalEnergy


@dataclasses.dataclass(frozen=True)
class RunResults:
    """The results of `eqxnqs.run_vmc`, as written to ``results.json``.

    Energies are per particle, in the system's unit (`kelvin_per_unit`
    converts to kelvin; ``None``: the system has no physical unit); lengths
    in the system's length unit; curves are lists of floats. `warnings` holds
    one sentence per failed check, and `diagnostics` the numbers behind the
    checks (``diagnostics["trusted"]``: none failed; `trusted`).
    """

    config: RunConfig
    system: str
    n_particles: int
    box: tuple[float, ...]
    kelvin_per_unit: float | None
    iterations: int
    energy_per_particle: FinalEnergy
    energy_split: dict[str, Estimate]
    reference_energy_per_particle: float | None
    reference_source: str | None
    diagnostics: dict
    warnings: tuple[str, ...]
    acceptance: float
    segment_acceptance: float | None
    sampler_width: float
    pair_distribution: dict[str, list]
    structure_factor: dict[str, list]
    one_body_density_matrix: dict[str, list]
    momentum_distribution: dict[str, list]
    condensate_fraction: dict
    luttinger_parameter: Estimate | None
    units: dict[str, str]

    @property
    def trusted(self) -> bool:
        """No check failed."""
        return bool(self.diagnostics["trusted"])

    def _energy(self, estimate) -> dict:
        if isinstance(estimate, Estimate):
            data = {"mean": float(estimate.mean), "error": float(estimate.error)}
        else:
            data = dataclasses.asdict(estimate)
        if self.kelvin_per_unit is not None:
            data["mean_kelvin"] = data["mean"] * self.kelvin_per_unit
            data["error_kelvin"] = data["error"] * self.kelvin_per_unit
        return data

    def to_dict(self) -> dict:
        """``results.json``'s content (energies also in kelvin where the system has units)."""
        data = {
            "system": self.system,
            "n_particles": self.n_particles,
            "box": list(self.box),
            "iterations": self.iterations,
            "energy_per_particle": self._energy(self.energy_per_particle),
            "reference": {
                "energy_per_particle": self.reference_energy_per_particle,
                "source": self.reference_source,
            },
            "diagnostics": self.diagnostics,
            "warnings": list(self.warnings),
            "acceptance": self.acceptance,
            "segment_acceptance": self.segment_acceptance,
            "sampler_width": self.sampler_width,
            "pair_distribution": self.pair_distribution,
            "energy_split": {part: self._energy(e) for part, e in self.energy_split.items()},
            "structure_factor": self.structure_factor,
            "one_body_density_matrix": self.one_body_density_matrix,
            "momentum_distribution": self.momentum_distribution,
            "condensate_fraction": self.condensate_fraction,
        }
        if self.luttinger_parameter is not None:
            k = self.luttinger_parameter
            data["luttinger_parameter"] = {"mean": float(k.mean), "error": float(k.error)}
        data["units"] = self.units
        data["config"] = self.config.to_dict()
        return data

    def summary(self, out=None) -> str:
        """The lines that ``eqxnqs run`` prints at the end of a run."""
        energy = self.energy_per_particle
        line = f"E/N = {energy.mean:.5f} ± {energy.error:.5f}"
        if self.kelvin_per_unit is not None:
            kelvin = self._energy(energy)
            line += (
                f" hbar^2/(m r_m^2) = {kelvin['mean_kelvin']:.4f} ± {kelvin['error_kelvin']:.4f} K"
            )
        line += (
            f"   (R-hat {energy.r_hat:.3f}, variance {energy.variance:.4g}, "
            f"{energy.n_samples} samples, acceptance {self.acceptance:.2f}, "
            f"{self.iterations} iterations)"
        )
        lines = [line + ("" if out is None else f" -> {out}")]
        kinetic, potential = self.energy_split["kinetic"], self.energy_split["potential"]
        n0 = self.condensate_fraction
        line = (
            f"  kinetic {kinetic.mean:.5f} ± {kinetic.error:.5f}, "
            f"potential {potential.mean:.5f} ± {potential.error:.5f} "
            f"per particle; condensate fraction {n0['mean']:.4f} ± {n0['error']:.4f}"
        )
        if self.luttinger_parameter is not None:
            k = self.luttinger_parameter
            line += f"; Luttinger K {k.mean:.3f} ± {k.error:.3f}"
        lines.append(line)
        reference = self.reference_energy_per_particle
        if reference is not None:
            gap = self.diagnostics["reference_gap"]
            lines.append(
                f"  reference E/N = {reference:.5f} ({self.reference_source}); "
                f"gap {100 * gap:+.2f} %"
            )
        if not self.warnings:
            lines.append(
                "  checks passed: R-hat, finite local energies, plateau, variance"
                + (", reference" if reference is not None else "")
            )
        return "\n".join(lines)
