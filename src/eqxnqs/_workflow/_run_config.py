"""The settings of a VMC run, checked.

The model follows NetKet's helium example (phi (16, 16), rho (16, 16, 1),
cusp exponent 5). The initialisation, sampler and optimiser defaults are
eqxnqs's own, chosen with ``benchmarks/convergence.py`` so that runs converge
for every seed (README, "Convergence"); ``RunConfig.netket_example()`` gives
the example's settings exactly.
"""

import dataclasses
import json
import math
from pathlib import Path

from .._models._activations import activation_by_name
from .._models._features import phi_widths, rho_widths
from .._models._pooling import POOLINGS
from .._models._rel_distance import RHO_READOUTS
from .._netket._single_particle_sampler import START_CHOICES
from .._systems._hamiltonians import CELLS, SYSTEM_PRESETS, TRUNCATIONS
from .._systems._potentials import HELIUM_POTENTIALS

SYSTEMS = tuple(SYSTEM_PRESETS)
DRIVERS = ("vmc_sr", "vmc")
OPTIMIZERS = ("sgd", "adam")
SAMPLERS = ("gaussian", "single-particle")
JASTROWS = ("mcmillan", "power-law")
MODELS = ("deepset", "mpnn")


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


#: Settings that development versions between 0.1.0 and 0.2.0 wrote and that are gone
#: (the neighbourhood Jastrow, dropped for no measured gain): the value with which a run
#: can be continued without them (``None``: any value).
REMOVED = {"neighbourhood": False, "neighbourhood_channels": None}

#: What the settings added after 0.1.0 were in 0.1.0 (to read its config.json).
BEFORE_0_2 = dict(
    rho_readout="netket",
    positive_cusp=False,
    zero_readout=False,
    chain_start="uniform",
    clip_local_energy=None,
    max_norm=None,
    final_samples=4096,
    target_acceptance=None,
    input_scale=1.0,
)


