"""The energy per particle split into its kinetic and potential parts."""

import jax
import jax.numpy as jnp
import netket as nk

from ._statistics import Estimate, chain_estimate


def energy_split(hamiltonian, vstate, n_particles: int) -> dict[str, Estimate]:
    """Kinetic and potential energy per particle on the current samples of `vstate`.

    `hamiltonian` is a sum of NetKet operators (as every eqxnqs system's is:
    ``KineticEnergy + PotentialEnergy``); its `KineticEnergy` terms make up
    the kinetic part, all others the potential part. Both come from the same
    samples, so their sum is the total energy sample by sample. Returns
    ``{"kinetic": Estimate, "potential": Estimate}`` (scalars, per particle).
    """
    return split_estimates(local_energy_parts(hamiltonian, vstate), n_particles)


def split_estimates(parts, n_particles: int) -> dict[str, Estimate]:
    """Per-particle `Estimate`s of local energy parts (``{name: (n_chains, n_per_chain)}``)."""
    return {kind: chain_estimate(values / n_particles) for kind, values in parts.items()}


def local_energy_parts(hamiltonian, vstate) -> dict[str, jax.Array]:
    """The kinetic and potential local energies of the current samples of `vstate`.

    As `energy_split` splits `hamiltonian`; each part has the samples' shape
    ``(n_chains, n_per_chain)`` (real, whole system; JAX arrays, sharded as the samples).
    """
    terms = getattr(hamiltonian, "operators", (hamiltonian,))
    parts = {"kinetic": [], "potential": []}
    for term in terms:
        kind = "kinetic" if isinstance(term, nk.operator.KineticEnergy) else "potential"
        parts[kind].append(term)
    if not parts["kinetic"]:
        raise ValueError(f"the Hamiltonian {hamiltonian!r} has no KineticEnergy term.")
    local = {
        kind: [jnp.real(vstate.local_estimators(op).data) for op in operators]
        for kind, operators in parts.items()
    }
    zero = jnp.zeros_like(local["kinetic"][0])
    return {kind: sum(values, zero) for kind, values in local.items()}
