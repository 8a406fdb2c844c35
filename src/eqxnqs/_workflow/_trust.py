"""Can a VMC result be trusted? The final estimate and the checks on a run.

A run that stalls, samples badly or meets a non-finite local energy still
produces a number. These checks turn each of those into a one-line warning
and a flag in ``results.json``, so that no wrong number is reported silently.
"""

import dataclasses
from typing import NamedTuple

import netket as nk
import numpy as np

from .._observables._energy import local_energy_parts
from ._serialization import gathered

#: R-hat above this: the Markov chains disagree (Gelman-Rubin, split chains).
R_HAT_LIMIT = 1.05
#: The energy has plateaued when the last two windows of the optimisation
#: (each a tenth of the run, at least 5 iterations) agree within this many
#: combined standard errors.
PLATEAU_SIGMAS = 4.0
#: Relative spread of the local energy, sqrt(variance) / |E|, above which
#: the variance counts as high (a good wavefunction has a small spread).
RELATIVE_SPREAD_LIMIT = 0.5
#: A reference counts as reached within this relative gap (plus 3 errors).
REFERENCE_TOLERANCE = 0.005


class FinalSamples(NamedTuple):
    """The samples of a run's final estimate and their kinetic and potential local energies.

    ``samples`` has shape ``(n_chains, n_per_chain, n_dof)``; ``kinetic`` and
    ``potential`` ``(n_chains, n_per_chain)``, whole system.
    """

    samples: np.ndarray
    kinetic: np.ndarray
    potential: np.ndarray


def final_sampling(hamiltonian, vstate, n_samples: int) -> FinalSamples:
    """``n_samples`` fresh samples and their local energies, from the training's programs.

    The chains continue in batches of the training's size (the training's
    discard before the first, none between), so that neither the sampler nor
    the local energy is compiled again for another batch size; only a
    remainder, when ``n_samples`` is not a whole number of batches, takes a
    program of its own. The batches join into one continuous chain each.
    """
    batch = vstate.chain_length
    per_chain = n_samples // vstate.sampler.n_chains
    lengths = [batch] * (per_chain // batch) + ([per_chain % batch] if per_chain % batch else [])
    samples, parts = [], []
    for index, length in enumerate(lengths):
        vstate.sample(chain_length=length, n_discard_per_chain=None if index == 0 else 0)
        samples.append(gathered(vstate.samples))
        parts.append(gathered(local_energy_parts(hamiltonian, vstate)))
    return FinalSamples(
        np.concatenate(samples, axis=1),
        *(
            np.concatenate([part[kind] for part in parts], axis=1)
            for kind in FinalSamples._fields[1:]
        ),
    )


@dataclasses.dataclass(frozen=True)
class FinalEnergy:
    """E/N of a run's final samples, with the statistics behind its error.

    `mean` and `error` per particle, in the system's unit; `variance` of the
    whole system's local energy; `r_hat` the split-chain Gelman-Rubin
    statistic; `tau_corr` the integrated autocorrelation time in samples;
    `n_samples` the samples used, of which `non_finite_local_energies` had a
    non-finite local energy.
    """

    mean: float
    error: float
    variance: float
    r_hat: float
    tau_corr: float
    n_samples: int
    non_finite_local_energies: int


def final_energy(final: FinalSamples, n_particles: int) -> FinalEnergy:
    """E/N of a run's final samples (`final_sampling`), with an autocorrelation-aware error.

    The error is NetKet's: the spread of the chain means, corrected for the
    integrated autocorrelation time ``tau_corr`` of each chain; ``r_hat`` is
    the split-chain Gelman-Rubin statistic. Non-finite local energies are
    counted (and make the mean non-finite: nothing is dropped).
    """
    return energy_statistics(final.kinetic + final.potential, n_particles)


def energy_statistics(local: np.ndarray, n_particles: int) -> FinalEnergy:
    """E/N of whole-system local energies ``(n_chains, n_per_chain)`` (`final_energy`)."""
    local = np.asarray(local)
    stats = nk.stats.statistics(local)
    return FinalEnergy(
        mean=float(np.real(stats.mean)) / n_particles,
        error=float(stats.error_of_mean) / n_particles,
        variance=float(stats.variance),
        r_hat=float(stats.R_hat),
        tau_corr=float(stats.tau_corr),
        n_samples=int(local.size),
        non_finite_local_energies=int(np.sum(~np.isfinite(local))),
    )


def plateau(energies: np.ndarray) -> dict:
    """Compare the means of the last two windows of a per-iteration energy trace."""
    energies = np.real(np.asarray(energies, dtype=complex))
    window = max(5, len(energies) // 10)
    if len(energies) < 2 * window:
        return {"checked": False, "window": window}
    last, before = energies[-window:], energies[-2 * window : -window]
    error = np.sqrt(np.var(last) / window + np.var(before) / window)
    drift = float(np.mean(before) - np.mean(last))
    return {
        "checked": True,
        "window": window,
        "drift": drift,
        "drift_error": float(error),
        "ok": bool(abs(drift) <= PLATEAU_SIGMAS * error),
    }


def assess_run(
    energy: FinalEnergy,
    n_particles: int,
    trace_per_particle,
    non_finite_in_training: int,
    reference: float | None,
) -> tuple[dict, list[str]]:
    """Checks of a run's final estimate (`final_energy`) and its E/N trace.

    Returns the diagnostics (``trusted`` is true when no check failed) and
    one sentence per failed check.
    """
    warnings = []
    if not np.isfinite(energy.mean):
        warnings.append("the final energy is not finite.")
    if not energy.r_hat <= R_HAT_LIMIT:
        warnings.append(
            f"R-hat = {energy.r_hat:.3f} > {R_HAT_LIMIT}: the Markov chains disagree "
            "(poor mixing); the error bar is not reliable."
        )
    non_finite = energy.non_finite_local_energies + non_finite_in_training
    if non_finite:
        warnings.append(f"{non_finite} local energies were not finite (samples at contact?).")
    trend = plateau(trace_per_particle)
    if trend["checked"] and not trend["ok"]:
        warnings.append(
            f"the energy has not plateaued: E/N fell by {trend['drift']:.4g} "
            f"+- {trend['drift_error']:.2g} over the last {trend['window']} iterations; "
            "run longer (resume=True with a larger n_iter)."
        )
    spread = np.sqrt(energy.variance) / abs(energy.mean * n_particles)
    if not spread <= RELATIVE_SPREAD_LIMIT:
        warnings.append(
            f"the local energy varies a lot (std / |E| = {spread:.2g}): the wavefunction "
            "is far from an eigenstate."
        )
    diagnostics = {
        "r_hat_ok": bool(energy.r_hat <= R_HAT_LIMIT),
        "non_finite_local_energies": int(non_finite),
        "plateau": trend,
        "relative_spread": float(spread),
    }
    if reference is not None:
        gap = (energy.mean - reference) / abs(reference)
        diagnostics["reference_gap"] = float(gap)
        margin = 3 * energy.error / abs(reference)
        if gap < -margin:
            warnings.append(
                f"E/N is below the reference {reference:.6g} by more than 3 errors: "
                "sub-variational (a bug or broken sampling) if the reference is exact."
            )
        elif gap > REFERENCE_TOLERANCE + margin:
            warnings.append(f"E/N is {100 * gap:.2f} % above the reference {reference:.6g}.")
    diagnostics["trusted"] = not warnings
    return diagnostics, warnings
