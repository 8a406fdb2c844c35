"""Local kinetic energy of the message-passing network: eqxnqs, NetKet's Hessian, folx.

    .venv/bin/python benchmarks/mpnn_kinetic.py            # N = 30 in 2D (the issue's size)
    .venv/bin/python benchmarks/mpnn_kinetic.py --quick    # N = 6, a smoke run

One `eqxnqs.MPNN` (default sizes: 16-wide nodes and edges, 2 layers, 2
heads), one set of samples, and the local kinetic energy
``-1/2 (Laplacian + |grad|^2)`` of log psi by:

- eqxnqs: `eqxnqs.KineticEnergy`, which takes `MPNN.grad_and_laplacian`: a
  forward Laplacian written out for this network (its pair-local first
  layer, constant initial nodes, node terms of edge maps multiplied per
  node, and the later layers' attention as contractions), mapped over the
  samples a few at a time with `lax.map` (one at a time on the CPU);
- netket: `netket.operator.KineticEnergy` (the Hessian of each sample);
- folx vmap dense / sparse: ``jax.vmap`` of ``folx.forward_laplacian`` over
  all samples, as the paper's code applies it, with sparsity off (0) and
  with folx's recommended 0.6.

Every route is compiled first; times are the best of several repeats, in
milliseconds for the whole batch, on whatever machine runs this (the table
header says which). The largest difference from NetKet's values is printed
beside each time: all routes are exact, so it is rounding only.
"""

import argparse
import platform

import equinox as eqx
import folx
import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
from compare_netket import best_times  # this folder (scripts run from it)

import eqxnqs


def best_ms(fn, repeats):
    (ms,) = best_times([fn], repeats)
    return ms


def build(n_particles, dim, n_samples, seed=0):
    box = (float(n_particles) ** (1 / dim) * 1.5,) * dim
    model = eqxnqs.MPNN(box, n_particles, key=jax.random.key(seed))
    # A trained network has a non-zero readout; give it one so nothing is trivially zero.
    model = _nonzero_readout(model, jax.random.key(seed + 1))
    hilbert = eqxnqs.periodic_particles(n_particles, box)
    x = jax.random.uniform(jax.random.key(seed + 2), (n_samples, n_particles * dim)) * box[0]
    return model, hilbert, x


def _nonzero_readout(model, key):
    last = model.readout.layers[-1]
    weight = 0.1 * jax.random.normal(key, last.weight.shape)
    return eqx.tree_at(lambda m: m.readout.layers[-1].weight, model, weight)


def folx_route(model, sparsity):
    def local(x):
        result = folx.forward_laplacian(model, sparsity_threshold=sparsity)(x)
        return -0.5 * (result.laplacian + jnp.sum(result.jacobian.dense_array**2))

    return jax.jit(jax.vmap(local))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    n_particles, dim, n_samples, repeats = (6, 2, 16, 2) if args.quick else (30, 2, 64, 3)
    model, hilbert, x = build(n_particles, dim, n_samples)
    apply_fun, variables = eqxnqs.netket_log_amplitude(model)
    ours = eqxnqs.KineticEnergy(hilbert, mass=1.0)
    theirs = nk.operator.KineticEnergy(hilbert, mass=1.0)
    routes = {
        "eqxnqs": jax.jit(lambda v, y: ours._expect_kernel(apply_fun, v, y)),
        "netket (Hessian)": jax.jit(lambda v, y: theirs._expect_kernel(apply_fun, v, y)),
    }
    reference = np.asarray(routes["netket (Hessian)"](variables, x))
    print(
        f"# MPNN local kinetic energy, N = {n_particles}, D = {dim}, {n_samples} samples; "
        f"{platform.processor() or platform.machine()}, {jax.devices()[0].platform}, "
        f"jax {jax.__version__}, folx {getattr(folx, '__version__', '?')}"
    )
    print(f"{'route':<22}{'ms / batch':>12}{'ms / sample':>13}{'max |diff|':>13}")
    rows = []
    for name, fn in routes.items():
        rows.append((name, best_ms(lambda fn=fn: fn(variables, x), repeats), fn(variables, x)))
    # For scale: the DeepSet (NetKet's helium sizes) on the same samples, by its O(N^2) route.
    deepset = eqxnqs.DeepSetRelDistance(
        model.box,
        n_particles,
        layers_phi=2,
        layers_rho=3,
        features_phi=16,
        features_rho=16,
        cusp_exponent=5,
        key=jax.random.key(3),
    )
    d_apply, d_variables = eqxnqs.netket_log_amplitude(deepset)
    d_fn = jax.jit(lambda v, y: ours._expect_kernel(d_apply, v, y))
    deepset_ms = best_ms(lambda: d_fn(d_variables, x), repeats)
    forward = jax.jit(lambda v, y: apply_fun(v, y))
    forward_ms = best_ms(lambda: forward(variables, x), repeats)
    for sparsity in (0, 0.6):
        fn = folx_route(model, sparsity)
        label = f"folx vmap ({'dense' if sparsity == 0 else f'sparse {sparsity}'})"
        rows.append((label, best_ms(lambda fn=fn: fn(x), repeats), fn(x)))
    scale = np.max(np.abs(reference))
    for name, ms, values in rows:
        diff = np.max(np.abs(np.asarray(values) - reference)) / scale
        print(f"{name:<22}{ms:>12.1f}{ms / n_samples:>13.2f}{diff:>13.1e}")
    print("(max |diff|: relative to the largest |local energy|, against NetKet's Hessian)")
    by_name = {name: ms for name, ms, _ in rows}
    best_folx = min(ms for name, ms in by_name.items() if name.startswith("folx"))
    print(
        f"eqxnqs is {best_folx / by_name['eqxnqs']:.2f}x faster than the faster folx route "
        f"and {by_name['netket (Hessian)'] / by_name['eqxnqs']:.2f}x faster than NetKet"
    )
    print(
        f"for scale: the MPNN's forward pass {forward_ms:.1f} ms / batch (each route costs "
        + ", ".join(f"{ms / forward_ms:.0f}" for _, ms, _ in rows)
        + f" forward passes; n_dof = {n_particles * dim}); DeepSetRelDistance's kinetic "
        f"energy by its O(N^2) route, same samples: {deepset_ms:.1f} ms / batch"
    )
    return rows


if __name__ == "__main__":
    main()
