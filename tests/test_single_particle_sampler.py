"""SingleParticleMetropolis: NetKet's Metropolis chain, with O(N) DeepSet updates."""

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import pytest

import eqxnqs

BOX = (3.0, 4.0)
HILBERT = eqxnqs.periodic_particles(5, BOX)


def _model(**overrides):
    hyper = dict(
        layers_phi=2, layers_rho=2, features_phi=(6, 5), features_rho=(4, 1), cusp_exponent=5
    )
    hyper.update(overrides)
    return eqxnqs.DeepSetRelDistance.from_hilbert(HILBERT, **hyper, key=jax.random.key(0))


def _chains(sampler, model, n_samples=96):
    vs = eqxnqs.make_mcstate(
        sampler, model, n_samples=n_samples, n_discard_per_chain=8, seed=0, sampler_seed=3
    )
    return vs, vs.sample()


@pytest.mark.parametrize(
    "overrides, target",
    [({}, None), ({"pooling": "mean", "cusp_exponent": None, "input_scale": 25.0}, 0.5)],
    ids=["sum+cusp", "mean+input-scale+adaptive"],
)
def test_same_chain_as_netkets_sampler_with_the_same_rule(overrides, target):
    """O(N) updates change nothing but the cost: identical samples, same seeds."""
    model = _model(**overrides)
    fast_vs, fast = _chains(
        eqxnqs.SingleParticleMetropolis(HILBERT, sigma=0.4, target_acceptance=target, n_chains=8),
        model,
    )
    reference = nk.sampler.MetropolisSampler(
        HILBERT, eqxnqs.SingleParticleGaussianRule(0.4, target_acceptance=target), n_chains=8
    )
    ref_vs, ref = _chains(reference, model)
    # A flipped accept/reject would move a sample by O(sigma); rounding of
    # the O(N) update (~1e-15) cannot, unless a uniform draw lands within
    # 1e-13 of the acceptance ratio.
    np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-12)
    # Both branches of the Metropolis test must have been taken.
    state = fast_vs.sampler_state
    assert 0 < int(state.n_accepted) < int(state.n_steps)
    np.testing.assert_allclose(fast_vs.sampler_state.acceptance, ref_vs.sampler_state.acceptance)
    # The log-probabilities carried along equal 2 Re log psi of the samples.
    np.testing.assert_allclose(
        fast_vs.sampler_state.log_prob, 2 * fast_vs.log_value(fast_vs.sampler_state.σ), rtol=1e-12
    )
    if target is not None:
        # Later samplings use the adapted width, on both paths alike.
        for _ in range(2):
            np.testing.assert_allclose(fast_vs.sample(), ref_vs.sample(), rtol=0, atol=1e-12)
        width = float(fast_vs.sampler_state.rule_state)
        assert width != 0.4 and width == pytest.approx(float(ref_vs.sampler_state.rule_state))


def test_rule_moves_one_particle_inside_the_box():
    rule = eqxnqs.SingleParticleGaussianRule(sigma=2.0)
    sampler = nk.sampler.MetropolisSampler(HILBERT, rule, n_chains=64)
    r = jax.random.uniform(jax.random.key(0), (64, 10)) * jnp.tile(jnp.asarray(BOX), 5)
    proposal, correction = rule.transition(sampler, None, None, None, jax.random.key(1), r)
    assert correction is None
    moved = jnp.any((proposal != r).reshape(64, 5, 2), axis=-1)
    np.testing.assert_array_equal(moved.sum(axis=1), 1)
    positions = proposal.reshape(64, 5, 2)
    assert jnp.all(positions >= 0) and jnp.all(positions < jnp.asarray(BOX))


def test_samples_the_right_distribution():
    """|psi|^2 = prod_k exp(-2a sin^2(pi x_k / L_k)): compare <sin^2> with quadrature."""
    sampler = eqxnqs.SingleParticleMetropolis(HILBERT, sigma=0.8, n_chains=32)
    _assert_samples_sin2(_sin2_state(sampler, a=0.7), a=0.7)


