"""The settings of a VMC run: nested groups, each setting declared once.

``RunConfig()`` is the declared default: ten helium atoms on a ring with
NetKet's helium-example network (phi (16, 16), rho (16, 16, 1), cusp
exponent 5) and eqxnqs's own initialisation, sampler and optimiser, chosen
with ``benchmarks/convergence.py`` so that runs converge for every seed.
The measured settings of each system (helium-3d's cautious SR, the triplet
factor in 2D and 3D, ...) are named configurations: `eqxnqs.configure`.
"""

import dataclasses
import json
from pathlib import Path

from .._models._activations import activation_by_name
from .._models._features import phi_widths, rho_widths
from .._models._pooling import POOLINGS
from .._models._rel_distance import RHO_READOUTS
from .._netket._single_particle_sampler import START_CHOICES, SURROGATE_CHOICES
from ._migration import migrated
from ._settings import (
    BOOLEAN,
    NON_NEGATIVE_INTEGER,
    NON_NEGATIVE_NUMBER,
    POSITIVE_INTEGER,
    POSITIVE_NUMBER,
    TEXT,
    WIDTHS,
    Check,
    ConfigError,
    OneOf,
    Settings,
    between,
    optional,
    require,
    setting,
)
from ._system_configs import SYSTEMS, HeliumRingConfig, SystemConfig, system_options

#: The version of ``config.json``'s layout (1: the flat settings of eqxnqs 0.1 and 0.2).
CONFIG_FORMAT = 2


def _activation(name) -> bool:
    try:
        activation_by_name(name)
    except (ValueError, TypeError):
        return False
    return True


_ACTIVATION = Check("the name of a jax.nn function (e.g. gelu, tanh)", _activation)


