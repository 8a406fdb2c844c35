import jax
import jax.numpy as jnp


def random_configurations(key, n_samples, n_particles, box):
    """Uniform positions in the box, shape (n_samples, n_particles * dim)."""
    box = jnp.asarray(box)
    x = jax.random.uniform(key, (n_samples, n_particles, box.size)) * box
    return x.reshape(n_samples, -1)
