"""eqxnqs against NetKet's Flax DeepSetRelDistance, on the same machine, same run.

    .venv/bin/python benchmarks/compare_netket.py            # the full table (~17 min)
    .venv/bin/python benchmarks/compare_netket.py --quick    # small sizes, a smoke run

Both models hold identical parameters (converted with `eqxnqs.to_flax`) and
see identical samples. For each size it times, taking the best of several
repeats after a warm-up (compilation excluded):

- forward: ``log psi`` of every sample;
- jacobian: the per-sample parameter Jacobian (dense, as SR builds it);
- kinetic: local kinetic energies. "eqxnqs" is `eqxnqs.KineticEnergy` on our
  model, "netket" is `netket.operator.KineticEnergy` on NetKet's model; the
  extra row "kinetic (flax model)" is our operator on NetKet's Flax model;
- sampling: one ``MCState.sample()`` with NetKet's `MetropolisGaussian`
  (all particles move at once; 64 chains, NetKet's default sweep of
  ``n_dof`` proposals per sample): the same sampler, only the model differs;
- expect_and_grad: ``MCState.expect_and_grad`` of kinetic + pair potential;
- VMC_SR iteration: one ``driver.run(1)``: sampling, energy, gradient, SR;
- the last two again with single-particle moves: `eqxnqs.SingleParticleMetropolis`
  for our model (O(N) per proposal) against NetKet's `MetropolisSampler` with
  the same `SingleParticleGaussianRule` (a forward pass per proposal) for
  NetKet's model: the same Markov chain, sample for sample.

Peak memory is XLA's own account of one compiled program (arguments, outputs
and temporaries), for the forward, jacobian and kinetic programs. Times are
wall-clock milliseconds for the stated number of samples.
"""

import argparse
import math
import platform
import time

import jax
import netket as nk
import numpy as np
import optax

import eqxnqs

# NetKet's layout (rho layers, cusp parameter, input (d/L)^2), so that both models are one network.
HYPER = dict(
    layers_phi=2,
    layers_rho=3,
    features_phi=(16, 16),
    features_rho=(16, 16, 1),
    cusp_exponent=5,
    **eqxnqs.NETKET_LAYOUT,
)
FULL = [((10, 1), 1024), ((16, 3), 1024), ((32, 3), 256), ((64, 3), 64)]
QUICK = [((6, 1), 128), ((8, 3), 128)]
#: Untimed VMC_SR iterations before the timed ones (see `measure`).
SR_WARMUP = 3


def best_times(fns, repeats, warmup=1):
    """Best wall time in ms of each ``fn()``: `warmup` calls (compile), then `repeats` calls.

    Each function is timed in its own block: interleaving them would let
    NetKet's multi-GiB Hessians evict our (small) working set between calls.
    """
    best = []
    for fn in fns:
        for _ in range(warmup):
            jax.block_until_ready(fn())
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            jax.block_until_ready(fn())
            times.append(time.perf_counter() - start)
        best.append(1e3 * min(times))
    return best


def peak_mb(jitted, *args):
    memory = jitted.lower(*args).compile().memory_analysis()
    if memory is None:
        return float("nan")
    total = memory.argument_size_in_bytes + memory.output_size_in_bytes + memory.temp_size_in_bytes
    return total / 2**20


def build(n, dim, n_samples, seed=0):
    density = 0.5
    box = (n / density) ** (1 / dim)
    system = eqxnqs.gaussian_bosons(n, (box,) * dim, v0=2.0, sigma=0.5)
    model = eqxnqs.DeepSetRelDistance.from_hilbert(
        system.hilbert, **HYPER, key=jax.random.key(seed)
    )
    flax_model, flax_variables = eqxnqs.to_flax(model)
    x = jax.random.uniform(jax.random.key(seed + 1), (n_samples, n * dim)) * box
    return system, model, flax_model, flax_variables, x


