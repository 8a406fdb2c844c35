"""The pieces behind trustworthy ground states: clipping, lattice starts, the
linear readout, Calogero-Sutherland, and the checks that flag a bad run."""

import dataclasses
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import optax
import pytest

import eqxnqs
from eqxnqs._netket._vmc_sr import fisher_norm
from eqxnqs._workflow._trust import FinalEnergy, assess_run, plateau
from helpers import random_configurations

HELIUM = eqxnqs.helium_1d(n_particles=4, density=0.3)
HYPER = dict(layers_phi=2, layers_rho=2, features_phi=(8, 8), features_rho=(8, 1), cusp_exponent=5)


def _model(**overrides):
    return eqxnqs.DeepSetRelDistance.from_hilbert(
        HELIUM.hilbert, **{**HYPER, **overrides}, key=jax.random.key(0)
    )


def _vstate(model, seed=0):
    sampler = eqxnqs.SingleParticleMetropolis(HELIUM.hilbert, sigma=0.3, n_chains=16)
    return eqxnqs.make_mcstate(
        sampler, model, n_samples=256, n_discard_per_chain=8, seed=seed, sampler_seed=seed + 1
    )


# --- clipping in the gradient only -------------------------------------------


def test_clip_local_energies_by_median_and_mean_absolute_deviation():
    values = jnp.array([1.0, 2.0, 3.0, 4.0, 1000.0])
    median, deviation = 3.0, np.mean(np.abs(np.array([1, 2, 3, 4, 1000.0]) - 3.0))
    clipped = eqxnqs.clip_local_energies(values, 0.5)
    np.testing.assert_allclose(
        clipped, np.clip(values, median - 0.5 * deviation, median + 0.5 * deviation), rtol=1e-15
    )
    assert clipped[-1] < 1000.0 and clipped[0] == 1.0
    # Non-finite values become the median of the finite ones, then everything is clipped.
    with_inf = eqxnqs.clip_local_energies(jnp.array([1.0, 2.0, 3.0, -jnp.inf, jnp.nan]), 10.0)
    np.testing.assert_allclose(with_inf, [1.0, 2.0, 3.0, 2.0, 2.0])


def _run(driver_factory, n_iter=3):
    log = nk.logging.RuntimeLog()
    driver = driver_factory(_vstate(_model()))
    driver.run(n_iter, out=log, show_progress=False)
    return driver, np.real(np.asarray(log.data["Energy"]["Mean"]))


def test_unclipped_driver_retraces_netkets_vmc_sr():
    def ours(vs):
        return eqxnqs.VMC_SR(
            HELIUM.hamiltonian,
            optax.sgd(0.001),
            diag_shift=0.01,
            variational_state=vs,
            clip_local_energy=None,
            max_norm=None,
        )

    def netkets(vs):
        return nk.driver.VMC_SR(
            HELIUM.hamiltonian, optax.sgd(0.001), diag_shift=0.01, variational_state=vs
        )

    (a, ea), (b, eb) = _run(ours), _run(netkets)
    assert np.all(np.isfinite(ea))
    np.testing.assert_allclose(ea, eb, rtol=1e-12)
    for x, y in zip(jax.tree.leaves(a.state.parameters), jax.tree.leaves(b.state.parameters)):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-14)


def test_clipping_changes_the_update_but_never_the_reported_energy():
    vs = _vstate(_model())
    clipped = eqxnqs.VMC_SR(
        HELIUM.hamiltonian,
        optax.sgd(0.01),
        diag_shift=0.01,
        variational_state=vs,
        clip_local_energy=1.0,
        max_norm=None,
    )
    loss, update = clipped.compute_loss_and_update()
    raw = np.asarray(vs.local_estimators(HELIUM.hamiltonian).data)
    assert float(np.real(loss.mean)) == pytest.approx(np.mean(raw), rel=1e-12)
    assert float(loss.variance) == pytest.approx(np.var(raw), rel=1e-10)
    plain = eqxnqs.VMC_SR(
        HELIUM.hamiltonian,
        optax.sgd(0.01),
        diag_shift=0.01,
        variational_state=vs,
        clip_local_energy=None,
        max_norm=None,
    )
    _, unclipped_update = plain.compute_loss_and_update()
    difference = max(
        float(jnp.max(jnp.abs(u - v)))
        for u, v in zip(jax.tree.leaves(update), jax.tree.leaves(unclipped_update))
    )
    assert difference > 1e-6  # width 1 clips this spread of local energies