@dataclasses.dataclass(frozen=True)
class ModelConfig(Settings):
    """The wavefunction: a DeepSet or an MPNN, and the factors multiplied onto it."""

    kind: str = setting(
        "deepset",
        "deepset (DeepSetRelDistance), mpnn (message passing with attention over particles) "
        "or edge-mpnn (Linteau et al.'s, attention over paths through a third particle); "
        "each MPNN times a McMillan cusp factor of exponent cusp_exponent",
        OneOf("deepset", "mpnn", "edge-mpnn"),
        option="model",
    )
    mpnn_features: int = setting(
        16, "mpnn, edge-mpnn: width of the node and edge states", POSITIVE_INTEGER
    )
    mpnn_layers: int = setting(2, "mpnn, edge-mpnn: message-passing layers", POSITIVE_INTEGER)
    mpnn_heads: int = setting(2, "mpnn: attention heads (edge-mpnn has one)", POSITIVE_INTEGER)
    layers_phi: int = setting(2, "deepset: number of phi layers", POSITIVE_INTEGER)
    features_phi: tuple[int, ...] = setting((16, 16), "deepset: phi widths (one repeats)", WIDTHS)
    layers_rho: int = setting(3, "deepset: number of rho layers", POSITIVE_INTEGER)
    features_rho: tuple[int, ...] = setting(
        (16, 16, 1), "deepset: rho widths ending in 1 (one repeats, then 1)", WIDTHS
    )
    cusp_exponent: int | None = setting(
        5, "Kato cusp exponent k, or none (no cusp factor)", optional(POSITIVE_INTEGER)
    )
    cusp_init: float | None = setting(
        None,
        "starting cusp as McMillan's length b, log psi ~ -1/2 (b/r)^k at contact "
        "(none: the model's own)",
        optional(POSITIVE_NUMBER),
    )
    activation: str = setting("gelu", "hidden activation (a jax.nn function)", _ACTIVATION)
    output_activation: str | None = setting(
        None, "deepset: output activation (a jax.nn function), or none", optional(_ACTIVATION)
    )
    pooling: str = setting("sum", "deepset: pooling over pairs", OneOf(*POOLINGS))
    use_bias: bool = setting(True, "dense layers with bias", BOOLEAN)
    rho_readout: str = setting(
        "linear",
        "deepset: rho's last declared layer is its linear output (linear), or NetKet's "
        "layers, an activated width-1 layer then 1 -> 1 (netket)",
        OneOf(*RHO_READOUTS),
    )
    positive_cusp: bool = setting(
        True, "learn c with the cusp b = softplus(c) > 0 (false: b itself, as NetKet)", BOOLEAN
    )
    input_scale: float = setting(
        4.0,
        "deepset: phi's input is input_scale (d/L)^2 (4: it spans [0, 1]; NetKet: 1)",
        POSITIVE_NUMBER,
    )
    zero_readout: bool = setting(
        True,
        "deepset: rho's last weight starts at zero, so log psi starts as the cusp term alone "
        "(false: random, as NetKet)",
        BOOLEAN,
    )
    jastrow: str | None = setting(
        None,
        "a Jastrow factor times the network: mcmillan (-1/2 sum (b/|d|)^5), power-law "
        "(beta sum log|d|), or none",
        optional(OneOf("mcmillan", "power-law")),
    )
    jastrow_init: float = setting(
        1.0,
        "the Jastrow factor's starting b (mcmillan, a length) or beta (power-law)",
        POSITIVE_NUMBER,
    )
    three_body: bool = setting(
        False,
        "times the triplet factor of Schmidt et al. (learnable, starts at 1)",
        BOOLEAN,
    )
    backflow: bool = setting(
        False,
        "the wavefunction at backflow coordinates q_i = x_i + sum_j eta(|d_ij|) s_ij, eta a "
        "learned MLP starting at zero",
        BOOLEAN,
    )
    backflow_start: int = setting(
        0,
        "with backflow: the iteration at which it joins; the iterations before it train the "
        "wavefunction without backflow (0: from the start)",
        NON_NEGATIVE_INTEGER,
    )
    init_from: str | None = setting(
        None,
        "start from the parameters of a saved model (model.eqx, a run folder, or a state of "
        "Linteau et al., .mpack, for edge-mpnn): the same model at any N, or the one inside "
        "the backflow",
        optional(TEXT),
    )

    def check(self) -> None:
        for name, resolve in (("phi", phi_widths), ("rho", rho_widths)):
            features = getattr(self, f"features_{name}")
            try:
                resolve(features, getattr(self, f"layers_{name}"))
            except ValueError as error:
                raise ConfigError(str(error)) from None
        require(
            self.backflow or self.backflow_start == 0,
            "backflow_start needs backflow true.",
        )
        require(
            not (self.kind != "deepset" and self.jastrow == "mcmillan" and self.cusp_exponent),
            f"model {self.kind} already has a McMillan factor (its cusp, exponent cusp_exponent); "
            "drop jastrow mcmillan or set cusp_exponent to None.",
        )


@dataclasses.dataclass(frozen=True)
class SamplerConfig(Settings):
    """Markov-chain Monte Carlo: the moves, their width, the chains and the samples."""

    kind: str = setting(
        "single-particle",
        "single-particle (one particle per proposal: O(N) for the DeepSet) or gaussian "
        "(NetKet's all-particle moves)",
        OneOf("single-particle", "gaussian"),
        option="sampler",
    )
    sampler_sigma: float = setting(
        0.3, "Gaussian step size per coordinate (the start, when adapted)", POSITIVE_NUMBER
    )
    target_acceptance: float | None = setting(
        0.5,
        "adapt the step size before every sampling towards this acceptance rate, or none "
        "(the step stays sampler_sigma)",
        optional(between(0, 1)),
    )
    surrogate: str = setting(
        "own",
        "single-particle: which cheaper wavefunction proposes moves, tested by psi every "
        "segment of about N moves: own (a backflow's inner one; none for other models) or "
        "fast-terms (also, for an MPNN, the model's terms with O(N) moves: its McMillan "
        "factor and any triplet)",
        OneOf(*SURROGATE_CHOICES),
    )
    segment_moves: int | None = setting(
        None,
        "single-particle with a surrogate: at most this many moves per segment that psi "
        "tests, each test a forward pass of psi (none: about N); fewer mix better once a "
        "backflow has grown",
        optional(POSITIVE_INTEGER),
    )
    n_chains: int = setting(64, "number of Markov chains", POSITIVE_INTEGER)
    sweep_size: int | None = setting(
        None, "moves per sample (none: N D)", optional(POSITIVE_INTEGER)
    )
    chain_start: str = setting("lattice", "where the chains begin", OneOf(*START_CHOICES))
    n_samples: int = setting(2048, "samples per iteration", POSITIVE_INTEGER)
    n_discard_per_chain: int = setting(
        16, "thermalisation samples discarded per chain", NON_NEGATIVE_INTEGER
    )
    chunk_size: int | None = setting(
        None, "NetKet's chunk size (a memory bound), or none", optional(POSITIVE_INTEGER)
    )

    def check(self) -> None:
        require(
            self.kind == "single-particle" or self.surrogate == "own",
            "surrogate fast-terms needs sampler single-particle.",
        )
        require(
            self.kind == "single-particle" or self.segment_moves is None,
            "segment_moves needs sampler single-particle.",
        )
        require(
            self.n_samples >= self.n_chains,
            f"n_samples ({self.n_samples}) must be at least n_chains ({self.n_chains}).",
        )
        # NetKet would round the sample count up silently.
        require(
            self.n_samples % self.n_chains == 0,
            f"n_samples ({self.n_samples}) must be a multiple of n_chains ({self.n_chains}).",
        )


