"""A complete VMC run: system, model, sampler, driver, checkpoints, results."""

import contextlib
import io
import json
import math
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import optax

from .._models._activations import activation_by_name
from .._models._backflow import with_backflow
from .._models._edge_mpnn import EdgeMPNN
from .._models._jastrow import McMillanJastrow, PowerLawJastrow
from .._models._linteau import from_linteau
from .._models._mpnn import MPNN
from .._models._periodic import PeriodicLogAmplitude
from .._models._rel_distance import DeepSetRelDistance
from .._models._sum import SumLogAmplitude
from .._models._triplet import TripletJastrow
from .._netket._adapter import make_mcstate, model_from_state
from .._netket._single_particle_sampler import LatticeStartGaussianRule, SingleParticleMetropolis
from .._netket._vmc_sr import VMC_SR
from .._observables._energy import split_estimates
from .._observables._one_body import one_body_density_matrix
from .._observables._pair_distribution import pair_distribution
from .._observables._structure_factor import luttinger_parameter, structure_factor
from .._systems._hamiltonians import System
from ._checkpoint import (
    AtomicJsonLog,
    CheckpointCallback,
    StopOnNonFiniteEnergy,
    resume_checkpoint,
    write_checkpoint,
)
from ._plots import (
    plot_energy,
    plot_one_body_density_matrix,
    plot_pair_distribution,
    plot_structure_factor,
)
from ._progress import EnergyProgressBar
from ._results import RunResults
from ._run_config import RunConfig
from ._serialization import (
    gathered,
    is_main_process,
    load,
    save,
    wait_for_every_process,
    write_run_file,
)
from ._settings import ConfigError
from ._trust import (
    FinalEnergy,
    FinalSamples,
    assess_run,
    energy_statistics,
    final_energy,
    final_sampling,
)

CONFIG_FILE = "config.json"
LOG_FILE = "log.json"
MODEL_FILE = "model.eqx"
RESULTS_FILE = "results.json"


class RunFolderError(ValueError):
    """The output folder cannot be used for this run."""


def build_model(config: RunConfig, system: System) -> PeriodicLogAmplitude:
    """The wavefunction of `config.model` (`eqxnqs.ModelConfig`) for `system`.

    The network (DeepSet, or an MPNN times its McMillan cusp factor), times the
    Jastrow factor that ``jastrow`` names, if any, and the triplet factor if
    ``three_body``; all at backflow coordinates if ``backflow``, and starting
    from ``init_from``'s parameters.
    """
    key = jax.random.key(config.seed)
    model_config = config.model
    if model_config.kind in ("mpnn", "edge-mpnn"):
        if model_config.kind == "mpnn":
            network = MPNN(
                system.box,
                system.n_particles,
                node_features=model_config.mpnn_features,
                edge_features=model_config.mpnn_features,
                n_layers=model_config.mpnn_layers,
                n_heads=model_config.mpnn_heads,
                readout_features=model_config.mpnn_features,
                activation=model_config.activation,
                key=key,
            )
        else:
            network = EdgeMPNN(
                system.box,
                system.n_particles,
                features=model_config.mpnn_features,
                n_layers=model_config.mpnn_layers,
                activation=model_config.activation,
                key=key,
            )
        terms = [network]
        if model_config.cusp_exponent is not None:
            terms.insert(
                0,
                McMillanJastrow(
                    system.box,
                    system.n_particles,
                    exponent=model_config.cusp_exponent,
                    b=1.0 if model_config.cusp_init is None else model_config.cusp_init,
                ),
            )
    else:
        cusp = {}
        if model_config.cusp_init is not None and model_config.cusp_exponent is not None:
            # The DeepSet's cusp is b' / |d|^k with NetKet's |d| ~ (pi/2) r at contact.
            strength = (math.pi / 2 * model_config.cusp_init) ** model_config.cusp_exponent
            cusp = dict(params_init=jax.nn.initializers.constant(strength))
        terms = [
            DeepSetRelDistance.from_hilbert(
                system.hilbert,
                layers_phi=model_config.layers_phi,
                features_phi=model_config.features_phi,
                layers_rho=model_config.layers_rho,
                features_rho=model_config.features_rho,
                cusp_exponent=model_config.cusp_exponent,
                activation=activation_by_name(model_config.activation),
                output_activation=activation_by_name(model_config.output_activation),
                pooling=model_config.pooling,
                use_bias=model_config.use_bias,
                readout_init=jax.nn.initializers.zeros if model_config.zero_readout else None,
                rho_readout=model_config.rho_readout,
                positive_cusp=model_config.positive_cusp,
                input_scale=model_config.input_scale,
                key=key,
                **cusp,
            )
        ]
    if model_config.jastrow == "mcmillan":
        terms.insert(
            0,
            McMillanJastrow(
                system.box, system.n_particles, exponent=5, b=model_config.jastrow_init
            ),
        )
    elif model_config.jastrow == "power-law":
        terms.insert(
            0, PowerLawJastrow(system.box, system.n_particles, beta=model_config.jastrow_init)
        )
    if model_config.three_body:
        terms.append(TripletJastrow(system.box, system.n_particles))
    model = terms[0] if len(terms) == 1 else SumLogAmplitude(*terms)
    source = None
    if model_config.init_from is not None:
        source = saved_model(Path(model_config.init_from), system)
    if not model_config.backflow:
        return model if source is None else initialised_from(model, source, model_config.init_from)
    if source is not None and carried_over(model, source) is not None:
        # A run without backflow: the new run starts from its wavefunction exactly.
        return backflow_around(config, carried_over(model, source))
    model = backflow_around(config, model)
    return model if source is None else initialised_from(model, source, model_config.init_from)