def test_clipping_driver_logs_non_finite_local_energies():
    driver, energies = _run(
        lambda vs: eqxnqs.VMC_SR(
            HELIUM.hamiltonian, optax.sgd(0.01), diag_shift=0.01, variational_state=vs
        ),
        n_iter=2,
    )
    assert np.all(np.isfinite(energies))
    log = nk.logging.RuntimeLog()
    driver.run(1, out=log, show_progress=False)
    assert np.asarray(log.data["NonFiniteLocalEnergies"]["value"]).tolist() == [0]
    assert np.asarray(log.data["UpdateNorm"]["value"]).shape == (1,)


@pytest.mark.parametrize("name", ["clip_local_energy", "max_norm"])
@pytest.mark.parametrize("value", [0.0, -1.0, float("nan"), float("inf")])
def test_clip_width_and_max_norm_are_validated(name, value):
    with pytest.raises(ValueError, match=f"{name} must be a positive number"):
        eqxnqs.VMC_SR(
            HELIUM.hamiltonian,
            optax.sgd(0.01),
            diag_shift=0.01,
            variational_state=_vstate(_model()),
            **{name: value},
        )


def test_trust_region_bounds_the_change_of_log_psi():
    vs = _vstate(_model())
    free = eqxnqs.VMC_SR(
        HELIUM.hamiltonian, optax.sgd(0.01), diag_shift=0.01, variational_state=vs, max_norm=None
    )
    _, update = free.compute_loss_and_update()
    samples = vs.samples
    norm = float(fisher_norm(vs._apply_fun, vs.parameters, vs.model_state, samples, update))
    # The norm is the spread of the first-order change of log psi, J dp.
    flat = samples.reshape(-1, samples.shape[-1])
    step = 1e-6

    def log_psi_at(t):
        moved = jax.tree.map(lambda p, u: p + t * u, vs.parameters, update)
        return vs._apply_fun({"params": moved}, flat)

    change = (log_psi_at(step) - log_psi_at(-step)) / (2 * step)  # central difference
    assert norm == pytest.approx(float(jnp.std(change)), rel=1e-5)
    bounded = eqxnqs.VMC_SR(
        HELIUM.hamiltonian,
        optax.sgd(0.01),
        diag_shift=0.01,
        variational_state=vs,
        max_norm=norm / 4,
    )
    _, scaled = bounded.compute_loss_and_update()
    for u, v in zip(jax.tree.leaves(scaled), jax.tree.leaves(update)):
        np.testing.assert_allclose(u, v / 4, rtol=1e-10, atol=1e-300)
    assert float(bounded._update_norm) == pytest.approx(norm, rel=1e-10)
    loose = eqxnqs.VMC_SR(
        HELIUM.hamiltonian,
        optax.sgd(0.01),
        diag_shift=0.01,
        variational_state=vs,
        max_norm=norm * 4,
    )
    _, same = loose.compute_loss_and_update()
    for u, v in zip(jax.tree.leaves(same), jax.tree.leaves(update)):
        np.testing.assert_allclose(u, v, rtol=1e-12)


# --- MinSR: the Jacobian built or contracted on the fly ------------------------


def _minsr(vs, **kwargs):
    return eqxnqs.VMC_SR(
        HELIUM.hamiltonian,
        optax.sgd(0.01),
        diag_shift=0.01,
        variational_state=vs,
        use_ntk=True,
        **kwargs,
    )


