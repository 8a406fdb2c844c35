"""Saturated activations: second derivatives the same jitted or not, and exact."""

import equinox as eqx
import jax
import jax.numpy as jnp
import mpmath
import netket as nk
import numpy as np
import pytest
from xla_flags import XLA_DEFAULT, run_in_a_process_of_its_own

import eqxnqs
from eqxnqs._models._activations import (
    activation_derivatives,
    stable,
    stable_gelu,
    stable_tanh,
)
from helpers import random_configurations

# What these tests check depends on XLA's optimisation (JAX's tanh derivative turned into a
# fused multiply-add gave saturated gelu units a second derivative of 1e-3 instead of 0),
# which the rest of the suite turns off to compile faster: they run in a process of their
# own at XLA's default (test_in_a_process_of_its_own).

BOX, N = (3.0, 4.0), 5
#: Every smooth jax.nn activation a run can name.
SMOOTH = ["gelu", "tanh", "sigmoid", "softplus", "silu", "elu", "celu", "selu", "log_sigmoid"]


def _mp_gelu(z):
    y = mpmath.sqrt(2 / mpmath.pi) * (z + mpmath.mpf("0.044715") * z**3)
    return z / (1 + mpmath.exp(-2 * y))  # = z (1 + tanh y) / 2


MPMATH = {"gelu": _mp_gelu, "tanh": mpmath.tanh}


@pytest.mark.parametrize("name", ["gelu", "tanh"])
@pytest.mark.parametrize("z", [-1000.0, -40.0, -3.0, -0.2, 0.7, 5.0])
def test_stable_activations_match_a_high_precision_reference(name, z):
    mpmath.mp.dps = 60
    fn = {"gelu": stable_gelu, "tanh": stable_tanh}[name]
    assert stable(getattr(jax.nn, name)) is fn
    # the forward value is JAX's own, bit for bit
    assert float(fn(jnp.asarray(z))) == float(getattr(jax.nn, name)(jnp.asarray(z)))
    first, second = jax.grad(fn), jax.grad(jax.grad(fn))
    for order, derivative in ((1, first), (2, second)):
        want = float(mpmath.diff(MPMATH[name], mpmath.mpf(z), order))
        # (gelu'' near 5 is a difference of O(1) terms: rounding of 1e-16 is its limit;
        # a saturated unit's error was 1e-3)
        for got in (float(derivative(z)), float(jax.jit(derivative)(z))):
            assert got == pytest.approx(want, rel=1e-12, abs=1e-14)
    # and the Taylor-mode jets' closed forms (value and both derivatives at once; gelu's
    # value is x sigma(2y), within an ulp or two of JAX's tanh form)
    jets = activation_derivatives(fn)
    for order in (0, 1, 2):
        want = float(mpmath.diff(MPMATH[name], mpmath.mpf(z), order))
        for got in (jets(jnp.asarray(z))[order], jax.jit(jets)(jnp.asarray(z))[order]):
            assert float(got) == pytest.approx(want, rel=1e-12, abs=1e-14)


def _saturated_deepset(activation, *, drop_saturated=False):
    """A DeepSet whose rho units 0, 2, 4, 6 sit at pre-activations of about -1e3 (as in a
    badly trained state), optionally with those units' outputs cut off."""
    model = eqxnqs.DeepSetRelDistance(
        BOX, N, layers_phi=2, features_phi=(8, 8), layers_rho=3, features_rho=(8, 8, 1),
        cusp_exponent=5, activation=getattr(jax.nn, activation), key=jax.random.key(0),
    )  # fmt: skip
    saturated = jnp.arange(8) % 2 == 0
    weight = model.rho.layers[0].weight * jnp.where(saturated, 0.1, 300.0)[:, None]
    bias = jnp.where(saturated, -1000.0, 0.0)
    model = eqx.tree_at(
        lambda m: (m.rho.layers[0].weight, m.rho.layers[0].bias), model, (weight, bias)
    )
    if drop_saturated:
        outgoing = model.rho.layers[1].weight * jnp.where(saturated, 0.0, 1.0)[None, :]
        model = eqx.tree_at(lambda m: m.rho.layers[1].weight, model, outgoing)
    return model


def _configurations():
    return random_configurations(jax.random.key(1), 4, N, BOX)


@pytest.mark.parametrize("activation", SMOOTH)
def test_saturated_units_give_the_same_derivatives_jitted_or_not(activation):
    model = _saturated_deepset(activation)
    x = _configurations()
    pre = jax.vmap(
        lambda y: (
            model.rho.layers[0].weight
            @ jnp.sum(jax.vmap(model.pair_terms)(model.pair_displacements(y))[0], 0)
            + model.rho.layers[0].bias
        )
    )(x)
    assert float(jnp.max(pre[:, ::2])) < -900  # the saturated units
    eager = jax.vmap(model.grad_and_hessian_diagonal)(x)
    jitted = jax.jit(jax.vmap(model.grad_and_hessian_diagonal))(x)
    for a, b in zip(eager, jitted):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-10 * float(jnp.max(jnp.abs(a))))


@pytest.mark.parametrize("activation", ["gelu", "tanh"])
def test_saturated_units_have_the_exact_kinetic_energy(activation):
    # A unit at -1e3 outputs exactly 0 (gelu) or -1 (tanh) with zero derivatives: the model
    # without it (its output fixed) has the same exact local kinetic energies.
    model, x = _saturated_deepset(activation), _configurations()
    reference = _saturated_deepset(activation, drop_saturated=True)
    if activation == "tanh":  # the cut units' constant -1 goes into the next bias
        cut = jnp.where(jnp.arange(8) % 2 == 0, 1.0, 0.0)
        shift = -model.rho.layers[1].weight @ cut
        reference = eqx.tree_at(
            lambda m: m.rho.layers[1].bias, reference, reference.rho.layers[1].bias + shift
        )
    np.testing.assert_allclose(jax.vmap(reference)(x), jax.vmap(model)(x), rtol=1e-13)
    hilbert = eqxnqs.periodic_particles(N, BOX)
    apply_fun, variables = eqxnqs.netket_log_amplitude(model)
    ours = jax.jit(eqxnqs.KineticEnergy(hilbert, 1.0)._expect_kernel, static_argnums=0)(
        apply_fun, variables, x
    )
    apply_ref, variables_ref = eqxnqs.netket_log_amplitude(reference)
    # NetKet's Hessian route on the model without the saturated units (nothing to cancel)
    netket_kernel = nk.operator.KineticEnergy(hilbert, 1.0)._expect_kernel
    want = jax.jit(netket_kernel, static_argnums=0)(apply_ref, variables_ref, x)
    np.testing.assert_allclose(ours, want, rtol=1e-10)


run_in_a_process_of_its_own(globals(), XLA_DEFAULT)
