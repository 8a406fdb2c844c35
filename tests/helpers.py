import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

import eqxnqs


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
