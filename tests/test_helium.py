"""Helium-4 in 2D and 3D: box, truncated Aziz potential, tail correction, references, runs."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import eqxnqs
from eqxnqs._workflow._cli import main
from helpers import random_configurations


@pytest.mark.parametrize("dim", [2, 3])
def test_tail_correction_of_a_dispersion_tail_is_the_closed_form(dim):
    c6, cutoff, density = 1.7, 2.3, 0.4
    tail = eqxnqs.tail_correction(lambda r: -c6 / r**6, cutoff, density, dim)
    # (rho/2) int_rc^inf (-C6/r^6) S_D r^(D-1) dr
    closed = (
        0.5
        * density
        * (-c6)
        * (4 * math.pi / (3 * cutoff**3) if dim == 3 else 2 * math.pi / (4 * cutoff**4))
    )
    assert tail == pytest.approx(closed, rel=1e-10)
    with pytest.raises(ValueError, match="dim 2 or 3"):
        eqxnqs.tail_correction(lambda r: -c6 / r**6, cutoff, density, 1)


@pytest.mark.parametrize(("dim", "n"), [(2, 30), (3, 32)])
def test_helium_box_potential_and_reference(dim, n):
    system = eqxnqs.helium(n, dim=dim)
    density = {2: 0.04344, 3: 0.02186}[dim]
    side_angstrom = system.box[0] * eqxnqs.R_M_ANGSTROM
    assert system.box == (system.box[0],) * dim
    assert n / side_angstrom**dim == pytest.approx(density, rel=1e-12)
    # The reference is the published one, in kelvin, converted to hbar^2/(m r_m^2).
    kelvin = system.reference_energy_per_particle * system.kelvin_per_unit
    assert kelvin == pytest.approx({2: -0.8974, 3: -7.12}[dim], rel=1e-12)
    assert "PRB" in system.reference_source
    # The potential: Aziz between minimum images closer than L/2, zero beyond, plus the tail.
    x = random_configurations(jax.random.key(0), 4, n, system.box)
    box = jnp.asarray(system.box)
    r = jax.vmap(lambda y: eqxnqs.minimum_image_distances(y.reshape(n, dim), box))(x)
    assert np.any(r > system.box[0] / 2)  # some pairs are beyond the cutoff
    want = jnp.sum(jnp.where(r < system.box[0] / 2, eqxnqs.aziz_hfdhe2(r), 0.0), -1)
    want = want + n * system.tail_energy_per_particle
    got = jax.vmap(system.potential)(x)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert system.tail_energy_per_particle < 0  # the attractive tail


def test_bad_helium_settings_are_refused():
    with pytest.raises(ValueError, match="dim must be 2 or 3"):
        eqxnqs.helium(10, dim=1)
    with pytest.raises(ValueError, match="density must be a finite number > 0"):
        eqxnqs.helium(10, -0.02, dim=3)
    with pytest.raises(eqxnqs.ConfigError, match="cusp_init must be a positive number"):
        eqxnqs.RunConfig(system="helium-3d", cusp_init=0.0)
    config = eqxnqs.RunConfig(system="helium-3d")
    assert (config.density, config.cusp_init, config.cusp_exponent) == (0.02186, 1.0, 5)
    assert eqxnqs.RunConfig().density == 0.3  # the ring keeps its own default


def test_helium_3d_run_with_the_mpnn_reports_kelvin_against_the_reference(tmp_path, capsys):
    out = tmp_path / "he3d"
    args = ["run", "helium-3d", "--n-particles", "8", "--model", "mpnn", "--mpnn-features", "4"]
    args += ["--n-samples", "128", "--n-chains", "8", "--n-iter", "3", "--final-samples", "512"]
    args += ["--g1-samples", "64", "--g1-points", "4", "--no-progress", "--out", str(out)]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "reference E/N" in captured.out and "Kalos" in captured.out
    model = eqxnqs.load(out / "model.eqx")
    assert isinstance(model, eqxnqs.SumLogAmplitude)
    assert isinstance(model.terms[0], eqxnqs.McMillanJastrow)
    assert isinstance(model.terms[1], eqxnqs.MPNN)
    results = json.loads((out / "results.json").read_text())
    energy = results["energy_per_particle"]
    assert energy["non_finite_local_energies"] == 0
    assert np.isfinite(energy["mean"]) and energy["error"] > 0
    # a McMillan start at b = 1 r_m is a liquid: E/N within tens of kelvin of the reference
    assert abs(energy["mean"] * eqxnqs.KELVIN_PER_UNIT - (-7.12)) < 30
