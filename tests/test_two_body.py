"""The two-body Jastrow factor: it solves the pair equation, it is C2, its derivatives are exact."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import eqxnqs
from eqxnqs._models._two_body import FIT_START
from eqxnqs._systems._potentials import HELIUM_POTENTIALS
from helpers import random_configurations

BOX_2D = (8.0976, 8.4153)


def _radial(model):
    u = model.profile
    du = jax.grad(u)
    return u, du, jax.grad(du)


@pytest.mark.parametrize("dim, potential", [(2, "hfdhe2"), (3, "hfdhe2"), (2, "hfd-b")])
def test_profile_solves_the_zero_energy_pair_equation(dim, potential):
    model = eqxnqs.TwoBodyJastrow((5.0,) * dim, 4, HELIUM_POTENTIALS[potential])
    u, du, d2u = _radial(model)
    r = jnp.linspace(FIT_START, model.cutoff - model.width, 60)
    residual = jax.vmap(lambda r: d2u(r) + (dim - 1) * du(r) / r + du(r) ** 2)(r)
    # The series' error: 1e-9 of V (2e5 at 0.23 r_m), and 1e-5 where V is about zero.
    np.testing.assert_allclose(residual, HELIUM_POTENTIALS[potential](r), rtol=1e-9, atol=1e-5)
    # psi rises monotonically from contact to the cut-off, where the factor ends.
    slopes = jax.vmap(du)(jnp.linspace(0.01, model.cutoff - 1e-3, 400))
    assert bool(jnp.all(slopes > 0))
    assert float(u(model.cutoff)) == 0.0 and float(u(model.cutoff + 0.5)) == 0.0


@pytest.mark.parametrize("where", ["start of the fit", "cut-off", "start of the switch"])
def test_profile_and_two_derivatives_are_continuous(where):
    model = eqxnqs.TwoBodyJastrow(BOX_2D, 4, eqxnqs.aziz_hfdhe2)
    r0 = {
        "start of the fit": FIT_START,
        "cut-off": model.cutoff,
        "start of the switch": model.cutoff - model.width,
    }[where]
    for f in _radial(model):
        left, right = float(f(r0 - 1e-9)), float(f(r0 + 1e-9))
        # The third derivative is bounded (about 1e4 at 0.2 r_m), so a jump shows above it.
        assert abs(left - right) <= 1e-4 * max(1.0, abs(left)), (where, left, right)


@pytest.mark.parametrize("box", [BOX_2D, (4.0, 4.5, 5.0)])
def test_exact_derivatives_match_autodiff(box):
    n = 6
    model = eqxnqs.TwoBodyJastrow(box, n, eqxnqs.aziz_hfdhe2, power=0.7)
    # Close particles, so that pairs fall inside the cut-off, the switch and the Taylor core.
    x = random_configurations(jax.random.key(3), 8, n, (2.0,) * len(box))
    pair = jnp.concatenate([jnp.zeros(len(box)), jnp.full(len(box), 0.15 / len(box) ** 0.5)])
    x = x.at[0, : 2 * len(box)].set(pair)
    r = eqxnqs.minimum_image_distances(x[0].reshape(n, -1), jnp.asarray(box))
    assert float(jnp.min(r)) < FIT_START
    grad, hessian = jax.jit(jax.vmap(model.grad_and_hessian_diagonal))(x)
    want_grad = jax.jit(jax.vmap(jax.grad(model)))(x)
    want_hessian = jax.jit(jax.vmap(lambda y: jnp.diagonal(jax.hessian(model)(y))))(x)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(hessian, want_hessian, rtol=1e-10, atol=1e-8)
    shifted = x + jnp.tile(jnp.asarray(box), n) * jnp.tile(jnp.arange(len(box)) - 1, n)
    np.testing.assert_allclose(jax.vmap(model)(shifted), jax.vmap(model)(x), rtol=1e-12)


def test_two_body_local_energy_of_a_dimer():
    # Two atoms alone, far from the walls: E_L = V + kinetic, zero inside the fit.
    model = eqxnqs.TwoBodyJastrow((9.0, 9.0), 2, eqxnqs.aziz_hfdhe2)
    for r in (0.55, 0.7, 0.85):
        x = jnp.asarray([4.0, 4.0, 4.0 + r, 4.0])
        grad, hessian = model.grad_and_hessian_diagonal(x)
        kinetic = -0.5 * float(jnp.sum(hessian + grad**2))
        assert kinetic + float(HELIUM_POTENTIALS["hfdhe2"](r)) == pytest.approx(0.0, abs=1e-5)


def test_bad_settings_are_refused(tmp_path):
    pair = eqxnqs.aziz_hfdhe2
    with pytest.raises(ValueError, match="at most half the shortest box side"):
        eqxnqs.TwoBodyJastrow((2.0, 3.0), 3, pair)
    with pytest.raises(ValueError, match="potential must be a function of the distance"):
        eqxnqs.TwoBodyJastrow(BOX_2D, 3, "hfdhe2")
    with pytest.raises(ValueError, match="power must be a positive number"):
        eqxnqs.TwoBodyJastrow(BOX_2D, 3, pair, power=0.0)
    with pytest.raises(ValueError, match="cutoff - width must exceed"):
        eqxnqs.TwoBodyJastrow(BOX_2D, 3, pair, cutoff=0.4, width=0.3)
    with pytest.raises(ValueError, match=r"finite at contact; got V\(0.0001\) = nan"):
        eqxnqs.TwoBodyJastrow(BOX_2D, 3, lambda r: jnp.where(r > 0, jnp.nan, 0.0))
    with pytest.raises(ValueError, match="the two-body equation did not solve"):
        eqxnqs.TwoBodyJastrow(BOX_2D, 3, lambda r: 4.0 * (r**-12 - r**-6))
    soft = eqxnqs.TwoBodyJastrow(BOX_2D, 3, lambda r: 50.0 * jnp.exp(-2 * r**2))
    with pytest.raises(TypeError, match="cannot save a TwoBodyJastrow of <function"):
        eqxnqs.save(tmp_path / "m.eqx", soft)
    assert not (tmp_path / "m.eqx").exists()


def test_saved_with_a_network_and_kept_bare_under_a_backflow(tmp_path):
    box, n = BOX_2D, 4
    network = eqxnqs.DeepSetRelDistance(
        box,
        n,
        layers_phi=1,
        layers_rho=2,
        features_phi=4,
        features_rho=4,
        cusp_exponent=None,
        key=jax.random.key(0),
    )
    model = eqxnqs.SumLogAmplitude(
        eqxnqs.TwoBodyJastrow(box, n, eqxnqs.aziz_hfd_b, power=1.3), network
    )
    eqxnqs.save(tmp_path / "m.eqx", model)
    loaded = eqxnqs.load(tmp_path / "m.eqx")
    x = random_configurations(jax.random.key(2), 3, n, box)
    np.testing.assert_array_equal(jax.vmap(loaded)(x), jax.vmap(model)(x))
    flowed = eqxnqs.with_backflow(model, key=jax.random.key(1))
    assert isinstance(flowed.terms[0], eqxnqs.TwoBodyJastrow)
    np.testing.assert_allclose(jax.vmap(flowed)(x), jax.vmap(model)(x), rtol=1e-12)


def test_run_settings_build_it_in_place_of_the_cusp_or_refuse_in_one_line():
    from eqxnqs._workflow._vmc_run import build_model

    config = eqxnqs.configure(
        "helium-2d", n_particles=30, density=0.050, jastrow="two-body", cusp_exponent=None
    )
    first_phase = config.replace(backflow=False, backflow_start=0)
    factor, network, triplet = build_model(first_phase, config.build_system()).terms
    assert isinstance(factor, eqxnqs.TwoBodyJastrow) and float(factor.power) == pytest.approx(1.0)
    assert network.cusp is None and isinstance(triplet, eqxnqs.TripletJastrow)
    # helium-2d's backflow phase keeps the factor at the bare coordinates.
    bare, flowed = build_model(config, config.build_system()).terms
    assert isinstance(bare, eqxnqs.TwoBodyJastrow) and isinstance(flowed, eqxnqs.Backflow)
    small = config.replace(n_particles=2, three_body=False)
    with pytest.raises(eqxnqs.ConfigError, match=r"^jastrow two-body: cutoff must be at most"):
        build_model(small, small.build_system())
