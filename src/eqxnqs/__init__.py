"""Equinox neural-network quantum states for bosons in periodic continuous space."""

import importlib.metadata as _metadata

from ._versions import check_installed as _check_installed

# Before anything imports NetKet's internals: a clear error for an unsupported version.
_check_installed()

import jax as _jax

# Physics here is computed in float64, as in NetKet (which also enables it).
_jax.config.update("jax_enable_x64", True)

from ._geometry import (
    minimum_image_distances as minimum_image_distances,
)
from ._geometry import (
    periodic_particles as periodic_particles,
)
from ._geometry import (
    sine_pair_displacements as sine_pair_displacements,
)
from ._models._backflow import Backflow as Backflow
from ._models._backflow import with_backflow as with_backflow
from ._models._deepset import DeepSetMLP as DeepSetMLP
from ._models._edge_mpnn import EdgeMPNN as EdgeMPNN
from ._models._jastrow import McMillanJastrow as McMillanJastrow
from ._models._jastrow import PowerLawJastrow as PowerLawJastrow
from ._models._linteau import from_linteau as from_linteau
from ._models._mlp import MLP as MLP
from ._models._mpnn import MPNN as MPNN
from ._models._pairwise import PairwiseLogAmplitude as PairwiseLogAmplitude
from ._models._periodic import PeriodicLogAmplitude as PeriodicLogAmplitude
from ._models._rel_distance import NETKET_LAYOUT as NETKET_LAYOUT
from ._models._rel_distance import DeepSetRelDistance as DeepSetRelDistance
from ._models._sum import SumLogAmplitude as SumLogAmplitude
from ._models._triplet import TripletJastrow as TripletJastrow
from ._netket._adapter import (
    make_mcstate as make_mcstate,
)
from ._netket._adapter import (
    model_from_state as model_from_state,
)
from ._netket._adapter import (
    netket_log_amplitude as netket_log_amplitude,
)
from ._netket._flax_convert import (
    flax_params as flax_params,
)
from ._netket._flax_convert import (
    from_flax as from_flax,
)
from ._netket._flax_convert import (
    load_flax_params as load_flax_params,
)
from ._netket._flax_convert import (
    to_flax as to_flax,
)
from ._netket._kinetic import KineticEnergy as KineticEnergy
from ._netket._log_amplitude import LogAmplitude as LogAmplitude
from ._netket._single_particle_sampler import (
    LatticeStartGaussianRule as LatticeStartGaussianRule,
)
from ._netket._single_particle_sampler import (
    SingleParticleGaussianRule as SingleParticleGaussianRule,
)
from ._netket._single_particle_sampler import (
    SingleParticleMetropolis as SingleParticleMetropolis,
)
from ._netket._single_particle_sampler import (
    lattice_configurations as lattice_configurations,
)
from ._netket._vmc_sr import VMC_SR as VMC_SR
from ._netket._vmc_sr import clip_local_energies as clip_local_energies
from ._observables._energy import energy_split as energy_split
from ._observables._one_body import (
    OneBodyDensityMatrix as OneBodyDensityMatrix,
)
from ._observables._one_body import (
    one_body_density_matrix as one_body_density_matrix,
)
from ._observables._pair_distribution import pair_distribution as pair_distribution
from ._observables._statistics import Estimate as Estimate
from ._observables._structure_factor import (
    StructureFactor as StructureFactor,
)
from ._observables._structure_factor import (
    luttinger_parameter as luttinger_parameter,
)
from ._observables._structure_factor import (
    structure_factor as structure_factor,
)
from ._systems._hamiltonians import (
    System as System,
)
from ._systems._hamiltonians import (
    calogero_sutherland as calogero_sutherland,
)
from ._systems._hamiltonians import (
    calogero_sutherland_energy as calogero_sutherland_energy,
)
from ._systems._hamiltonians import (
    gaussian_bosons as gaussian_bosons,
)
from ._systems._hamiltonians import (
    helium as helium,
)
from ._systems._hamiltonians import (
    helium_1d as helium_1d,
)
from ._systems._hamiltonians import (
    helium_box as helium_box,
)
from ._systems._hamiltonians import (
    pair_energy as pair_energy,
)
from ._systems._hamiltonians import (
    pair_potential as pair_potential,
)
from ._systems._potentials import (
    AZIZ_EPSILON as AZIZ_EPSILON,
)
from ._systems._potentials import (
    HFD_B as HFD_B,
)
from ._systems._potentials import (
    HFDHE2 as HFDHE2,
)
from ._systems._potentials import (
    KELVIN_PER_UNIT as KELVIN_PER_UNIT,
)
from ._systems._potentials import (
    R_M_ANGSTROM as R_M_ANGSTROM,
)
from ._systems._potentials import (
    AzizParameters as AzizParameters,
)
from ._systems._potentials import (
    aziz_hfd_b as aziz_hfd_b,
)
from ._systems._potentials import (
    aziz_hfdhe2 as aziz_hfdhe2,
)
from ._systems._potentials import (
    aziz_potential as aziz_potential,
)
from ._systems._potentials import (
    gaussian_pair as gaussian_pair,
)
from ._systems._potentials import (
    shift_correction as shift_correction,
)
from ._systems._potentials import (
    tail_correction as tail_correction,
)
from ._workflow._checkpoint import RunDivergedError as RunDivergedError
from ._workflow._compilation_cache import (
    enable_compilation_cache as enable_compilation_cache,
)
from ._workflow._configurations import configure as configure
from ._workflow._results import RunResults as RunResults
from ._workflow._run_config import ModelConfig as ModelConfig
from ._workflow._run_config import OptimizerConfig as OptimizerConfig
from ._workflow._run_config import OutputConfig as OutputConfig
from ._workflow._run_config import RunConfig as RunConfig
from ._workflow._run_config import SamplerConfig as SamplerConfig
from ._workflow._serialization import (
    hyperparameters as hyperparameters,
)
from ._workflow._serialization import (
    load as load,
)
from ._workflow._serialization import (
    save as save,
)
from ._workflow._settings import ConfigError as ConfigError
from ._workflow._system_configs import (
    CalogeroSutherlandConfig as CalogeroSutherlandConfig,
)
from ._workflow._system_configs import GaussianBosonsConfig as GaussianBosonsConfig
from ._workflow._system_configs import Helium2DConfig as Helium2DConfig
from ._workflow._system_configs import Helium3DConfig as Helium3DConfig
from ._workflow._system_configs import HeliumRingConfig as HeliumRingConfig
from ._workflow._system_configs import SystemConfig as SystemConfig
from ._workflow._trust import FinalEnergy as FinalEnergy
from ._workflow._vmc_run import RunFolderError as RunFolderError
from ._workflow._vmc_run import energy_per_particle as energy_per_particle
from ._workflow._vmc_run import run_vmc as run_vmc

__version__ = _metadata.version("eqxnqs")