def test_minsr_builds_the_jacobian_when_it_fits(monkeypatch):
    vs = _vstate(_model())
    assert eqxnqs._netket._vmc_sr.jacobian_bytes(vs) == 8 * 256 * vs.n_parameters
    assert not _minsr(vs).on_the_fly
    assert _minsr(vs, on_the_fly=True).on_the_fly  # an explicit choice is obeyed
    monkeypatch.setattr(eqxnqs._netket._vmc_sr, "JACOBIAN_BYTES", 8 * 256 * vs.n_parameters - 1)
    assert _minsr(vs).on_the_fly
    # NetKet's rule for use_ntk (NTK when the parameters outnumber the samples) is kept.
    few = _vstate(_model(), seed=1)
    few.n_samples = 16
    auto = eqxnqs.VMC_SR(
        HELIUM.hamiltonian, optax.sgd(0.01), diag_shift=0.01, variational_state=few
    )
    assert auto.use_ntk and not auto.on_the_fly
    assert not eqxnqs.VMC_SR(
        HELIUM.hamiltonian, optax.sgd(0.01), diag_shift=0.01, variational_state=vs
    ).use_ntk


def test_minsr_updates_are_the_same_built_or_on_the_fly():
    vs = _vstate(_model())
    built, lazy = (_minsr(vs, on_the_fly=f, momentum=0.9) for f in (False, True))
    for _ in range(2):  # the first is MinSR's (the buffer is zero), the second SPRING's
        (_, a), (_, b) = built.compute_loss_and_update(), lazy.compute_loss_and_update()
        for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
            np.testing.assert_allclose(u, v, rtol=1e-9, atol=1e-13)


def test_a_spring_checkpoint_resumes_with_the_other_jacobian_route():
    from flax import serialization
    from jax.flatten_util import ravel_pytree

    vs = _vstate(_model())
    for saved_flag in (True, False):
        saved = _minsr(vs, on_the_fly=saved_flag, momentum=0.9)
        saved.run(2, show_progress=False)
        state = serialization.to_state_dict(saved)
        restored = serialization.from_state_dict(
            _minsr(_vstate(_model()), on_the_fly=not saved_flag, momentum=0.9), state
        )
        flat = [ravel_pytree(d._old_updates)[0] for d in (saved, restored)]
        assert float(jnp.max(jnp.abs(flat[0]))) > 0
        np.testing.assert_array_equal(flat[0], flat[1])
        assert isinstance(restored._old_updates, (np.ndarray, jax.Array)) == saved_flag
        restored.run(1, show_progress=False)  # and it goes on


# --- chain starts --------------------------------------------------------------


@pytest.mark.parametrize("n, box", [(10, (11.2,)), (8, (4.0, 5.0)), (5, (3.0, 3.0, 3.0))])
def test_lattice_start_keeps_particles_half_a_spacing_apart(n, box):
    hilbert = eqxnqs.periodic_particles(n, box)
    x = eqxnqs.lattice_configurations(hilbert, jax.random.key(0), 200)
    assert x.shape == (200, n * len(box))
    positions = np.asarray(x).reshape(200, n, len(box))
    assert np.all((positions >= 0) & (positions < np.asarray(box)))
    n_side = math.ceil(n ** (1 / len(box)) - 1e-9)
    spacing = np.asarray(box) / n_side
    distances = jax.vmap(eqxnqs.minimum_image_distances, in_axes=(0, None))(
        jnp.asarray(positions), jnp.asarray(box)
    )
    assert float(jnp.min(distances)) >= 0.5 * float(np.min(spacing)) - 1e-12
    # Random: the configurations differ from one another.
    assert np.unique(np.round(positions[:, 0, 0], 6)).size > 100