def backflow_around(config: RunConfig, model: PeriodicLogAmplitude) -> PeriodicLogAmplitude:
    """`model` at backflow coordinates, eta starting at zero (so the same wavefunction)."""
    return with_backflow(model, key=jax.random.fold_in(jax.random.key(config.seed), 1))


def without_backflow(config: RunConfig) -> RunConfig:
    """The configuration of a run's iterations before ``backflow_start``."""
    return config.replace(backflow=False, backflow_start=0)


def backflow_driver(config: RunConfig, system: System, trained=None):
    """The driver of the iterations from ``backflow_start`` on.

    Its wavefunction is `trained` (the state at ``backflow_start``, without
    backflow) at backflow coordinates; without `trained`, a template for a
    checkpoint. Its new chains start as every run's do; the step count and the
    learning-rate schedule go on from ``backflow_start``.
    """
    start = config.model.backflow_start
    if trained is None:
        trained = build_model(without_backflow(config), system)
    driver = build_driver(config, system, backflow_around(config, trained))
    driver._step_count = start

    def at_start(state):
        if isinstance(state, optax.ScaleByScheduleState):
            return state._replace(count=jnp.asarray(start, dtype=state.count.dtype))
        return state

    driver._optimizer_state = jax.tree.map(
        at_start,
        driver._optimizer_state,
        is_leaf=lambda x: isinstance(x, optax.ScaleByScheduleState),
    )
    return driver


def saved_model(path: Path, system: System) -> PeriodicLogAmplitude:
    """The model saved at `path`: a model file, a run folder holding one, or a state of
    Linteau et al. (``.mpack``, `eqxnqs.from_linteau`) in `system`'s box."""
    file = path / MODEL_FILE if path.is_dir() else path
    try:
        if file.suffix == ".mpack":
            return from_linteau(file, system.box, system.n_particles)
        return load(file)
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"init_from: {path} is not a saved wavefunction file or the folder of a finished "
            f"run ({type(error).__name__})."
        ) from None


def initialised_from(model, source, where) -> PeriodicLogAmplitude:
    """`model` with the parameters of `source` (`carried_over`); its box and particle
    number may differ."""
    moved = carried_over(model, source)
    if moved is None:
        raise ConfigError(
            f"init_from: the wavefunction in {where} ({type(source).__name__}) does not fit "
            f"this run's ({type(model).__name__}): every term saved must be a term of this "
            "run's, in the same order, with the same parameters."
        )
    return moved


