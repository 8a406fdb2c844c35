"""Single-particle sampling of a DeepSet times the triplet factor: move protocol vs forward passes.

    .venv/bin/python benchmarks/triplet_moves.py            # helium, N = 30 in 2D
    .venv/bin/python benchmarks/triplet_moves.py --quick    # N = 6, a smoke run

One `eqxnqs.DeepSetRelDistance` (the command line's helium sizes) times an
`eqxnqs.TripletJastrow` (lambda != 0), and one ``MCState.sample()`` of
``n_samples`` by single-particle moves (``sweep_size = n_dof`` proposals per
sample), with:

- eqxnqs: `eqxnqs.SingleParticleMetropolis`, which moves through the move
  protocol (`moved`: O(N) per proposal for both terms);
- forward passes: NetKet's `MetropolisSampler` with the same rule
  (`eqxnqs.SingleParticleGaussianRule`): a whole forward pass per proposal;
- eqxnqs, DeepSet alone: the same sampler without the triplet term, for scale.

The first two give the same Markov chain (checked: the largest difference
between their samples is printed). Times are the best of several repeats, in
milliseconds per sampling, on whatever machine runs this.
"""

import argparse
import platform

import jax
import netket as nk
import numpy as np
from compare_netket import best_times  # this folder (scripts run from it)

import eqxnqs


def build(n_particles, dim, density):
    system = eqxnqs.helium(n_particles, density, dim=dim)
    deepset = eqxnqs.DeepSetRelDistance.from_hilbert(
        system.hilbert,
        layers_phi=2,
        layers_rho=3,
        features_phi=16,
        features_rho=(16, 16, 1),
        cusp_exponent=5,
        key=jax.random.key(0),
    )
    triplet = eqxnqs.TripletJastrow(system.box, n_particles, strength=-0.5)
    return system, deepset, eqxnqs.SumLogAmplitude(deepset, triplet)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 6, few samples")
    args = parser.parse_args(argv)
    n, n_samples, repeats = (6, 64, 1) if args.quick else (30, 512, 3)
    system, deepset, model = build(n, 2, 0.04344)
    chains = dict(n_chains=16 if args.quick else 64)

    def state(sampler, m):
        return eqxnqs.make_mcstate(
            sampler, m, n_samples=n_samples, n_discard_per_chain=0, seed=0, sampler_seed=1
        )

    routes = {
        "eqxnqs (move protocol)": state(
            eqxnqs.SingleParticleMetropolis(system.hilbert, 0.3, **chains), model
        ),
        "forward pass per move": state(
            nk.sampler.MetropolisSampler(
                system.hilbert, eqxnqs.SingleParticleGaussianRule(0.3), **chains
            ),
            model,
        ),
        "eqxnqs, DeepSet alone": state(
            eqxnqs.SingleParticleMetropolis(system.hilbert, 0.3, **chains), deepset
        ),
    }
    fast, slow = (np.asarray(routes[k].sample()) for k in list(routes)[:2])
    difference = float(np.max(np.abs(fast - slow)))
    times = best_times([vs.sample for vs in routes.values()], repeats)
    print(f"# {platform.processor() or platform.machine()}, {jax.devices()[0].device_kind}")
    print(f"# helium 2D, N = {n}, {n_samples} samples, sweep {2 * n} proposals per sample")
    print(f"{'route':<26} {'ms / sampling':>14}")
    for name, ms in zip(routes, times):
        print(f"{name:<26} {ms:>14.1f}")
    print(f"largest difference between the first two routes' samples: {difference:.1e}")
    return dict(zip(routes, times)), difference


if __name__ == "__main__":
    main()