@dataclasses.dataclass(frozen=True)
class OptimizerConfig(Settings):
    """The optimisation: driver, optimiser, learning rate, SR and its safeguards."""

    driver: str = setting(
        "vmc_sr", "vmc_sr (stochastic reconfiguration) or vmc", OneOf("vmc_sr", "vmc")
    )
    kind: str = setting("sgd", "sgd or adam (optax)", OneOf("sgd", "adam"), option="optimizer")
    learning_rate: float = setting(0.01, "the optimiser's learning rate", POSITIVE_NUMBER)
    learning_rate_end: float | None = setting(
        None,
        "the learning rate at the last iteration, reached geometrically, or none (constant)",
        optional(POSITIVE_NUMBER),
    )
    diag_shift: float = setting(
        0.01,
        "SR's diagonal shift (the named configurations: 0.1 for the MPNN and helium-3d)",
        NON_NEGATIVE_NUMBER,
    )
    diag_shift_end: float | None = setting(
        None,
        "the diagonal shift at the last iteration, reached geometrically, or none (constant)",
        optional(POSITIVE_NUMBER),
    )
    decay_start: int = setting(
        0,
        "the iteration from which the learning rate and shift move toward their ends; at "
        "decay_iter: one step there (helium-2d: at the backflow's start)",
        NON_NEGATIVE_INTEGER,
    )
    decay_iter: int | None = setting(
        None,
        "the iteration at which learning_rate_end and diag_shift_end are reached; they stay "
        "after it (none: n_iter)",
        optional(POSITIVE_INTEGER),
    )
    use_ntk: bool | None = setting(
        None,
        "SR in sample space (MinSR): true, false, or none (NetKet's choice: when the "
        "parameters outnumber the samples)",
        optional(BOOLEAN),
    )
    momentum: float | None = setting(
        None,
        "SPRING's momentum in [0, 1) (needs use_ntk true), or none",
        optional(between(0, 1, closed_low=True)),
    )
    momentum_start: int = setting(
        0,
        "the iteration from which the momentum applies; plain MinSR before it",
        NON_NEGATIVE_INTEGER,
    )
    clip_local_energy: float | None = setting(
        5.0,
        "clip local energies to median +- this many mean absolute deviations in the "
        "gradient only, or none",
        optional(POSITIVE_NUMBER),
    )
    max_norm: float | None = setting(
        100.0,
        "trust region: SR updates dp scaled down to sqrt(dp^T S dp) <= this (with sgd, log "
        "psi changes by at most learning_rate max_norm per step), or none (the named "
        "configurations: 10 for the MPNN and helium-3d, 20 for helium-2d)",
        optional(POSITIVE_NUMBER),
    )
    n_iter: int = setting(100, "total number of iterations", POSITIVE_INTEGER)

    def check(self) -> None:
        require(
            self.decay_iter is None
            or self.learning_rate_end is not None
            or self.diag_shift_end is not None,
            "decay_iter needs learning_rate_end or diag_shift_end.",
        )
        require(
            self.decay_iter is None or self.decay_iter <= self.n_iter,
            f"decay_iter ({self.decay_iter}) must be at most n_iter ({self.n_iter}).",
        )
        require(
            self.decay_start == 0
            or self.learning_rate_end is not None
            or self.diag_shift_end is not None,
            "decay_start needs learning_rate_end or diag_shift_end.",
        )
        require(
            self.decay_start <= (self.decay_iter or self.n_iter),
            f"decay_start ({self.decay_start}) must be at most decay_iter "
            f"({self.decay_iter or self.n_iter}).",
        )
        require(
            self.momentum is None or self.use_ntk is True,
            "momentum (SPRING) works in sample space: set use_ntk to true.",
        )
        require(
            self.momentum_start == 0 or self.momentum is not None,
            "momentum_start needs momentum.",
        )
        require(
            self.momentum_start <= self.n_iter,
            f"momentum_start ({self.momentum_start}) must be at most n_iter ({self.n_iter}).",
        )
        for name in ("clip_local_energy", "max_norm", "diag_shift_end", "use_ntk", "momentum"):
            require(
                getattr(self, name) is None or self.driver == "vmc_sr",
                f"{name} needs driver vmc_sr; set it to None for vmc.",
            )


