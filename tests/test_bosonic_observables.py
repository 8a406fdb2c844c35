"""S(k), the Luttinger parameter, g1(r), n(k), the condensate fraction, the energy split.

Each against a closed form: the ideal gas, the Tonks-Girardeau gas (whose
|psi|^2 is that of free fermions), and a product state whose g1 and n(k) are
Bessel functions.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import pytest
from jaxtyping import Array, Float
from scipy.special import iv

import eqxnqs
from helpers import SineJastrow

SIGMAS = 5.0  # a closed form must lie within 5 standard errors, component by component


def _uniform(shape, box, seed=0):
    """Independent uniform positions, shape (n_chains, n_per_chain, N * D)."""
    n_chains, n_per_chain, n = shape
    x = jax.random.uniform(jax.random.key(seed), (n_chains, n_per_chain, n, len(box)))
    return (x * jnp.asarray(box)).reshape(n_chains, n_per_chain, -1)


def _within(estimate_mean, estimate_error, exact):
    deviation = np.abs(np.asarray(estimate_mean) - exact)
    assert np.all(deviation <= SIGMAS * np.asarray(estimate_error) + 1e-12), (
        estimate_mean,
        estimate_error,
        exact,
    )


@pytest.mark.parametrize("box", [(5.0,), (4.0, 6.0), (3.0, 3.0, 4.0)])
def test_structure_factor_of_an_ideal_gas_is_one(box):
    samples = _uniform((8, 400, 6), box)
    sf = eqxnqs.structure_factor(samples, box)
    assert np.all(np.diff(sf.k) > 0) and sf.k[0] == pytest.approx(2 * np.pi / max(box))
    assert len(sf.k) >= 5 and np.all(sf.error > 0)
    _within(sf.value, sf.error, 1.0)


def test_structure_factor_shells_and_invariances():
    box = (4.0, 6.0)
    sf = eqxnqs.structure_factor(_uniform((2, 50, 5), box), box, k_max=2 * np.pi / 4.0 + 1e-9)
    # |k| = 2 pi/6 (n = (0, 1)), 2 pi/4 (n = (1, 0)) and 2 pi * sqrt(1/16 + 1/36) (n = (1, +-1)).
    np.testing.assert_allclose(sf.k, 2 * np.pi * np.array([1 / 6, 1 / 4]))
    np.testing.assert_array_equal(sf.multiplicity, [1, 1])
    samples = _uniform((2, 50, 5), box, seed=3)
    reference = eqxnqs.structure_factor(samples, box).value
    positions = samples.reshape(2, 50, 5, 2)
    permuted = positions[:, :, ::-1].reshape(2, 50, 10)
    shifted = ((positions + jnp.asarray([1.3, 4.1])) % jnp.asarray(box)).reshape(2, 50, 10)
    for other in (permuted, shifted):
        np.testing.assert_allclose(eqxnqs.structure_factor(other, box).value, reference, rtol=1e-11)


def _tonks_girardeau_samples(n, length, n_samples=8192):
    """Samples of prod |sin(pi x_ij / L)|^2, the free-fermion density (beta = 1)."""
    system = eqxnqs.calogero_sutherland(n, length, beta=1.0)
    model = SineJastrow(jnp.asarray(1.0), (length,), n)
    sampler = eqxnqs.SingleParticleMetropolis(
        system.hilbert, sigma=0.6, n_chains=16, target_acceptance=0.5
    )
    vstate = eqxnqs.make_mcstate(
        sampler, model, n_samples=n_samples, n_discard_per_chain=64, seed=0, sampler_seed=1
    )
    vstate.sample()  # one sampling to adapt the proposal width
    return model, vstate.sample()


def test_tonks_girardeau_structure_factor_luttinger_parameter_and_g1():
    """Free fermions' density: S(2 pi n / L) = min(n, N) / N exactly, K = 1; g1 ~ r^(-1/2)."""
    n, length = 5, 5.0
    model, samples = _tonks_girardeau_samples(n, length)
    sf = eqxnqs.structure_factor(samples, (length,))
    m = np.rint(sf.k * length / (2 * np.pi))
    np.testing.assert_array_equal(m, np.arange(1, 3 * n + 1))
    _within(sf.value, sf.error, np.minimum(m, n) / n)
    assert sf.value[0] < 0.3  # far from the ideal gas's 1: the test can fail
    k = eqxnqs.luttinger_parameter(samples, (length,))
    _within(k.mean, k.error, 1.0)
    assert 0 < k.error < 0.05
    k2 = eqxnqs.luttinger_parameter(samples, (length,), n_fit=2)
    _within(k2.mean, k2.error, 1.0)
    # g1 decays as r^(-1/2): rho_inf / (N sin(pi r / L))^(1/2), rho_inf = 0.92418 (Vaidya and
    # Tracy; on a ring, Forrester et al. 2003), up to finite-N corrections of about 1 %.
    obdm = eqxnqs.one_body_density_matrix(model, samples, n_points=8)
    far = obdm.radius >= length / 4
    r = obdm.radius[far]
    _within(
        obdm.g1_radial.mean[far],
        obdm.g1_radial.error[far],
        0.92418 / np.sqrt(n * np.sin(np.pi * r / length)),
    )


