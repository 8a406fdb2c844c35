"""The CPU workarounds of `eqxnqs._xla`: a vectorised sin_cos and computed_once."""

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest

from eqxnqs._xla import computed_once, sin_cos


@pytest.mark.parametrize("bound, ulps", [(4.0, 1), (1e3, 1), (1e5, 2)])
def test_sin_cos_is_within_an_ulp_or_two(bound, ulps):
    x = np.random.default_rng(0).uniform(-bound, bound, 1000)
    if bound == 4.0:  # the reduction's edges, zero and the tiniest numbers
        edges = np.pi / 4 * np.arange(-5, 6)
        x = np.concatenate([x, edges, np.nextafter(edges, 10), [0.0, -0.0, 1e-300, 5e-324]])
    sine, cosine = map(np.asarray, jax.jit(sin_cos)(jnp.asarray(x)))
    mpmath.mp.prec = 200
    for got, exact in [(sine, mpmath.sin), (cosine, mpmath.cos)]:
        want = np.array([float(exact(mpmath.mpf(float(v)))) for v in x])
        error = np.abs(got - want) / np.spacing(np.maximum(np.abs(want), 1e-300))
        assert error.max() <= ulps


def test_computed_once_is_the_identity():
    x = jax.random.normal(jax.random.key(0), (7, 5)) * 1e3
    np.testing.assert_array_equal(jax.jit(computed_once)(x), x)