def test_samplers_start_on_the_lattice_or_uniformly():
    model = _model()
    lattice = eqxnqs.make_mcstate(
        eqxnqs.SingleParticleMetropolis(HELIUM.hilbert, sigma=0.3, n_chains=64), model, n_samples=64
    )
    box = HELIUM.box[0]
    start = np.asarray(lattice.sampler_state.σ).reshape(64, 4, 1)
    gaps = jax.vmap(eqxnqs.minimum_image_distances, in_axes=(0, None))(
        jnp.asarray(start), jnp.asarray([box])
    )
    assert float(jnp.min(gaps)) >= box / 8 - 1e-12
    uniform_rule = eqxnqs.LatticeStartGaussianRule(0.1, start="uniform")
    uniform = nk.sampler.MetropolisSampler(HELIUM.hilbert, uniform_rule, n_chains=64)
    netket = nk.sampler.MetropolisGaussian(HELIUM.hilbert, sigma=0.1, n_chains=64)
    apply_fun, variables = eqxnqs.netket_log_amplitude(model)
    key = jax.random.key(3)
    np.testing.assert_array_equal(
        uniform.init_state(apply_fun, variables, seed=key).σ,
        netket.init_state(apply_fun, variables, seed=key).σ,
    )
    with pytest.raises(ValueError, match="start must be one of"):
        eqxnqs.SingleParticleGaussianRule(0.3, start="grid")


# --- rho's readout ---------------------------------------------------------------


def test_linear_readout_is_a_plain_mlp_on_the_pooled_features():
    model = _model()
    x = random_configurations(jax.random.key(1), 1, 4, HELIUM.box)[0]
    box = HELIUM.box[0]
    positions = x.reshape(4, 1)
    i, j = np.triu_indices(4, 1)
    d = box / 2 * jnp.sin(jnp.pi * (positions[i] - positions[j]) / box)
    # The default input_scale 4: phi sees sin^2(pi x_ij / L) = 4 (d/L)^2.
    features = jax.vmap(model.phi)(jnp.sin(jnp.pi * (positions[i] - positions[j]) / box) ** 2)
    features = features.sum(0)
    (w1, b1), (w2, b2) = [(layer.weight, layer.bias) for layer in model.rho.layers]
    network = (w2 @ jax.nn.gelu(w1 @ features + b1) + b2)[0]
    cusp = -0.5 * model.cusp_strength * jnp.sum(1 / jnp.abs(d) ** 5)
    assert model.rho.widths == (8, 1)
    np.testing.assert_allclose(model(x), network + cusp, rtol=1e-12)


def test_zero_readout_starts_from_the_cusp_term_alone():
    zero = jax.nn.initializers.zeros
    model = _model(readout_init=zero, cusp_exponent=None)
    netket_layout = _model(readout_init=zero, cusp_exponent=None, rho_readout="netket")
    x = random_configurations(jax.random.key(2), 32, 4, HELIUM.box)
    for m in (model, netket_layout):
        assert float(jnp.max(jnp.abs(m.rho.layers[-1].weight))) == 0.0
        values = jax.vmap(m)(x)
        np.testing.assert_allclose(values, values[0], rtol=0, atol=0)
    # A random readout does depend on the configuration.
    values = jax.vmap(_model(cusp_exponent=None))(x)
    assert float(jnp.std(values)) > 0
    # The other layers are still drawn at random.
    assert float(jnp.std(model.rho.layers[0].weight)) > 0.1


def test_rho_readout_is_validated_and_saved(tmp_path):
    with pytest.raises(ValueError, match="rho_readout must be one of"):
        _model(rho_readout="relu")
    for readout in ("linear", "netket"):
        model = _model(rho_readout=readout)
        eqxnqs.save(tmp_path / f"{readout}.eqx", model)
        loaded = eqxnqs.load(tmp_path / f"{readout}.eqx")
        assert loaded.rho_readout == readout and loaded.rho.widths == model.rho.widths
        assert eqxnqs.hyperparameters(loaded)["rho_readout"] == readout