class ConfigError(ValueError):
    """A run setting is invalid. Messages name settings as `RunConfig` fields."""


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Every setting of a VMC run. Units: those of the chosen system."""

    system: str = "helium"
    n_particles: int = 10
    # helium: density in 1/angstrom^dim (None: 0.3 for the ring, the equilibrium
    # density 0.04344 A^-2 for helium-2d and 0.02186 A^-3 for helium-3d)
    density: float | None = None
    # helium-2d/3d: the cell ("square": a square or cube; "triangular": the 2D rectangle
    # of a triangular lattice of N), the pair potential ("hfdhe2", "hfd-b") and its
    # truncation at half the shortest side ("plain"; "shifted": also shifted by -V(r_c),
    # with the shift's mean added back, the convention of Linteau et al.)
    cell: str = "square"
    potential: str = "hfdhe2"
    truncation: str = "plain"
    # gaussian bosons: box side (every direction), dimension, V0 and sigma
    # (calogero-sutherland: box_length is the ring length, beta the exponent)
    dim: int = 1
    box_length: float = 4.0
    v0: float = 2.0
    sigma: float = 0.5
    beta: float = 2.0
    # the network: "deepset" (DeepSetRelDistance) or "mpnn" (eqxnqs.MPNN, times a
    # McMillan cusp factor with exponent cusp_exponent)
    model: str = "deepset"
    # mpnn: node and edge width, message-passing layers, attention heads
    mpnn_features: int = 16
    mpnn_layers: int = 2
    mpnn_heads: int = 2
    # deepset (NetKet's helium example: phi (16, 16), rho (16, 16, 1), cusp 5)
    layers_phi: int = 2
    features_phi: tuple[int, ...] = (16, 16)
    layers_rho: int = 3
    features_rho: tuple[int, ...] = (16, 16, 1)
    # "auto": 5 for helium, 1 for calogero-sutherland, none for gaussian
    cusp_exponent: int | str | None = "auto"
    # starting cusp as McMillan's length b, log psi = -1/2 sum (b/r)^k at contact
    # (None: b = 1 for the MPNN's factor, the DeepSet's own default; helium-2d/3d: 1 r_m)
    cusp_init: float | None = None
    activation: str = "gelu"
    output_activation: str | None = None
    pooling: str = "sum"
    use_bias: bool = True
    # "linear": rho's last declared layer is its output; "netket": NetKet's layers
    rho_readout: str = "linear"
    # the cusp parameter holds c with b = softplus(c) > 0 (False: b itself, as NetKet)
    positive_cusp: bool = True
    # phi's input is input_scale * (d/L)^2: 4 spans [0, 1] (1: NetKet's)
    input_scale: float = 4.0
    # rho's last weight starts at zero: log psi starts as the cusp term alone
    zero_readout: bool = True
    # a Jastrow factor times the DeepSet: None, "mcmillan" (-1/2 sum (b/|d|)^5) or
    # "power-law" (beta sum log|d|), starting at b or beta = jastrow_init
    jastrow: str | None = None
    jastrow_init: float = 1.0
    # times the triplet (three-body) factor of Schmidt et al., starting at 1
    # (lambda = 0; its range r_t = 1 and width w_t = 0.5 in the system's length unit);
    # None: on for helium-2d and helium-3d, off for the others
    three_body: bool | None = None
    # evaluate the whole wavefunction at backflow coordinates q_i = x_i + sum_j
    # eta(|d_ij|) s_ij, eta an MLP that starts at zero (eqxnqs.Backflow)
    backflow: bool = False
    # start from the parameters of a saved model (a model.eqx file or a run folder
    # holding one): the same model of any N, or the model inside the backflow
    init_from: str | None = None
    # sampler: eqxnqs's single-particle moves, or NetKet's all-particle Gaussian ones
    sampler: str = "single-particle"
    # the starting step width; adapted before every sampling towards this
    # acceptance (None: the width stays sampler_sigma)
    sampler_sigma: float = 0.3
    target_acceptance: float | None = 0.5
    n_chains: int = 64
    sweep_size: int | None = None
    chain_start: str = "lattice"
    n_samples: int = 2048
    n_discard_per_chain: int = 16
    chunk_size: int | None = None
    # optimisation
    driver: str = "vmc_sr"
    optimizer: str = "sgd"
    learning_rate: float = 0.01
    # the learning rate at the last iteration: it decays geometrically from
    # learning_rate to this (None: constant)
    learning_rate_end: float | None = None
    # SR's diagonal shift (None: 0.01 for the DeepSet, 0.1 for the MPNN, whose SR
    # updates on helium grew without bound at 0.01, and for helium-3d)
    diag_shift: float | None = None
    # the diagonal shift at the last iteration, reached geometrically (None: constant)
    diag_shift_end: float | None = None
    # SR in its sample space (MinSR, NetKet's use_ntk): True, False, or None for
    # NetKet's choice (when the parameters outnumber the samples)
    use_ntk: bool | None = None
    # SPRING's momentum in [0, 1) with use_ntk (None: plain SR or MinSR)
    momentum: float | None = None
    # local energies clipped to median +- this many mean absolute deviations,
    # in the gradient only (None: NetKet's update)
    clip_local_energy: float | None = 5.0
    # trust region: updates scaled to sqrt(dp^T S dp) <= max_norm (None: unbounded;
    # "auto": 100 for the DeepSet, 10 for the MPNN, whose energy on 1D helium jumped
    # from 5.3 to 17 after 70 iterations at 100 and stayed at 5.3 at 10, and for helium-3d)
    max_norm: float | str | None = "auto"
    n_iter: int = 100
    seed: int = 0
    # final estimate: this many fresh samples after the last iteration
    final_samples: int = 65536
    # output
    checkpoint_every: int = 20
    g_r_bins: int = 60
    # g1(r) and n(k): samples used (of the final ones; None: 1024 for the DeepSet,
    # whose displaced particle costs O(N), and n_chains but at least 64 for the MPNN
    # and any backflow, a forward pass each: 4.8 s per sample for the MPNN at N = 30
    # in 2D) and displacements per
    # axis (None: 32 in 1D, 12 in 2D, 8 in 3D)
    g1_samples: int | None = None
    g1_points: int | None = None

    def __post_init__(self):
        def require(condition, message):
            if not condition:
                raise ConfigError(message)

        def positive(name, integer=True):
            value = getattr(self, name)
            ok = isinstance(value, int) if integer else isinstance(value, (int, float))
            require(
                ok and not isinstance(value, bool) and value > 0 and math.isfinite(value),
                f"{name} must be a positive {'integer' if integer else 'number'}; got {value!r}.",
            )

        def choice(name, choices):
            value = getattr(self, name)
            require(
                value in choices, f"unknown {name} {value!r}; choose one of {', '.join(choices)}."
            )

        choice("system", SYSTEMS)
        choice("cell", CELLS)
        choice("potential", tuple(HELIUM_POTENTIALS))
        choice("truncation", TRUNCATIONS)
        if self.cusp_exponent == "auto":
            object.__setattr__(self, "cusp_exponent", SYSTEM_PRESETS[self.system].cusp_exponent)
        for name, value in SYSTEM_PRESETS[self.system].defaults.items():
            # (a triplet factor needs three particles: two atoms keep the pair wavefunction)
            if getattr(self, name) is None and not (name == "three_body" and self.n_particles < 3):
                object.__setattr__(self, name, value)
        require(
            isinstance(self.n_particles, int)
            and not isinstance(self.n_particles, bool)
            and self.n_particles >= 2,
            f"n_particles must be an integer >= 2; got {self.n_particles!r}.",
        )
        if self.density is not None:
            positive("density", integer=False)
        for name in (
            "box_length",
            "sigma",
            "sampler_sigma",
            "learning_rate",
            "v0",
            "input_scale",
            "jastrow_init",
        ):
            positive(name, integer=False)
        if self.cusp_init is not None:
            positive("cusp_init", integer=False)
        require(
            isinstance(self.beta, (int, float)) and math.isfinite(self.beta) and self.beta >= 1,
            f"beta must be a number >= 1; got {self.beta!r}.",
        )
        require(self.dim in (1, 2, 3), f"dim must be 1, 2 or 3; got {self.dim!r}.")
        require(
            self.cell == "square" or self.system == "helium-2d" and self.n_particles % 2 == 0,
            "cell triangular is the 2D shape of an even number of atoms (helium-2d); got "
            f"system {self.system} with n_particles {self.n_particles}.",
        )
        require(
            self.system != "calogero-sutherland" or self.dim == 1,
            f"calogero-sutherland is one-dimensional; got dim {self.dim}.",
        )
        cautious = self.model == "mpnn" or SYSTEM_PRESETS[self.system].cautious_sr
        if self.diag_shift is None:
            object.__setattr__(self, "diag_shift", 0.1 if cautious else 0.01)
        if self.max_norm == "auto":
            auto = (10.0 if cautious else 100.0) if self.driver == "vmc_sr" else None
            object.__setattr__(self, "max_norm", auto)
        require(
            isinstance(self.diag_shift, (int, float))
            and math.isfinite(self.diag_shift)
            and self.diag_shift >= 0,
            f"diag_shift must be >= 0; got {self.diag_shift!r}.",
        )
        for name in (
            "n_chains",
            "n_samples",
            "n_iter",
            "checkpoint_every",
            "g_r_bins",
            "layers_phi",
            "layers_rho",
            "final_samples",
            "mpnn_features",
            "mpnn_layers",
            "mpnn_heads",
        ):
            positive(name)
        require(
            isinstance(self.n_discard_per_chain, int) and self.n_discard_per_chain >= 0,
            f"n_discard_per_chain must be an integer >= 0; got {self.n_discard_per_chain!r}.",
        )
        for name in ("sweep_size", "chunk_size", "cusp_exponent", "g1_points"):
            if getattr(self, name) is not None:
                positive(name)
        for name in ("clip_local_energy", "max_norm"):
            if getattr(self, name) is not None:
                positive(name, integer=False)
        require(
            self.g1_points is None or self.g1_points >= 2,
            f"g1_points must be an integer >= 2 or None; got {self.g1_points!r}.",
        )
        if self.g1_samples is None:
            fast = self.model == "deepset" and not self.backflow
            g1_samples = 1024 if fast else max(64, self.n_chains)
            object.__setattr__(self, "g1_samples", g1_samples)
        positive("g1_samples")
        require(
            self.g1_samples >= self.n_chains,
            f"g1_samples ({self.g1_samples}) must be at least n_chains ({self.n_chains}).",
        )
        require(
            self.target_acceptance is None
            or isinstance(self.target_acceptance, (int, float))
            and not isinstance(self.target_acceptance, bool)
            and 0 < self.target_acceptance < 1,
            f"target_acceptance must be in (0, 1) or None; got {self.target_acceptance!r}.",
        )
        choice("chain_start", START_CHOICES)
        choice("driver", DRIVERS)
        for name in ("learning_rate_end", "diag_shift_end"):
            if getattr(self, name) is not None:
                positive(name, integer=False)
        require(
            self.use_ntk is None or isinstance(self.use_ntk, bool),
            f"use_ntk must be True, False or None; got {self.use_ntk!r}.",
        )
        require(
            self.momentum is None
            or isinstance(self.momentum, (int, float))
            and not isinstance(self.momentum, bool)
            and 0 <= self.momentum < 1,
            f"momentum must be in [0, 1) or None; got {self.momentum!r}.",
        )
        require(
            self.momentum is None or self.use_ntk is True,
            "momentum (SPRING) works in sample space: set use_ntk to true.",
        )
        for name in ("clip_local_energy", "max_norm", "diag_shift_end", "use_ntk", "momentum"):
            require(
                getattr(self, name) is None or self.driver == "vmc_sr",
                f"{name} needs driver vmc_sr; set it to None for vmc.",
            )
        choice("optimizer", OPTIMIZERS)
        choice("sampler", SAMPLERS)
        if self.jastrow is not None:
            choice("jastrow", JASTROWS)
        if self.three_body is None:
            object.__setattr__(self, "three_body", False)
        for name in ("three_body", "backflow"):
            require(
                isinstance(getattr(self, name), bool),
                f"{name} must be True or False; got {getattr(self, name)!r}.",
            )
        require(
            self.init_from is None or isinstance(self.init_from, str) and self.init_from,
            f"init_from must be the path of a saved model or None; got {self.init_from!r}.",
        )
        require(
            not self.three_body or self.n_particles >= 3,
            f"three_body needs at least 3 particles; got n_particles {self.n_particles}.",
        )
        choice("model", MODELS)
        require(
            not (
                self.model == "mpnn"
                and self.jastrow == "mcmillan"
                and self.cusp_exponent is not None
            ),
            "model mpnn already has a McMillan factor (its cusp, exponent cusp_exponent); "
            "drop jastrow mcmillan or set cusp_exponent to None.",
        )
        choice("rho_readout", RHO_READOUTS)
        choice("pooling", tuple(POOLINGS))
        for name in ("activation", "output_activation"):
            value = getattr(self, name)
            if value is None and name == "output_activation":
                continue
            try:
                activation_by_name(value)
            except ValueError:
                raise ConfigError(
                    f"{name} must name a jax.nn function (e.g. gelu, tanh); got {value!r}."
                ) from None
        # The widths are resolved here, once: a single width repeats (rho: then 1).
        for name, layers, resolve in (
            ("features_phi", self.layers_phi, phi_widths),
            ("features_rho", self.layers_rho, rho_widths),
        ):
            widths = getattr(self, name)
            widths = (widths,) if isinstance(widths, int) else tuple(widths)
            try:
                widths = resolve(widths[0] if len(widths) == 1 else widths, layers)
            except (ValueError, IndexError) as error:
                raise ConfigError(str(error) or f"{name} is empty.") from None
            object.__setattr__(self, name, widths)
        require(
            self.n_samples >= self.n_chains,
            f"n_samples ({self.n_samples}) must be at least n_chains ({self.n_chains}).",
        )
        # NetKet would round the sample counts up silently.
        for name in ("n_samples", "final_samples"):
            require(
                getattr(self, name) % self.n_chains == 0,
                f"{name} ({getattr(self, name)}) must be a multiple of n_chains ({self.n_chains}).",
            )

    @property
    def system_settings(self) -> dict:
        """The settings that the chosen system takes (``n_particles`` aside)."""
        return {name: getattr(self, name) for name in SYSTEM_PRESETS[self.system].settings}

    def build_system(self):
        """The `eqxnqs.System` these settings describe."""
        return SYSTEM_PRESETS[self.system].build(self.n_particles, **self.system_settings)

    @classmethod
    def netket_example(cls, **changes) -> "RunConfig":
        """The settings of NetKet's ``Examples/Continuous/Helium.py`` (and ``changes``).

        NetKet's rho layers with a random readout, all-particle Gaussian moves
        (sigma 0.05, 16 chains, sweep 32, 128 discarded) from uniform
        positions, 4096 samples, NetKet's SR update (`NETKET_EXAMPLE`).
        """
        return cls(**{**NETKET_EXAMPLE, **changes})

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_json_file(cls, path: Path) -> "RunConfig":
        data = json.loads(Path(path).read_text())
        for name, allowed in REMOVED.items():
            if name in data and allowed is not None and data[name] != allowed:
                raise ValueError(
                    f"the run used {name}={data[name]!r}, a setting this eqxnqs no longer has"
                )
            data.pop(name, None)
        unknown = sorted(set(data) - {field.name for field in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"settings this eqxnqs does not know: {', '.join(unknown)}")
        for name in ("features_phi", "features_rho"):
            data[name] = tuple(data[name])
        # Settings that eqxnqs 0.1.0 did not write had these values then.
        for name, value in BEFORE_0_2.items():
            data.setdefault(name, value)
        return cls(**data)

    def differences(
        self, other: "RunConfig", ignore=("n_iter", "g1_samples", "g1_points", "g_r_bins")
    ) -> list[str]:
        """Names of the settings in which `other` differs (but `ignore`).

        Settings of other systems than this one's do not count.
        """
        unused = {name for preset in SYSTEM_PRESETS.values() for name in preset.settings}
        unused -= set(self.system_settings)
        mine, theirs = dataclasses.asdict(self), dataclasses.asdict(other)
        return [k for k in mine if k not in ignore and k not in unused and mine[k] != theirs[k]]
