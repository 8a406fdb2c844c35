from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


def grad_and_hessian_diagonal(
    fn: Callable[[Array], Array], x: Float[Array, " n"]
) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
    """Gradient and Hessian diagonal of a scalar ``fn`` at ``x``, by brute force.

    Builds the whole Hessian (n forward-over-reverse products), as NetKet's
    `KineticEnergy` does; the fallback for models without a cheaper route.
    """
    grad_fn = jax.grad(fn)
    return grad_fn(x), jnp.diagonal(jax.jacfwd(grad_fn)(x))