def test_input_scale_scales_the_deepset_input_and_is_saved(tmp_path):
    """input_scale s: the network sees s (d/L)^2; phi(s y) equals a phi with s folded in."""
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="input_scale must be a positive number"):
            _model(input_scale=bad)
    scaled = _model(input_scale=30.0, cusp_exponent=None, readout_init=None)
    unscaled = _model(input_scale=1.0, cusp_exponent=None, readout_init=None)  # same parameters
    folded = eqx.tree_at(
        lambda m: m.phi.layers[0].weight, unscaled, 30.0 * unscaled.phi.layers[0].weight
    )
    x = random_configurations(jax.random.key(3), 1, scaled.n_particles, scaled.box)[0]
    assert float(scaled(x)) == pytest.approx(float(folded(x)), rel=1e-12)
    assert float(scaled(x)) != pytest.approx(float(unscaled(x)), rel=1e-6)
    eqxnqs.save(tmp_path / "scaled.eqx", scaled)
    loaded = eqxnqs.load(tmp_path / "scaled.eqx")
    assert loaded.input_scale == 30.0 and float(loaded(x)) == float(scaled(x))
    with pytest.raises(ValueError, match="input_scale=30.0"):
        eqxnqs.to_flax(_model(**{**eqxnqs.NETKET_LAYOUT, "input_scale": 30.0}))


# --- Calogero-Sutherland ---------------------------------------------------------


def _local_energies(hamiltonian, log_psi, beta, x):
    kernel = jax.jit(hamiltonian._expect_kernel, static_argnums=0)
    return np.asarray(kernel(log_psi, {"params": {"beta": jnp.asarray(beta)}}, x))


@pytest.mark.parametrize("n, length, beta", [(4, 5.0, 2.0), (5, 3.0, 1.5), (3, 7.0, 3.0)])
def test_calogero_sutherland_ground_state_has_zero_variance(n, length, beta):
    """Local energy of prod |sin|^beta equals the exact E0 at every configuration."""
    system = eqxnqs.calogero_sutherland(n, length, beta=beta)
    i, j = np.triu_indices(n, 1)

    def log_psi(variables, x):
        sines = jnp.sin(jnp.pi * (x[..., i] - x[..., j]) / length)
        return variables["params"]["beta"] * jnp.sum(jnp.log(jnp.abs(sines)), axis=-1)

    x = random_configurations(jax.random.key(0), 64, n, (length,))
    exact = eqxnqs.calogero_sutherland_energy(n, length, beta)
    np.testing.assert_allclose(
        _local_energies(system.hamiltonian, log_psi, beta, x), exact, rtol=1e-9
    )
    assert system.reference_energy_per_particle == pytest.approx(exact / n, rel=1e-15)
    # Another exponent is not an eigenstate: its local energy varies.
    wrong = _local_energies(system.hamiltonian, log_psi, beta + 0.3, x)
    assert float(np.std(wrong)) > 1e-3 * abs(exact)