def make_state(system, n_samples, model=None, flax=None, single_particle=False):
    """An MCState of our model (``model``) or NetKet's (``flax``), with 64 chains.

    ``single_particle`` selects single-particle moves: `SingleParticleMetropolis`
    for our model, NetKet's `MetropolisSampler` with the same rule for NetKet's
    model; both then run the same Markov chain.
    """
    options = dict(n_chains=64, sweep_size=system.hilbert.size)
    if not single_particle:
        sampler = nk.sampler.MetropolisGaussian(system.hilbert, sigma=0.1, **options)
    elif model is not None:
        sampler = eqxnqs.SingleParticleMetropolis(system.hilbert, sigma=0.3, **options)
    else:
        sampler = nk.sampler.MetropolisSampler(
            system.hilbert, eqxnqs.SingleParticleGaussianRule(0.3), **options
        )
    kwargs = dict(n_samples=n_samples, n_discard_per_chain=0, seed=0, sampler_seed=1)
    if model is not None:
        return eqxnqs.make_mcstate(sampler, model, **kwargs)
    flax_model, variables = flax
    return nk.vqs.MCState(sampler, flax_model, variables=variables, **kwargs)


def measure(n, dim, n_samples, repeats):
    system, model, flax_model, flax_variables, x = build(n, dim, n_samples)
    ours_vs = make_state(system, n_samples, model=model)
    theirs_vs = make_state(system, n_samples, flax=(flax_model, flax_variables))
    potential = system.hamiltonian.operators[1]
    ours_kinetic = eqxnqs.KineticEnergy(system.hilbert, mass=1.0)
    theirs_kinetic = nk.operator.KineticEnergy(system.hilbert, mass=1.0)
    slow_repeats = 1 if n * dim >= 96 else repeats
    rows = {}

    def both(name, make, reps=repeats, warmup=1):
        rows[name] = best_times([make(ours_vs), make(theirs_vs)], reps, warmup)

    forward = {vs: jax.jit(vs._apply_fun) for vs in (ours_vs, theirs_vs)}
    both("forward", lambda vs: lambda: forward[vs](vs.variables, x))

    def jacobian_fn(vs):
        return jax.jit(
            lambda params, x: nk.jax.jacobian(
                vs._apply_fun, params, x, vs.model_state, mode="real", dense=True, center=True
            )
        )

    jacobian = {vs: jacobian_fn(vs) for vs in (ours_vs, theirs_vs)}
    both("jacobian", lambda vs: lambda: jacobian[vs](vs.parameters, x))

    def kinetic_fn(vs, op):
        return jax.jit(lambda variables, x: op._expect_kernel(vs._apply_fun, variables, x))

    kinetic = {
        ours_vs: kinetic_fn(ours_vs, ours_kinetic),
        theirs_vs: kinetic_fn(theirs_vs, theirs_kinetic),
    }
    both("kinetic", lambda vs: lambda: kinetic[vs](vs.variables, x), slow_repeats)
    flax_fast = kinetic_fn(theirs_vs, ours_kinetic)
    rows["kinetic (flax model)"] = [
        best_times([lambda: flax_fast(theirs_vs.variables, x)], repeats)[0],
        rows["kinetic"][1],
    ]
    ours_local = kinetic[ours_vs](ours_vs.variables, x)
    theirs_local = kinetic[theirs_vs](theirs_vs.variables, x)
    check = np.max(np.abs(ours_local - theirs_local) / np.abs(theirs_local))

    hamiltonians = {ours_vs: ours_kinetic + potential, theirs_vs: theirs_kinetic + potential}
    both("sampling", lambda vs: lambda: vs.sample())
    both(
        "expect_and_grad", lambda vs: lambda: vs.expect_and_grad(hamiltonians[vs])[1], slow_repeats
    )

    def sr_iteration(vs):
        driver = nk.driver.VMC_SR(
            hamiltonians[vs], optax.sgd(1e-3), variational_state=vs, diag_shift=1e-2
        )

        def iteration():
            driver.run(1, out=nk.logging.RuntimeLog(), show_progress=False)
            return vs.parameters

        return iteration

    # A driver's second iteration compiles NetKet's online statistics (once per
    # process, so it would be charged to whichever model runs first), and on a GPU
    # its third was still slow: SR_WARMUP iterations before timing.
    both("VMC_SR iteration", sr_iteration, slow_repeats, SR_WARMUP)

    # The same, with single-particle moves (one Markov chain for both models).
    single = [
        make_state(system, n_samples, model=model, single_particle=True),
        make_state(system, n_samples, flax=(flax_model, flax_variables), single_particle=True),
    ]
    hamiltonians.update(
        {single[0]: ours_kinetic + potential, single[1]: theirs_kinetic + potential}
    )
    rows["sampling, 1-particle moves"] = best_times(
        [lambda vs=vs: vs.sample() for vs in single], repeats
    )
    rows["VMC_SR iteration, 1-particle moves"] = best_times(
        [sr_iteration(vs) for vs in single], slow_repeats, SR_WARMUP
    )

    memory = {
        "forward": [peak_mb(forward[vs], vs.variables, x) for vs in (ours_vs, theirs_vs)],
        "jacobian": [peak_mb(jacobian[vs], vs.parameters, x) for vs in (ours_vs, theirs_vs)],
        "kinetic": [
            peak_mb(kinetic[ours_vs], ours_vs.variables, x),
            peak_mb(kinetic[theirs_vs], theirs_vs.variables, x),
        ],
    }
    return rows, memory, check


