"""Pair Jastrow factors and sums of log-amplitudes; VMC on Calogero-Sutherland reaches E0."""

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import optax
import pytest

import eqxnqs
from helpers import random_configurations


def _deepset(box, n):
    return eqxnqs.DeepSetRelDistance(
        box,
        n,
        layers_phi=1,
        layers_rho=2,
        features_phi=4,
        features_rho=4,
        cusp_exponent=3,
        key=jax.random.key(0),
    )


@pytest.mark.parametrize("box", [(5.0,), (3.0, 4.0)])
def test_jastrow_values_and_exact_derivatives(box):
    n = 4
    mcmillan = eqxnqs.McMillanJastrow(box, n, exponent=5, b=0.7)
    power = eqxnqs.PowerLawJastrow(box, n, beta=1.7)
    total = eqxnqs.SumLogAmplitude(_deepset(box, n), mcmillan, power)
    x = random_configurations(jax.random.key(1), 5, n, box)
    # the chord distance (L/pi)|sin(pi u/L)|: NetKet's sine displacement times 2/pi
    d = jax.vmap(lambda y: eqxnqs.sine_pair_displacements(y.reshape(n, -1), jnp.asarray(box)))(x)
    r = jnp.linalg.norm(d, axis=-1) * 2 / np.pi
    np.testing.assert_allclose(
        jax.vmap(mcmillan)(x), -0.5 * jnp.sum((0.7 / r) ** 5, -1), rtol=1e-12
    )
    np.testing.assert_allclose(jax.vmap(power)(x), 1.7 * jnp.sum(jnp.log(r), -1), rtol=1e-12)
    np.testing.assert_allclose(
        jax.vmap(total)(x), sum(jax.vmap(term)(x) for term in total.terms), rtol=1e-12
    )
    for model in (mcmillan, power, total):
        grad, hessian = jax.jit(jax.vmap(model.grad_and_hessian_diagonal))(x)
        want_grad = jax.jit(jax.vmap(jax.grad(model)))(x)
        want_hessian = jax.jit(jax.vmap(lambda y, m=model: jnp.diagonal(jax.hessian(m)(y))))(x)
        np.testing.assert_allclose(grad, want_grad, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(hessian, want_hessian, rtol=1e-10, atol=1e-10)


def test_parameters_stay_positive_and_sums_flatten():
    power = eqxnqs.PowerLawJastrow(5.0, 3, beta=2.0)
    assert float(power.power) == pytest.approx(2.0, rel=1e-14)
    assert float(jax.nn.softplus(power.c - 100.0)) > 0
    with pytest.raises(ValueError, match="beta must be a positive number"):
        eqxnqs.PowerLawJastrow(5.0, 3, beta=-1.0)
    with pytest.raises(ValueError, match="exponent must be a positive integer"):
        eqxnqs.McMillanJastrow(5.0, 3, exponent=0)
    mcmillan = eqxnqs.McMillanJastrow(5.0, 3)
    nested = eqxnqs.SumLogAmplitude(eqxnqs.SumLogAmplitude(power, mcmillan), power)
    assert len(nested.terms) == 3
    with pytest.raises(ValueError, match="same box and particle number"):
        eqxnqs.SumLogAmplitude(power, eqxnqs.McMillanJastrow(6.0, 3))
    with pytest.raises(TypeError, match="PeriodicLogAmplitude"):
        eqxnqs.SumLogAmplitude(power, lambda x: 0.0)


def test_sum_round_trips_through_save_load_and_netket(tmp_path):
    box, n = (3.0, 4.0), 4
    model = eqxnqs.SumLogAmplitude(_deepset(box, n), eqxnqs.McMillanJastrow(box, n, b=0.4))
    eqxnqs.save(tmp_path / "m.eqx", model)
    loaded = eqxnqs.load(tmp_path / "m.eqx")
    x = random_configurations(jax.random.key(2), 3, n, box)
    np.testing.assert_array_equal(jax.vmap(loaded)(x), jax.vmap(model)(x))
    sampler = eqxnqs.SingleParticleMetropolis(eqxnqs.periodic_particles(n, box), 0.4, n_chains=4)
    vstate = eqxnqs.make_mcstate(sampler, model, n_samples=32, seed=0)
    assert sorted(vstate.parameters["terms"]) == ["0", "1"]
    back = eqxnqs.model_from_state(vstate)
    np.testing.assert_array_equal(jax.vmap(back)(x), jax.vmap(model)(x))


@pytest.mark.parametrize("n, length, beta", [(6, 6.0, 2.0), (4, 5.0, 3.0), (8, 10.0, 1.5)])
def test_vmc_finds_the_exact_calogero_sutherland_ground_state(n, length, beta):
    """From beta = 1, eqxnqs.VMC_SR with its defaults reaches E0 and zero variance."""
    system = eqxnqs.calogero_sutherland(n, length, beta=beta)
    exact = eqxnqs.calogero_sutherland_energy(n, length, beta)
    sampler = eqxnqs.SingleParticleMetropolis(
        system.hilbert, sigma=0.5, n_chains=16, target_acceptance=0.5
    )
    vstate = eqxnqs.make_mcstate(
        sampler,
        eqxnqs.PowerLawJastrow(length, n, beta=1.0),
        n_samples=256,
        n_discard_per_chain=16,
        seed=0,
    )
    driver = eqxnqs.VMC_SR(
        system.hamiltonian, optax.sgd(0.01), diag_shift=1e-4, variational_state=vstate
    )
    driver.run(80, out=nk.logging.RuntimeLog(), show_progress=False)
    assert float(eqxnqs.model_from_state(vstate).power) == pytest.approx(beta, rel=1e-5)
    vstate.sample()
    local = np.asarray(vstate.local_estimators(system.hamiltonian).data)
    assert abs(local.mean() - exact) / exact < 1e-6
    assert local.std() / exact < 1e-4  # zero-variance principle (1.5 at the start)


def test_the_old_names_of_b_and_beta_still_work_with_a_deprecation_warning():
    mcmillan = eqxnqs.McMillanJastrow((4.0,), 3, b=1.3)
    power = eqxnqs.PowerLawJastrow((4.0,), 3, beta=2.5)
    with pytest.warns(
        DeprecationWarning, match=r"McMillanJastrow.strength .* use McMillanJastrow.length"
    ):
        assert mcmillan.strength == mcmillan.length
    with pytest.warns(
        DeprecationWarning, match=r"PowerLawJastrow.exponent .* use PowerLawJastrow.power"
    ):
        assert power.exponent == power.power
    assert float(mcmillan.length) == pytest.approx(1.3) and float(power.power) == pytest.approx(2.5)