def test_calogero_sutherland_validation_and_energy_formula():
    # beta = 1: free fermions on a ring, sum of the N lowest k^2/2 (N odd).
    n, length = 5, 4.0
    momenta = 2 * np.pi * np.arange(-(n // 2), n // 2 + 1) / length
    assert eqxnqs.calogero_sutherland_energy(n, length, 1.0) == pytest.approx(
        np.sum(momenta**2) / 2, rel=1e-14
    )
    with pytest.raises(ValueError, match="beta must be a finite number >= 1"):
        eqxnqs.calogero_sutherland(4, 5.0, beta=0.5)


# --- the checks on a run ----------------------------------------------------------

GOOD = FinalEnergy(
    mean=5.32,
    error=0.01,
    variance=20.0,
    r_hat=1.01,
    tau_corr=1.0,
    n_samples=4096,
    non_finite_local_energies=0,
)
FLAT = 5.32 + 0.01 * np.sin(np.arange(100))


def test_a_good_run_passes_every_check():
    diagnostics, warnings = assess_run(GOOD, 10, FLAT, 0, 5.31)
    assert warnings == [] and diagnostics["trusted"]
    assert diagnostics["reference_gap"] == pytest.approx(0.01 / 5.31)


@pytest.mark.parametrize(
    "change, trace, reference, message",
    [
        ({"r_hat": 1.2}, FLAT, None, "R-hat = 1.200 > 1.05"),
        ({"non_finite_local_energies": 3}, FLAT, None, "3 local energies were not finite"),
        ({}, np.linspace(7.0, 5.32, 100), None, "has not plateaued"),
        ({"variance": 1e5}, FLAT, None, "varies a lot"),
        ({}, FLAT, 5.5, "below the reference"),
        ({"mean": 6.55}, FLAT, 5.31, "23.35 % above the reference"),
        ({"mean": float("nan")}, FLAT, None, "not finite"),
    ],
)
def test_each_failed_check_is_a_warning(change, trace, reference, message):
    diagnostics, warnings = assess_run(dataclasses.replace(GOOD, **change), 10, trace, 0, reference)
    assert any(message in w for w in warnings), warnings
    assert not diagnostics["trusted"]


def test_plateau_needs_two_windows():
    assert plateau(np.ones(9)) == {"checked": False, "window": 5}
    assert plateau(np.ones(40))["ok"]


@eqx.filter_jit
def _value_and_derivatives(model, x):
    return jax.vmap(model)(x), *jax.vmap(model.grad_and_hessian_diagonal)(x)


@pytest.mark.parametrize("value", [-3.0, 0.5, 12.0])
def test_positive_cusp_is_softplus_and_equals_the_linear_parametrisation(value):
    positive = _model()
    linear = _model(positive_cusp=False)
    assert float(positive.cusp[0]) == pytest.approx(math.log(math.e - 1), rel=1e-14)
    assert float(positive.cusp_strength) == pytest.approx(1.0, rel=1e-14)
    assert linear.cusp_strength == 1.0
    # Any real parameter value is a positive b; the same b gives the same log psi.
    positive = eqx.tree_at(lambda m: m.cusp, positive, jnp.array([value]))
    strength = math.log1p(math.exp(value))
    assert strength > 0 and float(positive.cusp_strength) == pytest.approx(strength, rel=1e-14)
    linear = eqx.tree_at(lambda m: m.cusp, linear, jnp.array([strength]))
    x = random_configurations(jax.random.key(5), 16, 4, HELIUM.box)
    value_p, grad_p, hess_p = _value_and_derivatives(positive, x)
    value_l, grad_l, hess_l = _value_and_derivatives(linear, x)
    np.testing.assert_allclose(value_p, value_l, rtol=1e-12)
    np.testing.assert_allclose(grad_p, grad_l, rtol=1e-12)
    np.testing.assert_allclose(hess_p, hess_l, rtol=1e-12)
    with pytest.raises(ValueError, match="positive initial cusp"):
        _model(params_init=jax.nn.initializers.zeros)
    with pytest.raises(ValueError, match="positive_cusp=False"):
        eqxnqs.to_flax(_model(rho_readout="netket"))


def test_netkets_original_of_the_clipped_update_is_the_one_it_was_copied_from():
    # eqxnqs.VMC_SR._clipped_loss_and_update is NetKet's VMC_SR.compute_loss_and_update
    # with clipped local energies in the gradient. When NetKet's changes, compare the
    # two, carry the change over, and record the new fingerprint here.
    import hashlib
    import inspect

    from netket._src.driver.vmc_sr import VMC_SR as NetKetVMC_SR

    source = inspect.getsource(NetKetVMC_SR.compute_loss_and_update)
    assert hashlib.sha256(source.encode()).hexdigest() == (
        "2eb0683e39055b2061f1bc61ca6531e3986c212c67e0577c2b30ba5eca445deb"
    ), "NetKet's VMC_SR.compute_loss_and_update changed; see this test's comment."