def carried_over(template, source):
    """`template` with the parameters of `source`, or ``None`` if they do not fit.

    Either both have the same parameters (`same_parameters`), or each term of
    `source` (a sum, or one term) has the parameters of a term of `template`, in
    the same order; the other terms of `template` keep theirs. Every factor that
    a run can add starts at 1 (the triplet's lambda and the backflow's eta start
    at zero), so the new run starts from `source`'s wavefunction.
    """
    whole = same_parameters(template, source)
    if whole is not None:
        return whole
    terms = list(template.terms if isinstance(template, SumLogAmplitude) else (template,))
    given = list(source.terms if isinstance(source, SumLogAmplitude) else (source,))
    for index, term in enumerate(terms):
        if given and type(term) is type(given[0]):
            moved = same_parameters(term, given[0])
            if moved is not None:
                terms[index] = moved
                given.pop(0)
    if given:
        return None
    return terms[0] if len(terms) == 1 else SumLogAmplitude(*terms)


def same_parameters(template, source):
    """`template` with the arrays of `source` when both have the same parameters (the
    same names and shapes), else ``None``."""
    arrays, static = eqx.partition(template, eqx.is_array)
    paths, treedef = jax.tree_util.tree_flatten_with_path(arrays)
    source_paths, _ = jax.tree_util.tree_flatten_with_path(eqx.filter(source, eqx.is_array))
    if [(p, a.shape) for p, a in paths] != [(p, a.shape) for p, a in source_paths]:
        return None
    return eqx.combine(jax.tree.unflatten(treedef, [a for _, a in source_paths]), static)


def build_driver(config: RunConfig, system: System, model: PeriodicLogAmplitude):
    seed, sampling, optimization = config.seed, config.sampler, config.optimizer
    chains = dict(n_chains=sampling.n_chains, sweep_size=sampling.sweep_size)
    if sampling.kind == "single-particle":
        sampler = SingleParticleMetropolis(
            system.hilbert,
            sigma=sampling.sampler_sigma,
            start=sampling.chain_start,
            target_acceptance=sampling.target_acceptance,
            surrogate=sampling.surrogate,
            segment_moves=sampling.segment_moves,
            **chains,
        )
    else:
        rule = LatticeStartGaussianRule(
            sampling.sampler_sigma,
            start=sampling.chain_start,
            target_acceptance=sampling.target_acceptance,
        )
        sampler = nk.sampler.MetropolisSampler(system.hilbert, rule, **chains)
    vstate = make_mcstate(
        sampler,
        model,
        n_samples=sampling.n_samples,
        n_discard_per_chain=sampling.n_discard_per_chain,
        chunk_size=sampling.chunk_size,
        seed=seed,
        sampler_seed=seed + 1,
    )
    decay = (optimization.decay_start, optimization.decay_iter or optimization.n_iter)
    learning_rate = schedule(optimization.learning_rate, optimization.learning_rate_end, *decay)
    optimizer = {"sgd": optax.sgd, "adam": optax.adam}[optimization.kind](learning_rate)
    if optimization.driver == "vmc_sr":
        # NetKet's construction message (online statistics) is muted.
        with contextlib.redirect_stdout(io.StringIO()):
            return VMC_SR(
                system.hamiltonian,
                optimizer,
                diag_shift=schedule(optimization.diag_shift, optimization.diag_shift_end, *decay),
                variational_state=vstate,
                clip_local_energy=optimization.clip_local_energy,
                max_norm=optimization.max_norm,
                use_ntk=optimization.use_ntk,
                momentum=switched_on(optimization.momentum, optimization.momentum_start),
            )
    return nk.driver.VMC(system.hamiltonian, optimizer, variational_state=vstate)


