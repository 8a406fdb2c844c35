"""A short helium VMC run (eqxnqs sampler, kinetic energy and model), printed as JSON.

test_sharding.py runs it in a subprocess for two devices, and in its own process for one.

Run it with ``NETKET_EXPERIMENTAL_SHARDING=1`` and
``XLA_FLAGS=--xla_force_host_platform_device_count=2`` for two CPU devices.
"""

import json

import jax
import netket as nk
import numpy as np
import optax

import eqxnqs

N_CHAINS, N_SAMPLES = 32, 512


def main() -> dict:
    system = eqxnqs.helium_1d(n_particles=4, density=0.3)
    potential = system.hamiltonian.operators[1]
    kinetic = eqxnqs.KineticEnergy(system.hilbert, mass=1.0)
    hamiltonian = kinetic + potential
    model = eqxnqs.DeepSetRelDistance.from_hilbert(
        system.hilbert,
        layers_phi=2,
        layers_rho=2,
        features_phi=8,
        features_rho=(8, 1),
        cusp_exponent=5,
        key=jax.random.key(0),
    )
    sampler = eqxnqs.SingleParticleMetropolis(system.hilbert, sigma=0.3, n_chains=N_CHAINS)
    vs = eqxnqs.make_mcstate(
        sampler,
        model,
        n_samples=N_SAMPLES,
        n_discard_per_chain=32,
        chunk_size=256,
        seed=0,
        sampler_seed=1,
    )
    # eqxnqs's driver (NetKet's VMC_SR with the clipped gradient and trust region).
    driver = eqxnqs.VMC_SR(hamiltonian, optax.sgd(0.01), variational_state=vs, diag_shift=0.01)
    driver.run(5, out=nk.logging.RuntimeLog(), show_progress=False)

    vs.n_samples = 4 * N_SAMPLES
    vs.sample(n_discard_per_chain=32)
    energy = vs.expect(hamiltonian)
    netket_energy = vs.expect(nk.operator.KineticEnergy(system.hilbert, mass=1.0) + potential)
    samples = vs.samples
    return {
        "devices": jax.device_count(),
        "sample_devices": len(samples.sharding.device_set),
        "energy": float(energy.mean.real),
        "error": float(energy.error_of_mean),
        "netket_energy": float(netket_energy.mean.real),
        "finite": bool(np.all(np.isfinite(np.asarray(samples)))),
    }


if __name__ == "__main__":
    print(json.dumps(main()))
