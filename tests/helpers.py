import equinox as eqx
import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from jaxtyping import Array, Float

import eqxnqs

#: The model of the smallest helium runs, in the command line's words: 4 atoms, a tiny DeepSet.
TINY_HELIUM = ["--n-particles", "4", "--features-phi", "4", "--layers-rho", "2"]
TINY_HELIUM += ["--features-rho", "4", "1"]


def random_configurations(key, n_samples, n_particles, box):
    """Uniform positions in the box, shape (n_samples, n_particles * dim)."""
    box = jnp.asarray(box)
    x = jax.random.uniform(key, (n_samples, n_particles, box.size)) * box
    return x.reshape(n_samples, -1)


class SineJastrow(eqxnqs.PairwiseLogAmplitude):
    """``beta sum_{i<j} log|sin(pi x_ij / L)|``: the Calogero-Sutherland ground state (1D)."""

    beta: Float[Array, ""]
    box: tuple[float, ...] = eqx.field(static=True)
    n_particles: int = eqx.field(static=True)

    def pair_terms(self, u):
        return jnp.log(jnp.abs(jnp.sin(jnp.pi * u[0] / self.box[0])))

    def readout(self, pair_sum):
        return self.beta * pair_sum


def symmetry_images(positions, box, rng, images):
    """A permutation, a translation and periodic images of ``positions`` (shape ``(n, dim)``):
    configurations on which a periodic bosonic log psi must not change."""
    n, dim = positions.shape
    return [
        positions[rng.permutation(n)],
        positions + rng.uniform(-10, 10, dim),
        positions + np.asarray(images[: n * dim]).reshape(n, dim) * np.asarray(box),
    ]


def assert_kinetic_energy_matches_netket(model, hilbert, masses, x):
    """eqxnqs.KineticEnergy's local values against NetKet's Hessian route, to rounding:
    both are exact, so 1e-10 of the largest local energy."""
    apply_fun, variables = eqxnqs.netket_log_amplitude(model)
    ours = eqxnqs.KineticEnergy(hilbert, mass=masses)
    theirs = nk.operator.KineticEnergy(hilbert, mass=masses)
    want = jax.jit(theirs._expect_kernel, static_argnums=0)(apply_fun, variables, x)
    got = jax.jit(ours._expect_kernel, static_argnums=0)(apply_fun, variables, x)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10 * np.max(np.abs(want)))


def perturbed(model, scale=0.3, seed=7):
    """Every array of ``model`` plus Gaussian noise, so that a zero-started readout is not zero."""
    arrays, static = eqx.partition(model, eqx.is_array)
    leaves, tree = jax.tree.flatten(arrays)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    noisy = [
        leaf + scale * jax.random.normal(k, leaf.shape, leaf.dtype) for k, leaf in zip(keys, leaves)
    ]
    return eqx.combine(jax.tree.unflatten(tree, noisy), static)


def assert_starts_at_zero_in_float64(model, box):
    """A new network's log psi is 0 on random configurations, and every array is float64."""
    x = random_configurations(jax.random.key(1), 3, model.n_particles, box)
    np.testing.assert_array_equal(jax.vmap(model)(x), 0.0)
    assert {leaf.dtype for leaf in jax.tree.leaves(eqx.filter(model, eqx.is_array))} == {
        jnp.dtype("float64")
    }


def symmetry_cases(n_particles, dims=(1, 2, 3)):
    """Hypothesis cases (dim, seed, images) for a test of `symmetry_images`, 30 of them."""

    def decorate(test):
        return settings(max_examples=30, deadline=None)(
            given(
                dim=st.sampled_from(list(dims)),
                seed=st.integers(0, 2**31 - 1),
                images=st.lists(
                    st.integers(-3, 3), min_size=3 * n_particles, max_size=3 * n_particles
                ),
            )(test)
        )

    return decorate


@eqx.filter_jit
def _derivatives(model, x, weights, directions):
    """The model's own routes and jax.hessian's, for a batch of configurations."""

    def one(y):
        hessian = jax.hessian(model)(y)
        return (
            model.grad_and_laplacian(y, weights),
            model.grad_and_directional_laplacian(y, directions),
            (jax.grad(model)(y), jnp.sum(weights * jnp.diag(hessian))),
            jnp.trace(directions.T @ hessian @ directions),
        )

    return jax.vmap(one)(x)


def assert_exact_derivatives(model, x, dim, n):
    """The model's gradient, weighted Laplacian and directional Laplacian against
    jax.hessian's, to 1e-10: every route is exact."""
    weights = jnp.asarray(np.random.default_rng(dim).uniform(0.5, 2.0, n * dim))
    directions = jax.random.normal(jax.random.key(dim), (n * dim, 3))
    (grad, laplacian), (grad_along, curvature), (want_grad, want_laplacian), want_curvature = (
        _derivatives(model, x, weights, directions)
    )
    for got in (grad, grad_along):
        np.testing.assert_allclose(got, want_grad, rtol=1e-10, atol=1e-10 * np.abs(want_grad).max())
    np.testing.assert_allclose(laplacian, want_laplacian, rtol=1e-10)
    np.testing.assert_allclose(curvature, want_curvature, rtol=1e-10)