class ProductState(eqx.Module):
    """``log psi = a sum_i cos(2 pi x_i / L)``: independent particles, not a pair sum."""

    a: Float[Array, ""]
    box: tuple[float, ...] = eqx.field(static=True)
    n_particles: int = eqx.field(static=True)

    @property
    def n_dof(self):
        return self.n_particles

    def __call__(self, x):
        return self.a * jnp.sum(jnp.cos(2 * jnp.pi * x / self.box[0]))


def _product_samples(a, n, length, shape, seed=0):
    """Exact i.i.d. samples of |psi|^2 = prod exp(2 a cos(2 pi x / L)), by rejection."""
    rng = np.random.default_rng(seed)
    wanted = int(np.prod(shape)) * n
    draws = rng.uniform(0, length, 4 * wanted)
    keep = rng.uniform(size=draws.size) < np.exp(2 * a * (np.cos(2 * np.pi * draws / length) - 1))
    return jnp.asarray(draws[keep][:wanted].reshape(*shape, n))


def test_one_body_density_matrix_of_a_product_state():
    """g1(r) = I0(2a |cos(pi r / L)|) / I0(2a), n(k_m) / N = I_m(a)^2 / I0(2a)."""
    a, n, length = 0.8, 3, 4.0
    model = ProductState(jnp.asarray(a), (length,), n)
    obdm = eqxnqs.one_body_density_matrix(model, _product_samples(a, n, length, (8, 512)))
    r = obdm.displacements[:, 0]
    np.testing.assert_allclose(r, np.arange(32) * length / 32)
    assert obdm.g1.mean[0] == 1.0 and obdm.g1.error[0] == 0.0
    _within(
        obdm.g1.mean,
        obdm.g1.error,
        iv(0, 2 * a * np.abs(np.cos(np.pi * r / length))) / iv(0, 2 * a),
    )
    m = np.rint(obdm.momenta[:, 0] * length / (2 * np.pi))
    _within(obdm.n_k.mean, obdm.n_k.error, n * iv(m, a) ** 2 / iv(0, 2 * a))
    np.testing.assert_allclose(np.sum(obdm.n_k.mean), n, rtol=1e-12)
    n0 = obdm.condensate_fraction
    _within(n0.mean, n0.error, iv(0, a) ** 2 / iv(0, 2 * a))
    assert abs(n0.mean - 1.0) > 10 * n0.error  # not the ideal gas: the test can fail
    assert obdm.largest_sample_share < 0.01 and obdm.n_samples == 8 * 512
    # The radial average folds r and L - r together.
    np.testing.assert_allclose(obdm.radius, np.arange(17) * length / 32)
    np.testing.assert_allclose(obdm.g1_radial.mean[1], (obdm.g1.mean[1] + obdm.g1.mean[31]) / 2)


def test_ideal_bose_gas_is_fully_condensed():
    """psi = const (a pair sum with beta = 0): g1 = 1 everywhere, n0 = 1, n(k != 0) = 0."""
    box = (3.0, 4.0)

    class Flat(eqxnqs.PairwiseLogAmplitude):
        box: tuple[float, ...] = eqx.field(static=True)
        n_particles: int = eqx.field(static=True)

        def pair_terms(self, u):
            return jnp.sum(u) * 0.0

        def readout(self, pair_sum):
            return pair_sum

    obdm = eqxnqs.one_body_density_matrix(Flat(box, 4), _uniform((2, 8, 4), box), n_points=6)
    assert obdm.displacements.shape == (36, 2)
    np.testing.assert_array_equal(obdm.g1.mean, 1.0)
    np.testing.assert_array_equal(obdm.condensate_fraction.mean, 1.0)
    np.testing.assert_allclose(obdm.n_k.mean, np.where(np.arange(36) == 0, 4.0, 0.0), atol=1e-12)


class Opaque(eqx.Module):
    """Hides a model's pairwise structure: the generic route (whole forward passes)."""

    model: eqx.Module

    @property
    def box(self):
        return self.model.box

    def __call__(self, x):
        return self.model(x)