def switched_on(value: float | None, start: int):
    """`value`, or a schedule that is 0 before step `start` and `value` from it."""
    if value is None or start == 0:
        return value
    return lambda step: jnp.where(step < start, 0.0, value)


def schedule(start: float, end: float | None, begin: int, reach: int):
    """`start`, or a schedule that holds `start` up to step `begin`, goes from it to
    `end` at step `reach` (geometric; one step there when `begin` is `reach`), and
    holds `end` after it."""
    if end is None:
        return start
    if begin == reach:
        return optax.piecewise_constant_schedule(start, {reach: end / start})
    return optax.exponential_decay(
        start,
        transition_steps=reach - begin,
        decay_rate=end / start,
        transition_begin=begin,
        end_value=end,
    )


def prepare_folder(out: Path, config: RunConfig, resume: bool) -> None:
    """Refuse to mix runs: a folder holds one run, continued only with `resume`."""
    config_path = out / CONFIG_FILE
    if resume and not config_path.is_file():
        if out.exists() and any(out.iterdir()):
            raise RunFolderError(
                f"cannot resume: {out} holds other files but no run ({CONFIG_FILE})."
            )
        print(f"resume: no run in {out} yet; starting one.")
    elif resume:
        try:
            previous = RunConfig.from_json_file(config_path)
        except (ValueError, TypeError) as error:
            raise RunFolderError(f"cannot resume: cannot read {config_path}: {error}") from None
        changed = previous.differences(config)
        if changed:
            raise RunFolderError(
                f"cannot resume: the settings differ from the run in {out} in: "
                f"{', '.join(changed)}."
            )
    elif out.exists() and any(out.iterdir()):
        what = "a run" if config_path.is_file() else "other files"
        raise RunFolderError(
            f"{out} already holds {what}; resume=True continues it, or choose another out folder."
        )
    # Every process has judged the folder before process 0 changes it.
    wait_for_every_process("eqxnqs: run folder checked")
    if resume and is_main_process():
        for stale in out.glob(".*.tmp-*"):  # left by a write that was interrupted
            stale.unlink()
    write_run_file(config_path, config.to_json().encode())


def run_vmc(
    config: RunConfig,
    out: str | Path,
    *,
    resume: bool = False,
    show_progress: bool = True,
    callbacks=(),
) -> RunResults:
    """Run (or resume) the VMC optimisation described by `config` in folder `out`.

    Writes ``config.json``, NetKet's JSON log ``log.json``, checkpoints
    (``checkpoint.mpack`` every ``checkpoint_every`` steps, and the one
    before it, ``checkpoint.previous.mpack``, to resume from when the newest
    cannot be read), the final
    model ``model.eqx`` (`eqxnqs.load` reads it), ``results.json`` and the
    plots ``energy.png``, ``pair_distribution.png``, ``structure_factor.png`` and
    ``one_body_density_matrix.png``. Returns the results (`eqxnqs.RunResults`).

    The final energy comes from ``final_samples`` fresh samples;
    ``results.warnings`` lists every failed check (R-hat, non-finite local
    energies, plateau, variance, reference) and ``results.diagnostics``
    holds the numbers behind them. `callbacks` are extra NetKet callbacks
    (``f(step, log_data, driver) -> bool``) run at every iteration.
    """
    out = Path(out)
    prepare_folder(out, config, resume)

    system = config.build_system()
    start = config.model.backflow_start
    first = without_backflow(config) if start else config

    def template(step: int):
        # A checkpoint at backflow_start holds the run before the backflow joined.
        if start and step > start:
            return backflow_driver(config, system)
        return build_driver(first, system, build_model(first, system))

    driver = None
    log = AtomicJsonLog(out / LOG_FILE)
    saved_step = None
    restored = resume_checkpoint(out, template) if resume else None
    if restored is not None:
        driver, log_text, saved_step = restored
        log = AtomicJsonLog.resume(out / LOG_FILE, log_text)
        print(f"Resuming {out} at iteration {saved_step}.")
    if driver is None:
        driver = template(0)

    checkpoints = CheckpointCallback(out, config.output.checkpoint_every, log, saved_step)

    def train(driver, until: int) -> None:
        remaining = until - driver.step_count
        if remaining > 0:
            driver.run(
                remaining,
                out=log,
                callback=[
                    StopOnNonFiniteEnergy(),
                    checkpoints,
                    *([_progress_bar(system, remaining)] if show_progress else []),
                    *callbacks,
                ],
                show_progress=False,
            )

    if start and driver.step_count <= start:
        train(driver, start)
        print(f"The backflow joins at iteration {start}.")
        driver = backflow_driver(config, system, model_from_state(driver.state))
    train(driver, config.optimizer.n_iter)
    log.flush()
    if checkpoints.saved_step != driver.step_count:
        write_checkpoint(out, driver, log, driver.step_count)

    model = model_from_state(driver.state)
    results = final_results(config, system, driver.state, log)
    if is_main_process():
        save(out / MODEL_FILE, model)
        write_run_file(out / RESULTS_FILE, json.dumps(results.to_dict(), indent=2).encode())
        _plot(out, system, log, results)
    return results


