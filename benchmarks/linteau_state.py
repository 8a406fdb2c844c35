"""Linteau et al.'s trained state of 2D helium (N = 30, 0.050 A^-2) evaluated by eqxnqs.

    git clone https://github.com/cqsl/helium4-2d-nqs /path/to/theirs
    .venv/bin/python benchmarks/linteau_state.py --reference /path/to/theirs
    .venv/bin/python benchmarks/linteau_state.py --reference /path/to/theirs --samples 16384

1. Parity: their saved parameters (``figures/energy_vs_density_phase_diagram/
   mpack/N=30/...density=0.050...liquid.mpack``) loaded by
   `eqxnqs.from_linteau` against their own Flax module
   (``canonical_ensemble/trial_wavefunction.py``) on jittered lattice
   configurations. Their ``MPNN.py`` builds its spin labels with
   ``jnp.hstack`` of Python lists, which jax 0.10 refuses; that one line is
   replaced by ``jnp.concatenate`` of arrays when their module is loaded (the
   same values). Nothing of theirs is copied into this repository.
2. Energy: the state sampled and its local energies computed by eqxnqs, on
   the run configuration of ``eqxnqs run helium-2d --n-particles 30 --density
   0.050 --cell triangular --truncation shifted --model edge-mpnn
   --mpnn-features 8 --mpnn-layers 4 --no-three-body --init-from <their .mpack>`` (its
   Hamiltonian: their potential, cell, truncation, shift and tail). Printed
   beside their log's mean of the last 1024 iterations, -0.8032 K per atom,
   and its variance, 0.66 (hbar^2/(m r_m^2))^2 for the system.
"""

import argparse
import importlib
import json
import sys
import time
import types
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import eqxnqs
from eqxnqs._workflow._trust import final_energy, final_sampling
from eqxnqs._workflow._vmc_run import build_driver, build_model

STATE = (
    "figures/energy_vs_density_phase_diagram/mpack/N=30/"
    "he4_N=30_d=2_density=0.050_bt=4_ld=8_nf=8_hd=1_branch=liquid.mpack"
)
REFERENCE_K, REFERENCE_VARIANCE = -0.8032, 0.66
SETTINGS = dict(
    n_particles=30,
    density=0.050,
    cell="triangular",
    truncation="shifted",
    model="edge-mpnn",
    mpnn_features=8,
    mpnn_layers=4,
    three_body=False,
)
_SPIN_LINE = "s = jnp.hstack((self.n_up * [1], self.n_down * [-1]))"
_SPIN_FIX = "s = jnp.concatenate((jnp.ones(self.n_up), -jnp.ones(self.n_down)))"


def their_module(root: Path):
    """Their ``trial_wavefunction`` module, with the one-line fix of the module docstring."""
    source_dir = root / "canonical_ensemble"
    source = (source_dir / "MPNN.py").read_text()
    if _SPIN_LINE not in source:
        raise SystemExit(f"{source_dir / 'MPNN.py'} has changed: no line {_SPIN_LINE!r}.")
    mpnn = types.ModuleType("MPNN")
    exec(compile(source.replace(_SPIN_LINE, _SPIN_FIX), "MPNN.py", "exec"), mpnn.__dict__)
    sys.modules["MPNN"] = mpnn
    sys.path.insert(0, str(source_dir))
    return importlib.import_module("trial_wavefunction")


def parity(root: Path, system, n_configurations: int) -> float:
    """Largest relative difference of log psi, theirs against eqxnqs's."""
    import flax.serialization

    variables = flax.serialization.msgpack_restore((root / STATE).read_bytes())
    theirs = their_module(root).McMillanWithBackflow(
        d=2,
        n_up=system.n_particles,
        n_down=0,
        L=tuple(system.box),
        embedding_dim=8,
        intermediate_dim=8,
        mlp_layers=1,
        attention_dim=8,
        n_features=8,
        n_interactions=4,
        cusp_exponent=5,
    )
    ours = eqxnqs.from_linteau(variables, system.box, system.n_particles)
    x = eqxnqs.lattice_configurations(system.hilbert, jax.random.key(0), n_configurations)
    reference = np.asarray(theirs.apply(variables, x))
    value = np.asarray(jax.vmap(ours)(jnp.asarray(x)))
    return float(np.max(np.abs(value - reference) / np.abs(reference)))


def evaluate(root: Path, n_samples: int, warmup: int, settings: dict) -> dict:
    config = eqxnqs.configure(
        "helium-2d", **{**SETTINGS, **settings, "init_from": str(root / STATE)}
    )
    system = config.build_system()
    driver = build_driver(config, system, build_model(config, system))
    vstate = driver.state
    start = time.perf_counter()
    for _ in range(warmup):  # thermalise the chains and adapt the step from the lattice
        vstate.sample()
    final = final_sampling(system.hamiltonian, vstate, n_samples)
    energy = final_energy(final, system.n_particles)
    kelvin = eqxnqs.KELVIN_PER_UNIT
    return {
        "mean_K": energy.mean * kelvin,
        "error_K": energy.error * kelvin,
        "variance": energy.variance,
        "r_hat": energy.r_hat,
        "tau_corr": energy.tau_corr,
        "n_samples": energy.n_samples,
        "seconds": time.perf_counter() - start,
        "config": config.to_dict(),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference", type=Path, required=True, help="a clone of their repo")
    parser.add_argument("--samples", type=int, default=4096)
    parser.add_argument("--warmup", type=int, default=4, help="sampling calls before")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    settings = {}
    for text in args.set:
        name, _, value = text.partition("=")
        settings[name] = json.loads(value)
    system = eqxnqs.configure("helium-2d", **SETTINGS).build_system()
    worst = parity(args.reference, system, 8)
    print(f"parity with their Flax module, 8 configurations: {worst:.1e} (relative, log psi)")
    row = evaluate(args.reference, args.samples, args.warmup, settings)
    print(
        f"E/N = {row['mean_K']:.5f} +- {row['error_K']:.5f} K (theirs {REFERENCE_K} K), "
        f"variance {row['variance']:.3f} (theirs {REFERENCE_VARIANCE}), R-hat "
        f"{row['r_hat']:.4f}, tau {row['tau_corr']:.2f}, {row['n_samples']} samples, "
        f"{row['seconds']:.0f} s"
    )
    return {"parity": worst, **row}


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
