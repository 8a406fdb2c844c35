import jax
import jax.numpy as jnp
import pytest

import eqxnqs

jax.config.update("jax_enable_x64", True)


def random_configurations(key, n_samples, n_particles, box):
    """Uniform positions in the box, shape (n_samples, n_particles * dim)."""
    box = jnp.asarray(box)
    x = jax.random.uniform(key, (n_samples, n_particles, box.size)) * box
    return x.reshape(n_samples, -1)


@pytest.fixture
def small_model():
    return eqxnqs.DeepSetRelDistance(
        (3.0, 4.0),
        4,
        layers_phi=2,
        layers_rho=3,
        features_phi=(8, 6),
        features_rho=(5, 4, 1),
        cusp_exponent=5,
        key=jax.random.key(0),
    )