def _progress_bar(system: System, n_steps: int) -> EnergyProgressBar:
    if system.kelvin_per_unit is None:
        return EnergyProgressBar(n_steps, system.n_particles)
    return EnergyProgressBar(n_steps, system.n_particles, system.kelvin_per_unit, "K")


def energy_per_particle(system: System, vstate) -> FinalEnergy:
    """E/N of the state's current samples, with its error and the local energy's variance."""
    local = np.real(gathered(vstate.local_estimators(system.hamiltonian)))
    return energy_statistics(local, system.n_particles)


def final_results(config: RunConfig, system: System, vstate, log) -> RunResults:
    """The results of a finished optimisation: its final estimate, checks and observables."""
    final = final_sampling(system.hamiltonian, vstate, config.output.final_samples)
    energy = final_energy(final, system.n_particles)
    trace = np.real(np.asarray(log.data["Energy"]["Mean"])) / system.n_particles
    non_finite = (
        int(np.sum(np.asarray(log.data["NonFiniteLocalEnergies"]["value"])))
        if "NonFiniteLocalEnergies" in log.data
        else 0
    )
    diagnostics, warnings = assess_run(
        energy, system.n_particles, trace, non_finite, system.reference_energy_per_particle
    )
    samples = final.samples.reshape(-1, system.hilbert.size)
    r, g = pair_distribution(samples, system.box, n_bins=config.output.g_r_bins)
    observables = bosonic_observables(config, system, vstate, final)
    share = observables["condensate_fraction"]["largest_sample_share"]
    if share > LARGEST_SAMPLE_SHARE:
        warnings.append(
            f"one sample carries {100 * share:.1f} % of the condensate-fraction estimate: "
            "g1 and n(k) rest on a few samples (use more g1_samples)."
        )
        diagnostics["trusted"] = False
    return RunResults(
        config=config,
        system=system.name,
        n_particles=system.n_particles,
        box=system.box,
        kelvin_per_unit=system.kelvin_per_unit,
        iterations=int(len(log.data["Energy"].iters)),
        energy_per_particle=energy,
        reference_energy_per_particle=system.reference_energy_per_particle,
        reference_source=system.reference_source,
        diagnostics=diagnostics,
        warnings=tuple(warnings),
        acceptance=float(vstate.sampler_state.acceptance),
        segment_acceptance=getattr(vstate.sampler_state, "segment_acceptance", None),
        sampler_width=_sampler_width(vstate, config),
        pair_distribution={"r": r.tolist(), "g": g.tolist()},
        **observables,
        units=_units(system),
    )


#: Above this share of one sample in the condensate-fraction estimate, the run warns.
LARGEST_SAMPLE_SHARE = 0.05


def _lists(*arrays) -> list:
    return [np.asarray(a, dtype=float).tolist() for a in arrays]


