"""Named configurations: the measured settings of each system, and NetKet's example.

Like FermiNet's ``configs/``: a run starts from its system's named
configuration, and every setting given explicitly wins
(`eqxnqs.configure`; the command line does the same).
"""

from .._models._features import phi_widths, rho_widths
from ._run_config import GROUPS, RunConfig
from ._settings import POSITIVE_INTEGER, ConfigError, OneOf
from ._system_configs import SYSTEMS

#: SR settings for the runs where the default ones blew up: the MPNN (its updates on
#: helium grew without bound at diag_shift 0.01, and its 1D energy jumped from 5.3 to 17
#: after 70 iterations at max_norm 100) and the DeepSet on helium-3d (N = 32: an update
#: of norm 3543 threw E/N from -6.0 to +420 K at iteration 36; stable at these).
CAUTIOUS_SR = {"diag_shift": 0.1, "max_norm": 10.0}

#: Each system's named configuration: the settings in which it differs from RunConfig().
SYSTEM_CONFIGURATIONS = {
    "helium": {},
    # the triplet factor: measured, N = 30, E/N -0.69 -> -0.83 K at 0.04344 A^-2; its
    # plateau within 120 iterations (3 seeds, 2.4 to 2.7 % above DMC)
    # ... and the trust region at 20: measured, 0.050 A^-2, seed 2: after an energy jump
    # at iteration 116, updates of norm 47 to 132 threw E/N to +2.6 K at 100; at 20 it
    # recovers within 3 iterations. Above the updates of the runs without a jump (up to
    # 19.9, at the first iteration); 10 cut those, and ended 3 seeds at 0.04344 A^-2
    # 0.003 to 0.010 K higher
    "helium-2d": {"cusp_init": 1.0, "three_body": True, "max_norm": 20.0, "n_iter": 120},
    # the triplet factor: measured, N = 32, E/N -5.87 -> -6.25 K in 40 iterations; the
    # decaying learning rate and shift: measured, 3 seeds, no more energy jumps (up to
    # 3.2 K per atom before), worst seed -6.72 -> -6.79 K at 120 iterations
    "helium-3d": {
        "cusp_init": 1.0,
        "three_body": True,
        **CAUTIOUS_SR,
        "learning_rate_end": 0.002,
        "diag_shift_end": 0.03,
        "n_iter": 160,
    },
    "gaussian": {"cusp_exponent": None},  # a soft potential: no cusp
    "calogero-sutherland": {"cusp_exponent": 1},  # the exact |x|^beta contact
}

#: Settings of a named configuration that only its DeepSet takes: the MPNNs keep
#: RunConfig's (the McMillan exponent 5 of Linteau et al.'s network).
DEEPSET_SETTINGS = {
    # the cusp exponent 3: measured, helium-2d's two phases, 4 seeds at 0.050 A^-2 and 3 at
    # 0.04344 A^-2: the energy of exponent 5 (the means 0.002 and 0.0025 K lower) at 1.2 to
    # 2.9 times lower variance. In 3D (3 seeds each) it ended 0.006 to 0.055 K above 5, so
    # helium-3d keeps 5
    "helium-2d": {"cusp_exponent": 3},
}

#: Settings of a named configuration that only its MPNN (``model="mpnn"``) takes, on top
#: of `CAUTIOUS_SR`.
MPNN_SETTINGS = {
    # the network, samples and sampler of Linteau et al.'s 2D run (4 layers, width 8, 1
    # head; 512 samples in 16 chains), with the O(N) moves of its McMillan factor; no
    # triplet factor, and the learning rate and shift decaying to 0.002 and 0.003 over
    # 400 of 700 iterations: measured, N = 30, 0.050 A^-2: -0.7962 and -0.7919 K (seeds 0
    # and 1), against -0.7715 to -0.7792 K for the DeepSet's recipe. Without the triplet
    # factor: N = 12, -0.8524 K against -0.8345 K with it; the shift 0.003 halved the
    # variance there
    "helium-2d": {
        "mpnn_features": 8,
        "mpnn_layers": 4,
        "mpnn_heads": 1,
        "n_chains": 16,
        "n_samples": 512,
        "surrogate": "fast-terms",
        "three_body": False,
        "learning_rate_end": 0.002,
        "diag_shift_end": 0.003,
        "decay_iter": 400,
        "n_iter": 700,
    },
}

#: The backflow phase of each named configuration that has one: on top of it, dropped
#: with ``backflow=False`` and for the MPNNs.
BACKFLOW_PHASES = {
    # backflow for 60 more iterations at a fifth of the learning rate and three times the
    # shift: measured, 3 seeds each, 0.04344 A^-2: -0.870...-0.876 -> -0.8825...-0.8838 K;
    # 0.050 A^-2, 4 seeds: -0.7633...-0.7824 K
    "helium-2d": {
        "learning_rate_end": 0.002,
        "diag_shift_end": 0.03,
        "decay_start": 120,
        "decay_iter": 120,
        "backflow": True,
        "backflow_start": 120,
        "n_iter": 180,
    },
    # backflow after the decay, at its final learning rate and shift: measured, 3 seeds,
    # -6.79...-6.82 -> -7.01...-7.03 K in 40 more iterations
    "helium-3d": {"decay_iter": 120, "backflow": True, "backflow_start": 120},
}