@pytest.mark.parametrize("box", [(6.0,), (3.0, 4.0)])
def test_pairwise_route_equals_the_generic_route_and_is_invariant(box):
    model = eqxnqs.DeepSetRelDistance(
        box,
        5,
        layers_phi=2,
        layers_rho=2,
        features_phi=6,
        features_rho=4,
        cusp_exponent=3,
        key=jax.random.key(0),
    )
    samples = _uniform((2, 3, 5), box, seed=4)
    models = [model]
    if len(box) == 2:  # (in 1D these uniform samples overlap: g1 is inf there)
        # and a sum of a DeepSet and a triplet factor, each by its own O(N) move
        triplet = eqxnqs.TripletJastrow(box, 5, strength=-1.5, center=1.0, width=0.8)
        models.insert(0, eqxnqs.SumLogAmplitude(model, triplet))
    for m in models:
        fast = eqxnqs.one_body_density_matrix(m, samples, n_points=5)
        slow = eqxnqs.one_body_density_matrix(Opaque(m), samples, n_points=5)
        np.testing.assert_allclose(fast.g1.mean, slow.g1.mean, rtol=1e-10)
        np.testing.assert_allclose(fast.n_k.mean, slow.n_k.mean, rtol=1e-10, atol=1e-12)
    if len(box) == 2:
        with_triplet = eqxnqs.one_body_density_matrix(models[0], samples, n_points=5).g1.mean
        assert np.max(np.abs(with_triplet - fast.g1.mean)) > 1e-3  # the triplet term counts
    permuted = samples.reshape(2, 3, 5, len(box))[:, :, ::-1].reshape(2, 3, -1)
    again = eqxnqs.one_body_density_matrix(model, permuted, n_points=5)
    np.testing.assert_allclose(again.g1.mean, fast.g1.mean, rtol=1e-10)


def test_one_body_density_matrix_bounds_its_memory(monkeypatch):
    # A tiny budget forces one displacement per step: the same numbers.
    from eqxnqs._observables import _one_body

    box = (3.0, 4.0)
    mpnn = eqxnqs.MPNN(box, 4, node_features=4, edge_features=4, key=jax.random.key(0))
    readout = mpnn.readout.layers[-1]
    model = eqx.tree_at(
        lambda m: m.readout.layers[-1].weight, mpnn, 0.5 * jnp.ones_like(readout.weight)
    )
    samples = _uniform((2, 3, 4), box, seed=5)
    whole = eqxnqs.one_body_density_matrix(model, samples, n_points=4)
    monkeypatch.setattr(_one_body, "ELEMENTS_PER_STEP", 1)
    stepped = eqxnqs.one_body_density_matrix(model, samples, n_points=4)
    np.testing.assert_allclose(stepped.g1.mean, whole.g1.mean, rtol=1e-12)
    assert np.ptp(whole.g1.mean) > 1e-3  # psi is not constant


def test_energy_split_adds_up_to_the_energy():
    system = eqxnqs.helium_1d(4, 0.3)
    model = eqxnqs.DeepSetRelDistance.from_hilbert(
        system.hilbert,
        layers_phi=1,
        layers_rho=2,
        features_phi=4,
        features_rho=4,
        cusp_exponent=5,
        key=jax.random.key(0),
    )
    sampler = eqxnqs.SingleParticleMetropolis(system.hilbert, sigma=0.3, n_chains=8)
    vstate = eqxnqs.make_mcstate(sampler, model, n_samples=256, seed=0)
    split = eqxnqs.energy_split(system.hamiltonian, vstate, system.n_particles)
    total = vstate.expect(system.hamiltonian)
    kinetic = vstate.expect(eqxnqs.KineticEnergy(system.hilbert, 1.0))
    assert split["kinetic"].mean + split["potential"].mean == pytest.approx(
        float(np.real(total.mean)) / 4, rel=1e-10
    )
    assert split["kinetic"].mean == pytest.approx(float(np.real(kinetic.mean)) / 4, rel=1e-10)
    assert split["kinetic"].error > 0 and split["potential"].error > 0
    with pytest.raises(ValueError, match="no KineticEnergy"):
        eqxnqs.energy_split(
            nk.operator.PotentialEnergy(system.hilbert, lambda x: 0 * x[0]), vstate, 4
        )


def test_bad_arguments():
    samples = _uniform((2, 4, 3), (5.0,))
    with pytest.raises(ValueError, match="k_max must be a positive number"):
        eqxnqs.structure_factor(samples, (5.0,), k_max=-1.0)
    with pytest.raises(ValueError, match="below the smallest reciprocal vector"):
        eqxnqs.structure_factor(samples, (5.0,), k_max=0.1)
    with pytest.raises(ValueError, match="do not hold >= 2 particles in 2D"):
        eqxnqs.structure_factor(samples, (5.0, 5.0))
    with pytest.raises(ValueError, match="for 1D systems"):
        eqxnqs.luttinger_parameter(_uniform((2, 4, 2), (5.0, 5.0)), (5.0, 5.0))
    model = SineJastrow(jnp.asarray(1.0), (5.0,), 3)
    with pytest.raises(ValueError, match="n_points must be an integer >= 2"):
        eqxnqs.one_body_density_matrix(model, samples, n_points=1)
    with pytest.raises(ValueError, match=r"shape \(n_chains, n_per_chain, 3\)"):
        eqxnqs.one_body_density_matrix(model, jnp.zeros((2, 2, 2, 3)))