def _assert_samples_sin2(vs, a):
    """<sin^2(pi x / L)> of fresh samples of `vs` equals quadrature's, within 5 errors."""
    box = jnp.tile(jnp.asarray(BOX), 5)
    samples = vs.sample().reshape(-1, 10)
    values = jnp.mean(jnp.sin(jnp.pi * samples / box) ** 2, axis=-1)
    stats = nk.stats.statistics(values.reshape(vs.sampler.n_chains, -1))
    grid = np.linspace(0.0, 1.0, 20001)[:-1]
    weight = np.exp(-2 * a * np.sin(np.pi * grid) ** 2)
    exact = np.sum(np.sin(np.pi * grid) ** 2 * weight) / np.sum(weight)
    # 5 standard errors (autocorrelation included by NetKet's estimator).
    assert abs(float(stats.mean) - exact) < 5 * float(stats.error_of_mean), (stats, exact)


def _sin2_state(sampler, a, n_samples=8192):
    box = jnp.tile(jnp.asarray(BOX), 5)

    def log_psi(params, x):
        return -params["params"]["a"] * jnp.sum(jnp.sin(jnp.pi * x / box) ** 2, axis=-1)

    return nk.vqs.MCState(
        sampler,
        apply_fun=log_psi,
        variables={"params": {"a": jnp.asarray(a)}},
        n_samples=n_samples,
        n_discard_per_chain=64,
        seed=0,
        sampler_seed=1,
    )


@pytest.mark.parametrize(
    "rule", [eqxnqs.SingleParticleGaussianRule, eqxnqs.LatticeStartGaussianRule]
)
def test_adaptive_width_reaches_the_target_acceptance(rule):
    """From a width 30x too small, the acceptance reaches 0.5 and stays there."""
    sampler = nk.sampler.MetropolisSampler(HILBERT, rule(0.02, target_acceptance=0.5), n_chains=32)
    vs = _sin2_state(sampler, a=6.0, n_samples=1024)
    widths, acceptances = [], []
    for _ in range(20):
        vs.sample()
        widths.append(float(vs.sampler_state.rule_state))
        acceptances.append(float(vs.sampler_state.acceptance))
    assert widths[0] == pytest.approx(0.02)  # the first sampling uses sigma
    assert acceptances[0] > 0.85  # far above the target
    # It grows by at most a factor 2 per sampling, then settles.
    assert np.all(np.diff(widths) <= np.array(widths[:-1]) + 1e-15)
    assert widths[-1] > 0.1
    assert np.all(np.abs(np.array(acceptances[-5:]) - 0.5) < 0.06), acceptances


def test_adaptive_width_of_a_flat_state_stops_at_half_the_box():
    sampler = eqxnqs.SingleParticleMetropolis(HILBERT, sigma=0.3, target_acceptance=0.5, n_chains=8)
    vs = _sin2_state(sampler, a=0.0, n_samples=64)
    for _ in range(12):
        vs.sample()
    assert float(vs.sampler_state.acceptance) == 1.0
    assert float(vs.sampler_state.rule_state) == pytest.approx(0.5 * min(BOX))


def test_adapted_sampler_samples_the_right_distribution():
    """After adaptation the chain still samples |psi|^2 (the width is fixed within a sampling)."""
    a = 0.7
    sampler = eqxnqs.SingleParticleMetropolis(
        HILBERT, sigma=0.05, target_acceptance=0.5, n_chains=32
    )
    vs = _sin2_state(sampler, a=a)
    for _ in range(6):
        vs.sample()
    assert float(vs.sampler_state.rule_state) > 4 * 0.05
    _assert_samples_sin2(vs, a)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="sigma must be a positive"):
        eqxnqs.SingleParticleGaussianRule(sigma=0.0)
    for target in (0.0, 1.0, -0.2, "half"):
        with pytest.raises(ValueError, match="target_acceptance must be None or in"):
            eqxnqs.SingleParticleGaussianRule(0.3, target_acceptance=target)
        with pytest.raises(ValueError, match="target_acceptance must be None or in"):
            eqxnqs.LatticeStartGaussianRule(0.3, target_acceptance=target)
    open_box = nk.experimental.hilbert.Particle(
        N=3, geometry=nk.experimental.geometry.FreeSpace(d=1)
    )
    with pytest.raises(ValueError, match="periodic"):
        eqxnqs.SingleParticleMetropolis(open_box, sigma=0.3)