def bosonic_observables(config: RunConfig, system: System, vstate, final: FinalSamples) -> dict:
    """The energy split, S(k), g1(r), n(k), n0 (and K in 1D) of a run's final samples.

    The energy split and S(k) use all of `final`'s samples; g1 and n(k) the
    first `RunConfig.g1_samples` of them (spread over the chains), with the
    model of `vstate`. Energies are per particle; lengths and wavevectors in
    the system's units.
    """
    n = system.n_particles
    split = split_estimates({"kinetic": final.kinetic, "potential": final.potential}, n)
    sf = structure_factor(final.samples, system.box)
    obdm = one_body_density_matrix(
        model_from_state(vstate),
        final.samples,
        n_points=config.output.g1_points,
        max_samples=min(config.g1_samples, final.samples.shape[0] * final.samples.shape[1]),
    )
    order = np.argsort(np.linalg.norm(obdm.momenta, axis=-1), kind="stable")
    k_norm = np.linalg.norm(obdm.momenta, axis=-1)[order]
    out = {
        "energy_split": split,
        "structure_factor": dict(zip(("k", "S", "error"), _lists(sf.k, sf.value, sf.error))),
        "one_body_density_matrix": dict(
            zip(("r", "g1", "error"), _lists(obdm.radius, *obdm.g1_radial[:2]))
        ),
        "momentum_distribution": dict(
            zip(("k", "n", "error"), _lists(k_norm, obdm.n_k.mean[order], obdm.n_k.error[order]))
        ),
        "condensate_fraction": {
            "mean": float(obdm.condensate_fraction.mean),
            "error": float(obdm.condensate_fraction.error),
            "largest_sample_share": obdm.largest_sample_share,
            "n_samples": obdm.n_samples,
        },
    }
    out["luttinger_parameter"] = None
    if len(system.box) == 1:
        k = luttinger_parameter(final.samples, system.box)
        out["luttinger_parameter"] = k
    return out


def _sampler_width(vstate, config: RunConfig) -> float:
    """The proposal width of the last sampling (adapted, or the fixed sampler_sigma)."""
    width = vstate.sampler_state.rule_state
    return config.sampler.sampler_sigma if width is None else float(width)


def _units(system: System) -> dict:
    if system.kelvin_per_unit is None:
        return {"length": "box units", "energy": "hbar^2/(m L0^2)"}
    return {
        "length": f"r_m = {system.angstrom_per_unit} angstrom",
        "energy": f"hbar^2/(m r_m^2) = {system.kelvin_per_unit:.6f} K",
    }


def _plot(out: Path, system: System, log, results: RunResults) -> None:
    energy = log.data["Energy"]
    n = system.n_particles
    unit = "K" if system.kelvin_per_unit is not None else "hbar^2/(m L0^2)"
    scale = system.kelvin_per_unit if system.kelvin_per_unit is not None else 1.0
    final = results.energy_per_particle.mean * scale
    plot_energy(
        out / "energy.png",
        np.asarray(energy.iters),
        np.real(np.asarray(energy["Mean"])) / n * scale,
        np.asarray(energy["Sigma"]) / n * scale,
        unit=unit,
        reference=final,
    )
    length_unit = "r_m" if system.angstrom_per_unit else "box units"
    pair = results.pair_distribution
    plot_pair_distribution(
        out / "pair_distribution.png", pair["r"], pair["g"], length_unit=length_unit
    )
    sf = results.structure_factor
    density = n / float(np.prod(system.box))
    slope = None if results.luttinger_parameter is None else results.luttinger_parameter.mean
    plot_structure_factor(
        out / "structure_factor.png",
        sf["k"],
        sf["S"],
        sf["error"],
        length_unit=length_unit,
        luttinger=None if slope is None else (slope, density),
    )
    g1 = results.one_body_density_matrix
    plot_one_body_density_matrix(
        out / "one_body_density_matrix.png",
        g1["r"],
        g1["g1"],
        g1["error"],
        length_unit=length_unit,
        condensate_fraction=results.condensate_fraction["mean"],
    )
