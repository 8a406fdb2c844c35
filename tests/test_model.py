"""The Equinox module itself: fields, shapes, transformations, symmetries."""

import equinox as eqx
import jax
import jax.numpy as jnp
import netket.experimental as nkx
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import eqxnqs
from helpers import random_configurations


def test_fields_are_typed_modules(small_model):
    assert isinstance(small_model.phi, eqxnqs.MLP)
    assert isinstance(small_model.rho, eqxnqs.MLP)
    assert small_model.phi.widths == (8, 6)
    assert small_model.rho.widths == (5, 4, 1, 1)
    assert small_model.cusp.shape == (1,)
    assert small_model.box == (3.0, 4.0)
    assert (small_model.n_particles, small_model.dim, small_model.n_dof) == (4, 2, 8)
    leaves = jax.tree.leaves(eqx.filter(small_model, eqx.is_array))
    assert all(leaf.dtype == jnp.float64 for leaf in leaves)
    # The box is static: it must never be a trainable parameter.
    assert not any(leaf.shape == (2,) for leaf in leaves)


def test_no_cusp_parameter_without_cusp_exponent():
    model = eqxnqs.DeepSetRelDistance(
        5.0, 3, layers_phi=1, layers_rho=1, features_phi=4, features_rho=1, key=jax.random.key(0)
    )
    assert model.cusp is None and model.box == (5.0,)


def test_from_hilbert_takes_box_and_particles():
    hilbert = nkx.hilbert.Particle(N=5, geometry=nkx.geometry.Cell(d=3, L=(1.0, 2.0, 3.0)))
    model = eqxnqs.DeepSetRelDistance.from_hilbert(
        hilbert, layers_phi=1, layers_rho=2, features_phi=4, features_rho=4, key=jax.random.key(0)
    )
    assert model.box == (1.0, 2.0, 3.0) and model.n_particles == 5


def test_param_dtype_float32():
    model = eqxnqs.DeepSetRelDistance(
        5.0,
        3,
        layers_phi=1,
        layers_rho=1,
        features_phi=4,
        features_rho=1,
        param_dtype=jnp.float32,
        key=jax.random.key(0),
    )
    assert model.phi.layers[0].weight.dtype == jnp.float32


def test_works_under_filter_jit_and_filter_grad(small_model):
    x = random_configurations(jax.random.key(1), 1, 4, (3.0, 4.0))[0]
    value = eqx.filter_jit(small_model)(x)
    assert value.shape == () and jnp.isfinite(value)
    grads = eqx.filter_jit(eqx.filter_grad(lambda m: m(x)))(small_model)
    assert grads.cusp.shape == (1,)
    # d/db of -1/2 sum b / |d|^k is -1/2 sum 1/|d|^k.
    d = eqxnqs.sine_pair_displacements(x.reshape(4, 2), jnp.array([3.0, 4.0]))
    np.testing.assert_allclose(
        grads.cusp[0], -0.5 * jnp.sum(jnp.linalg.norm(d, axis=-1) ** -5), rtol=1e-12
    )
    # Gradient with respect to the coordinates, one sample at a time:
    assert jax.grad(small_model)(x).shape == (8,)


def test_deepset_mlp_is_permutation_invariant():
    model = eqxnqs.DeepSetMLP(3, features_phi=(6, 4), features_rho=5, key=jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (7, 3))
    np.testing.assert_allclose(model(x[::-1]), model(x), rtol=1e-13)
    assert eqxnqs.DeepSetMLP(3, key=jax.random.key(0)).phi is None


BOXES = {1: (6.0,), 2: (3.0, 4.0), 3: (2.0, 2.5, 3.0)}
MODELS = {
    dim: eqxnqs.DeepSetRelDistance(
        BOXES[dim],
        5,
        layers_phi=2,
        layers_rho=2,
        features_phi=6,
        features_rho=6,
        cusp_exponent=5,
        key=jax.random.key(dim),
    )
    for dim in BOXES
}
EVAL = {dim: eqx.filter_jit(model) for dim, model in MODELS.items()}
# Each symmetry is exact in real arithmetic; in float64 the sin/summation
# round-off of positions of size ~L gives relative changes ~1e-14.
SYM_RTOL = 1e-10

configurations = st.integers(0, 2**31 - 1)


@settings(max_examples=15, deadline=None)
@given(seed=configurations, dim=st.sampled_from([1, 2, 3]), perm_seed=configurations)
def test_permuting_particles_leaves_value_unchanged(seed, dim, perm_seed):
    x = random_configurations(jax.random.key(seed), 1, 5, BOXES[dim])[0].reshape(5, dim)
    perm = jax.random.permutation(jax.random.key(perm_seed), 5)
    np.testing.assert_allclose(EVAL[dim](x[perm].ravel()), EVAL[dim](x.ravel()), rtol=SYM_RTOL)


@settings(max_examples=15, deadline=None)
@given(
    seed=configurations,
    dim=st.sampled_from([1, 2, 3]),
    shift=st.lists(st.floats(-10, 10), min_size=3, max_size=3),
)
def test_global_translation_leaves_value_unchanged(seed, dim, shift):
    x = random_configurations(jax.random.key(seed), 1, 5, BOXES[dim])[0].reshape(5, dim)
    moved = x + jnp.asarray(shift[:dim])
    np.testing.assert_allclose(EVAL[dim](moved.ravel()), EVAL[dim](x.ravel()), rtol=SYM_RTOL)


@settings(max_examples=15, deadline=None)
@given(
    seed=configurations,
    dim=st.sampled_from([1, 2, 3]),
    particle=st.integers(0, 4),
    axis=st.integers(0, 2),
    windings=st.integers(-3, 3),
)
def test_moving_one_particle_by_box_lengths_leaves_value_unchanged(
    seed, dim, particle, axis, windings
):
    axis = axis % dim
    x = random_configurations(jax.random.key(seed), 1, 5, BOXES[dim])[0].reshape(5, dim)
    moved = x.at[particle, axis].add(windings * BOXES[dim][axis])
    np.testing.assert_allclose(EVAL[dim](moved.ravel()), EVAL[dim](x.ravel()), rtol=SYM_RTOL)


def test_symmetry_checks_can_fail():
    """A non-symmetric change (one particle moved by half a box) does change the value."""
    x = random_configurations(jax.random.key(0), 1, 5, BOXES[2])[0].reshape(5, 2)
    moved = x.at[0, 0].add(BOXES[2][0] / 2)
    assert abs(float(EVAL[2](moved.ravel()) - EVAL[2](x.ravel()))) > 1e-6
