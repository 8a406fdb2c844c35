"""The settings of a VMC run, checked, with defaults from NetKet's helium example."""

import dataclasses
import json
import math
from pathlib import Path

import jax

from ._features import phi_widths, rho_widths

SYSTEMS = ("helium", "gaussian")
DRIVERS = ("vmc_sr", "vmc")
OPTIMIZERS = ("sgd", "adam")
POOLINGS = ("sum", "mean")
SAMPLERS = ("gaussian", "single-particle")


class ConfigError(ValueError):
    """A run setting is invalid."""


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Every setting of a VMC run. Units: those of the chosen system."""

    system: str = "helium"
    n_particles: int = 10
    # helium-1d: linear density in 1/angstrom
    density: float = 0.3
    # gaussian bosons: box side (every direction), dimension, V0 and sigma
    dim: int = 1
    box_length: float = 4.0
    v0: float = 2.0
    sigma: float = 0.5
    # model (NetKet's helium example: phi (16, 16), rho (16, 16, 1), cusp 5)
    layers_phi: int = 2
    features_phi: tuple[int, ...] = (16, 16)
    layers_rho: int = 3
    features_rho: tuple[int, ...] = (16, 16, 1)
    cusp_exponent: int | None = 5
    activation: str = "gelu"
    output_activation: str | None = None
    pooling: str = "sum"
    use_bias: bool = True
    # sampler: NetKet's all-particle Gaussian moves, or eqxnqs's single-particle ones
    sampler: str = "gaussian"
    sampler_sigma: float = 0.05
    n_chains: int = 16
    sweep_size: int | None = None
    n_samples: int = 4096
    n_discard_per_chain: int = 128
    chunk_size: int | None = None
    # optimisation
    driver: str = "vmc_sr"
    optimizer: str = "sgd"
    learning_rate: float = 0.01
    diag_shift: float = 0.01
    n_iter: int = 300
    seed: int = 0
    # output
    checkpoint_every: int = 20
    g_r_bins: int = 60

    def __post_init__(self):
        def require(condition, message):
            if not condition:
                raise ConfigError(message)

        def positive(name, integer=True):
            value = getattr(self, name)
            ok = isinstance(value, int) if integer else isinstance(value, (int, float))
            require(ok and not isinstance(value, bool) and value > 0 and math.isfinite(value),
                    f"{name.replace('_', '-')} must be a positive "
                    f"{'integer' if integer else 'number'}; got {value!r}.")

        require(self.system in SYSTEMS, f"unknown system {self.system!r}; choose one of {SYSTEMS}.")
        require(isinstance(self.n_particles, int) and self.n_particles >= 2,
                f"n-particles must be an integer >= 2; got {self.n_particles!r}.")
        for name in ("density", "box_length", "sigma", "sampler_sigma", "learning_rate"):
            positive(name, integer=False)
        require(self.diag_shift >= 0, f"diag-shift must be >= 0; got {self.diag_shift}.")
        require(self.dim in (1, 2, 3), f"dim must be 1, 2 or 3; got {self.dim}.")
        for name in ("n_chains", "n_samples", "n_iter", "checkpoint_every", "g_r_bins",
                     "layers_phi", "layers_rho"):
            positive(name)
        require(self.n_discard_per_chain >= 0,
                f"n-discard-per-chain must be >= 0; got {self.n_discard_per_chain}.")
        for name in ("sweep_size", "chunk_size", "cusp_exponent"):
            if getattr(self, name) is not None:
                positive(name)
        require(self.driver in DRIVERS, f"unknown driver {self.driver!r}; choose one of {DRIVERS}.")
        require(self.optimizer in OPTIMIZERS,
                f"unknown optimizer {self.optimizer!r}; choose one of {OPTIMIZERS}.")
        require(self.sampler in SAMPLERS,
                f"unknown sampler {self.sampler!r}; choose one of {SAMPLERS}.")
        require(self.pooling in POOLINGS, f"unknown pooling {self.pooling!r}; choose one of {POOLINGS}.")
        for name in ("activation", "output_activation"):
            value = getattr(self, name)
            require(value is None and name == "output_activation"
                    or isinstance(value, str) and callable(getattr(jax.nn, value, None)),
                    f"{name.replace('_', '-')} must name a jax.nn function (e.g. gelu, tanh); "
                    f"got {value!r}.")
        for widths, layers, check in (
            (self.features_phi, self.layers_phi, phi_widths),
            (self.features_rho, self.layers_rho, rho_widths),
        ):
            try:
                check(widths[0] if len(widths) == 1 else widths, layers)
            except ValueError as error:
                raise ConfigError(str(error).replace("_", "-")) from None
        require(self.n_samples >= self.n_chains,
                f"n-samples ({self.n_samples}) must be at least n-chains ({self.n_chains}).")

    @property
    def spatial_dim(self) -> int:
        return 1 if self.system == "helium" else self.dim

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_json_file(cls, path: Path) -> "RunConfig":
        data = json.loads(Path(path).read_text())
        for name in ("features_phi", "features_rho"):
            data[name] = tuple(data[name])
        return cls(**data)

    def differences(self, other: "RunConfig", ignore=("n_iter",)) -> list[str]:
        """Names of the settings in which `other` differs (but `ignore`)."""
        mine, theirs = dataclasses.asdict(self), dataclasses.asdict(other)
        return [k for k in mine if k not in ignore and mine[k] != theirs[k]]