#: Settings of the named configurations that count iterations: they follow a given
#: n_iter in proportion (the backflow joins after two thirds of helium-2d's run).
ITERATION_SETTINGS = ("decay_start", "decay_iter", "backflow_start")

#: The settings in which NetKet's Examples/Continuous/Helium.py differs from RunConfig().
NETKET_EXAMPLE = dict(
    rho_readout="netket",
    positive_cusp=False,
    zero_readout=False,
    sampler="gaussian",
    sampler_sigma=0.05,
    n_chains=16,
    sweep_size=32,
    chain_start="uniform",
    n_samples=4096,
    n_discard_per_chain=128,
    clip_local_energy=None,
    max_norm=None,
    target_acceptance=None,
    input_scale=1.0,
)


def configure(system: str = "helium", *, netket_example: bool = False, **settings) -> RunConfig:
    """The named configuration of `system`, with `settings` on top.

    **Arguments:**

    - `system`: ``"helium"`` (the ring), ``"helium-2d"``, ``"helium-3d"``,
      ``"gaussian"`` or ``"calogero-sutherland"``.
    - `netket_example`: start from the settings of NetKet's
      ``Examples/Continuous/Helium.py`` (`NETKET_EXAMPLE`) instead.
    - `settings`: any setting by its option name (``n_particles=30``,
      ``model="mpnn"``, ``n_iter=300``; the command line's ``--n-particles``
      and so on). A single width in ``features_phi`` or ``features_rho``
      repeats (rho's then ends in 1).

    What the named configuration leaves open follows the settings given: the
    MPNNs get `CAUTIOUS_SR`, no backflow and none of `DEEPSET_SETTINGS` (the
    ``"mpnn"`` model gets `MPNN_SETTINGS`, less its surrogate for another
    sampler),
    ``driver="vmc"`` no clipping and no trust region, fewer than 3 particles
    no triplet factor,
    ``backflow=False`` no backflow phase (`BACKFLOW_PHASES`), constant rates
    (no ``learning_rate_end`` and ``diag_shift_end``) no decay, and another
    ``n_iter`` the same share of it for the iterations at which a phase begins
    (`ITERATION_SETTINGS`).

    ``configure(**config.flat())`` gives `config` back.

    **Returns:** a checked `eqxnqs.RunConfig`. A bad setting raises
    `eqxnqs.ConfigError` with a one-line message.
    """
    OneOf(*SYSTEMS)("system", system)
    values = dict(SYSTEM_CONFIGURATIONS[system])
    mpnn = settings.get("model") in ("mpnn", "edge-mpnn")
    if settings.get("backflow", not mpnn) is not False:
        values.update(BACKFLOW_PHASES.get(system, {}))
    if netket_example:
        values.update(NETKET_EXAMPLE)
    if mpnn:
        values.update(CAUTIOUS_SR)
        if settings["model"] == "mpnn":
            values.update(MPNN_SETTINGS.get(system, {}))
            sampler = settings.get("sampler", values.get("sampler", GROUPS["sampler"]().kind))
            if sampler != "single-particle":
                values.pop("surrogate", None)  # its surrogate needs single-particle moves
    else:
        values.update(DEEPSET_SETTINGS.get(system, {}))
    ends = ("learning_rate_end", "diag_shift_end")
    if all(settings.get(name, values.get(name)) is None for name in ends):
        for name in ("decay_start", "decay_iter"):
            values.pop(name, None)
    n_iter = settings.get("n_iter")
    if "n_iter" in values and POSITIVE_INTEGER.accepts(n_iter):
        share = n_iter / values["n_iter"]
        for name in ITERATION_SETTINGS:
            if name in values and name not in settings:
                values[name] = max(int(values[name] * share), 1 if name == "decay_iter" else 0)
    if settings.get("driver") == "vmc":
        values.update(clip_local_energy=None, max_norm=None)
    n_particles = settings.get("n_particles", SYSTEMS[system]().n_particles)
    if isinstance(n_particles, int) and n_particles < 3:
        values["three_body"] = False
    values.update(settings)
    for name, resolve in (("phi", phi_widths), ("rho", rho_widths)):
        if f"features_{name}" in settings or f"layers_{name}" in settings:
            defaults = GROUPS["model"]()
            features = values.get(f"features_{name}", getattr(defaults, f"features_{name}"))
            layers = values.get(f"layers_{name}", getattr(defaults, f"layers_{name}"))
            if not isinstance(features, int):
                features = tuple(features)
                features = features[0] if len(features) == 1 else features
            try:
                values[f"features_{name}"] = resolve(features, layers)
            except (ValueError, TypeError, IndexError) as error:
                raise ConfigError(str(error) or f"features_{name} is empty.") from None
    return RunConfig.from_flat({"system": system, **values})
