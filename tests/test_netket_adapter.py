"""The adapter: named parameters, MCState, drivers, and a VMC run equal to NetKet's."""

import equinox as eqx
import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import optax
import pytest

import eqxnqs

SYSTEM = eqxnqs.helium_1d(n_particles=4, density=0.3)
HYPER = dict(
    layers_phi=2,
    layers_rho=3,
    features_phi=(8, 8),
    features_rho=(8, 8, 1),
    cusp_exponent=5,
    **eqxnqs.NETKET_LAYOUT,
)


def helium_model(seed=0):
    return eqxnqs.DeepSetRelDistance.from_hilbert(SYSTEM.hilbert, **HYPER, key=jax.random.key(seed))


def sampler():
    return nk.sampler.MetropolisGaussian(SYSTEM.hilbert, sigma=0.05, n_chains=16, sweep_size=8)


def lattice_configurations(n_samples, seed=0):
    """Atoms near a lattice with small noise: the region a helium state samples."""
    box = SYSTEM.box[0]
    base = (jnp.arange(4) + 0.5) * box / 4
    noise = 0.1 * jax.random.normal(jax.random.key(seed), (n_samples, 4))
    return base + noise


def test_apply_fun_and_named_variables():
    model = helium_model()
    apply_fun, variables = eqxnqs.netket_log_amplitude(model)
    params = variables["params"]
    assert sorted(params) == ["cusp", "phi", "rho"]
    assert params["rho"]["layers"]["3"]["weight"].shape == (1, 1)
    assert params["phi"]["layers"]["0"]["weight"] is model.phi.layers[0].weight
    x = lattice_configurations(6).reshape(2, 3, 4)
    out = apply_fun(variables, x)
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out.ravel(), jax.vmap(model)(x.reshape(6, 4)), rtol=1e-14)
    with pytest.raises(ValueError, match=r"\(\*batch, 4\); got shape \(3, 5\)"):
        apply_fun(variables, jnp.zeros((3, 5)))


def test_mcstate_round_trip_and_parameter_names():
    model = helium_model()
    vs = eqxnqs.make_mcstate(sampler(), model, n_samples=64, seed=0, sampler_seed=1)
    assert vs.n_parameters == sum(
        leaf.size for leaf in jax.tree.leaves(eqx.filter(model, eqx.is_array))
    )
    np.testing.assert_array_equal(vs.parameters["cusp"], model.cusp)
    # Change the parameters in NetKet, read the changed model back.
    vs.parameters = jax.tree.map(lambda p: 1.5 * p, vs.parameters)
    back = eqxnqs.model_from_state(vs)
    assert isinstance(back, eqxnqs.DeepSetRelDistance)
    np.testing.assert_allclose(back.cusp, 1.5 * model.cusp)
    x = lattice_configurations(8)
    np.testing.assert_allclose(vs.log_value(x), jax.vmap(back)(x), rtol=1e-14)


def test_make_mcstate_checks_the_hilbert_space():
    other = eqxnqs.DeepSetRelDistance((3.0,), 5, **HYPER, key=jax.random.key(0))
    with pytest.raises(ValueError, match="5"):
        eqxnqs.make_mcstate(sampler(), other)
    with pytest.raises(TypeError, match="n_dof"):
        eqxnqs.LogAmplitude(eqx.nn.Linear(2, 1, key=jax.random.key(0)))


def test_model_from_state_refuses_foreign_states():
    flax_model, variables = eqxnqs.to_flax(helium_model())
    vs = nk.vqs.MCState(sampler(), flax_model, variables=variables, n_samples=16)
    with pytest.raises(TypeError, match="not built from an eqxnqs model"):
        eqxnqs.model_from_state(vs)


def _vmc_energies(vstate, driver_cls, n_iter, **driver_kwargs):
    driver = driver_cls(
        SYSTEM.hamiltonian, optax.sgd(0.005), variational_state=vstate, **driver_kwargs
    )
    log = nk.logging.RuntimeLog()
    driver.run(n_iter, out=log, show_progress=False)
    return np.asarray(log.data["Energy"]["Mean"])


@pytest.mark.parametrize(
    "driver_cls, driver_kwargs",
    [(nk.driver.VMC_SR, dict(diag_shift=0.01)), (nk.driver.VMC, dict())],
    ids=["VMC_SR", "VMC"],
)
def test_vmc_run_equals_netket_flax_model(driver_cls, driver_kwargs):
    """Same seeds, same parameters: our adapter and NetKet's model give the same run."""
    model = helium_model(seed=3)
    state_kwargs = dict(
        n_samples=256, n_discard_per_chain=16, seed=0, sampler_seed=4, chunk_size=128
    )
    vs_ours = eqxnqs.make_mcstate(sampler(), model, **state_kwargs)
    flax_model, variables = eqxnqs.to_flax(model)
    vs_flax = nk.vqs.MCState(sampler(), flax_model, variables=variables, **state_kwargs)

    ours = _vmc_energies(vs_ours, driver_cls, 4, **driver_kwargs)
    theirs = _vmc_energies(vs_flax, driver_cls, 4, **driver_kwargs)
    assert np.all(np.isfinite(ours))
    # Identical samples and arithmetic up to float64 round-off in a different
    # parameter ordering; 4 iterations amplify that to ~1e-12 at most.
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    # The parameters after the run agree too.
    trained = eqxnqs.model_from_state(vs_ours)
    x = lattice_configurations(16)
    np.testing.assert_allclose(jax.vmap(trained)(x), vs_flax.log_value(x), rtol=1e-9)


def test_kinetic_energy_through_the_adapter_equals_flax():
    model = helium_model(seed=5)
    x = lattice_configurations(32, seed=2)
    flax_model, variables = eqxnqs.to_flax(model)
    kinetic = nk.operator.KineticEnergy(SYSTEM.hilbert, mass=1.0)
    apply_fun, our_variables = eqxnqs.netket_log_amplitude(model)
    local_kinetic = jax.jit(kinetic._expect_kernel, static_argnums=0)
    ours = local_kinetic(apply_fun, our_variables, x)

    # NetKet's kernel calls the log-amplitude on one configuration at a time,
    # which MCState allows for a Flax model by adding a batch axis.
    def flax_apply(v, xs):
        return flax_model.apply(v, xs[None])[0] if xs.ndim == 1 else flax_model.apply(v, xs)

    theirs = local_kinetic(flax_apply, variables, x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-11)