@dataclasses.dataclass(frozen=True)
class OutputConfig(Settings):
    """What a run writes: checkpoints, the final estimate and the observables."""

    final_samples: int = setting(
        65536, "fresh samples for the final energy estimate", POSITIVE_INTEGER
    )
    checkpoint_every: int = setting(20, "iterations between checkpoints", POSITIVE_INTEGER)
    g_r_bins: int = setting(60, "bins of the pair distribution g(r)", POSITIVE_INTEGER)
    g1_samples: int | None = setting(
        None,
        "final samples used for g1(r), n(k) and the condensate fraction (none: 1024; for "
        "the MPNN and any backflow, a forward pass per displaced particle, n_chains but at "
        "least 64)",
        optional(POSITIVE_INTEGER),
    )
    g1_points: int | None = setting(
        None,
        "displacements per axis for g1(r) and n(k) (none: 32 in 1D, 12 in 2D, 8 in 3D)",
        optional(Check("an integer >= 2", lambda v: POSITIVE_INTEGER.accepts(v) and v >= 2)),
    )


#: The groups of a run and their types, in the order of ``config.json``.
GROUPS = {
    "model": ModelConfig,
    "sampler": SamplerConfig,
    "optimizer": OptimizerConfig,
    "output": OutputConfig,
}