def print_table(results):
    header = (
        "| N | D | samples | quantity | eqxnqs ms | NetKet ms | NetKet / eqxnqs "
        "| eqxnqs / forward | eqxnqs MiB | NetKet MiB |"
    )
    print(header)
    print("|---" * 10 + "|")
    for (n, dim, n_samples), (rows, memory, _) in results.items():
        forward_ms = rows["forward"][0]
        for name, (ours, theirs) in rows.items():
            mem = memory.get(name)
            mem_cells = f"{mem[0]:.1f} | {mem[1]:.1f}" if mem else " | "
            print(
                f"| {n} | {dim} | {n_samples} | {name} | {ours:.1f} | {theirs:.1f} "
                f"| {theirs / ours:.2f} | {ours / forward_ms:.1f} | {mem_cells} |"
            )


def print_growth(results):
    """Cost per sample ~ N^p between the smallest and largest 3D sizes."""
    sizes = sorted((k for k in results if k[1] == 3), key=lambda k: k[0])
    if len(sizes) < 2:
        return
    (n0, _, s0), (n1, _, s1) = sizes[0], sizes[-1]
    print(f"\nGrowth of the cost per sample with N (D=3, N={n0} -> {n1}): exponent p in N^p:\n")
    print("| quantity | eqxnqs p | NetKet p |")
    print("|---|---|---|")
    for name in results[sizes[0]][0]:
        exps = []
        for column in (0, 1):
            t0 = results[sizes[0]][0][name][column] / s0
            t1 = results[sizes[-1]][0][name][column] / s1
            exps.append(math.log(t1 / t0) / math.log(n1 / n0))
        print(f"| {name} | {exps[0]:.2f} | {exps[1]:.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only (a smoke run)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(
        f"# {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{jax.device_count()} x {jax.devices()[0].device_kind}, "
        f"jax {jax.__version__}, netket {nk.__version__}, eqxnqs {eqxnqs.__version__}\n"
    )
    results = {}
    for (n, dim), n_samples in QUICK if args.quick else FULL:
        rows, memory, check = measure(n, dim, n_samples, args.repeats)
        results[(n, dim, n_samples)] = (rows, memory, check)
        print(f"# N={n} D={dim}: kinetic max relative difference vs NetKet {check:.1e}", flush=True)
    print()
    print_table(results)
    print_growth(results)


if __name__ == "__main__":
    main()
