import jax
import numpy as np
import pytest

import eqxnqs


@pytest.mark.parametrize("box", [(5.0,), (4.0, 6.0), (3.0, 3.0, 4.0)])
def test_ideal_gas_pair_distribution_is_one(box):
    n_samples, n_particles = 4000, 6
    samples = jax.random.uniform(jax.random.key(0), (n_samples, n_particles, len(box))) * np.array(
        box
    )
    r, g = eqxnqs.pair_distribution(samples.reshape(n_samples, -1), box, n_bins=10)
    assert r.shape == g.shape == (10,)
    # 6e4 pair distances in 10 bins: ~6000 per bin in 1D, fewer in the innermost
    # 3D shells (~0.1% of the volume -> ~60 counts, 13% noise). Check the bins
    # with > 1000 expected counts to 10% and the mean of all to 5%.
    ideal_counts = g * 0 + n_samples * 15 * np.diff(
        np.linspace(0, min(box) / 2, 11) ** len(box)
    ) * ({1: 2.0, 2: np.pi, 3: 4 * np.pi / 3}[len(box)]) / np.prod(box)
    well_sampled = ideal_counts > 1000
    assert well_sampled.sum() >= 5
    np.testing.assert_allclose(g[well_sampled], 1.0, atol=0.1)
    assert abs(np.average(g, weights=ideal_counts) - 1.0) < 0.05


def test_crystal_is_not_ideal():
    """Particles on a lattice: g vanishes at short distance and peaks at the spacing."""
    box = 10.0
    lattice = np.arange(10) + 0.5
    noise = 0.05 * np.asarray(jax.random.normal(jax.random.key(1), (500, 10)))
    r, g = eqxnqs.pair_distribution(lattice + noise, (box,), n_bins=21)  # a bin centred near 1
    assert g[r < 0.5].max() == 0.0
    assert g[np.argmin(abs(r - 1.0))] > 3.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="r_max"):
        eqxnqs.pair_distribution(np.zeros((3, 4)), (2.0,), r_max=5.0)
    with pytest.raises(ValueError, match="2 particles"):
        eqxnqs.pair_distribution(np.zeros((3, 5)), (2.0, 2.0))


def test_helium_units():
    assert eqxnqs.KELVIN_PER_UNIT == pytest.approx(10.8 / 7.846373, rel=1e-12)
    # hbar^2 / (m_He4 k_B r_m^2) from CODATA constants: 1.37644 K.
    hbar, k_b, u = 1.054571817e-34, 1.380649e-23, 1.66053906660e-27
    unit = hbar**2 / (4.002602 * u * k_b * (2.9673e-10) ** 2)
    assert eqxnqs.KELVIN_PER_UNIT == pytest.approx(unit, rel=1e-4)
    system = eqxnqs.helium_1d(10, 0.3)
    assert system.box[0] == pytest.approx(10 / (0.3 * 2.9673))
    # The Aziz potential has its minimum -epsilon at r = r_m = 1.
    assert float(eqxnqs.aziz_hfdhe2(np.array(1.0))) == pytest.approx(-7.846373, rel=2e-3)