def option_names(system: type[SystemConfig] | None = None) -> set[str]:
    """The option names of a run of `system` (``None``: of any system)."""
    names = {"seed", *(system.options() if system is not None else system_options())}
    for group in GROUPS.values():
        names.update(group.options())
    return names


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Every setting of a VMC run. Units: those of the chosen system.

    **Arguments:**

    - `system`: the system and its own settings (`eqxnqs.HeliumRingConfig`,
      `eqxnqs.Helium2DConfig`, `eqxnqs.Helium3DConfig`,
      `eqxnqs.GaussianBosonsConfig`, `eqxnqs.CalogeroSutherlandConfig`).
    - `model`, `sampler`, `optimizer`, `output`: the other groups.
    - `seed`: the seed of the parameters and of the sampler.

    `eqxnqs.configure` builds one from a system's named configuration and
    flat settings, as the command line does.
    """

    system: SystemConfig = dataclasses.field(default_factory=HeliumRingConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    sampler: SamplerConfig = dataclasses.field(default_factory=SamplerConfig)
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    output: OutputConfig = dataclasses.field(default_factory=OutputConfig)
    seed: int = setting(0, "seed of the parameters and the sampler", NON_NEGATIVE_INTEGER)

    def __post_init__(self):
        require(
            isinstance(self.system, SystemConfig),
            f"system must be one of eqxnqs's system configurations; got {self.system!r}.",
        )
        for name, group in GROUPS.items():
            require(
                isinstance(getattr(self, name), group),
                f"{name} must be a {group.__name__}; got {getattr(self, name)!r}.",
            )
        NON_NEGATIVE_INTEGER("seed", self.seed)
        n, chains = self.system.n_particles, self.sampler.n_chains
        require(
            not self.model.three_body or n >= 3,
            f"three_body needs at least 3 particles; got n_particles {n}.",
        )
        require(
            self.output.final_samples % chains == 0,
            f"final_samples ({self.output.final_samples}) must be a multiple of n_chains "
            f"({chains}).",
        )
        start = self.model.backflow_start
        require(
            start < self.optimizer.n_iter,
            f"backflow_start ({start}) must be below n_iter ({self.optimizer.n_iter}): the "
            "backflow would never join.",
        )
        g1 = self.output.g1_samples
        require(
            g1 is None or g1 >= chains,
            f"g1_samples ({g1}) must be at least n_chains ({chains}).",
        )

    def build_system(self):
        """The `eqxnqs.System` these settings describe."""
        return self.system.build()

    @property
    def g1_samples(self) -> int:
        """The final samples for g1 and n(k): `OutputConfig.g1_samples`, or its default."""
        if self.output.g1_samples is not None:
            return self.output.g1_samples
        fast = self.model.kind == "deepset" and not self.model.backflow
        return 1024 if fast else max(64, self.sampler.n_chains)

    def flat(self) -> dict:
        """Every setting by its option name, and ``"system"``: the system's name."""
        values = {"system": self.system.name, **self.system.flat(), "seed": self.seed}
        for name in GROUPS:
            values.update(getattr(self, name).flat())
        return values

    @classmethod
    def from_flat(cls, values: dict) -> "RunConfig":
        """The configuration of `values`, every setting by its option name.

        ``values["system"]`` names the system; a setting that no group has is
        an error, as is a setting of another system.
        """
        values = dict(values)
        name = values.pop("system", HeliumRingConfig.name)
        OneOf(*SYSTEMS)("system", name)
        system = SYSTEMS[name]
        unknown = sorted(set(values) - option_names(system))
        if unknown:
            foreign = [u for u in unknown if u in system_options()]
            if foreign:
                raise ConfigError(f"system {name} has no setting {', '.join(foreign)}.")
            raise ConfigError(f"unknown setting {', '.join(unknown)}.")
        groups = {key: group.from_flat(values) for key, group in GROUPS.items()}
        extra = {"seed": values["seed"]} if "seed" in values else {}
        return cls(system=system.from_flat(values), **groups, **extra)

    def replace(self, **settings) -> "RunConfig":
        """This configuration with `settings` (by option name) changed."""
        return RunConfig.from_flat({**self.flat(), **settings})

    def to_dict(self) -> dict:
        """``config.json``'s content: the groups, each by its field names."""
        data = {"format": CONFIG_FORMAT, "seed": self.seed}
        data["system"] = {"name": self.system.name, **dataclasses.asdict(self.system)}
        for name in GROUPS:
            data[name] = dataclasses.asdict(getattr(self, name))
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict) -> "RunConfig":
        """The inverse of `to_dict`; the flat settings of eqxnqs 0.1 and 0.2 are migrated."""
        data = migrated(data, GROUPS, CONFIG_FORMAT)
        try:
            system = dict(data["system"])
            system_type = SYSTEMS[system.pop("name")]
            groups = {}
            for name, group in GROUPS.items():
                fields = dict(data[name])
                for key, value in fields.items():
                    if isinstance(value, list):
                        fields[key] = tuple(value)
                groups[name] = group(**fields)
            return cls(system=system_type(**system), seed=data["seed"], **groups)
        except (KeyError, TypeError) as error:
            raise ConfigError(
                f"not a run configuration ({type(error).__name__}: {error})"
            ) from None

    @classmethod
    def from_json_file(cls, path: Path) -> "RunConfig":
        return cls.from_dict(json.loads(Path(path).read_text()))

    def differences(
        self, other: "RunConfig", ignore=("n_iter", "g1_samples", "g1_points", "g_r_bins")
    ) -> list[str]:
        """Option names of the settings in which `other` differs (but `ignore`)."""
        mine, theirs = self.flat(), other.flat()
        if mine["system"] != theirs["system"]:
            return ["system"]
        return [k for k in mine if k not in ignore and mine[k] != theirs[k]]
