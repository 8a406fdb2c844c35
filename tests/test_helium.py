"""Helium-4 in 2D and 3D: box, truncated Aziz potential, tail correction, references, runs."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate

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


@pytest.mark.parametrize(("dim", "n", "potential"), [(2, 30, "hfd-b"), (3, 32, "hfdhe2")])
def test_helium_box_potential_and_reference(dim, n, potential):
    system = eqxnqs.helium(n, dim=dim, potential=potential)
    density = {2: 0.04344, 3: 0.02186}[dim]
    side_angstrom = system.box[0] * eqxnqs.R_M_ANGSTROM
    assert system.box == (system.box[0],) * dim
    assert n / side_angstrom**dim == pytest.approx(density, rel=1e-12)
    # The reference is the published one, in kelvin, converted to hbar^2/(m r_m^2).
    kelvin = system.reference_energy_per_particle * system.kelvin_per_unit
    assert kelvin == pytest.approx({2: -0.8974, 3: -7.12}[dim], rel=1e-12)
    assert "PRB" in system.reference_source
    system = eqxnqs.helium(n, dim=dim)
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


def test_a_reference_belongs_to_its_hamiltonian():
    # The 2D DMC used HFD-B(HE): an HFDHE2 system at that density has no reference.
    assert eqxnqs.helium(30, dim=2).reference_energy_per_particle is None
    # Linteau et al.'s value belongs to their N, cell, potential and truncation only.
    theirs = dict(dim=2, cell="triangular", truncation="shifted")
    kelvin = eqxnqs.helium(30, 0.050, **theirs).reference_energy_per_particle * (
        eqxnqs.KELVIN_PER_UNIT
    )
    assert kelvin == pytest.approx(-0.8032, rel=1e-12)
    assert eqxnqs.helium(56, 0.050, **theirs).reference_energy_per_particle is None
    assert eqxnqs.helium(30, 0.050, dim=2, cell="triangular").reference_energy_per_particle is None


@pytest.mark.parametrize(
    ("n", "sites", "sides"),
    [(30, (5, 3), (8.0976, 8.4153)), (56, (7, 4), None), (80, (8, 5), None), (2, (1, 1), None)],
)
def test_triangular_cell_holds_a_triangular_lattice(n, sites, sides):
    box = eqxnqs.helium(n, 0.050, dim=2, cell="triangular").box
    if sides is not None:  # the cell of Linteau et al. (the L of their data files)
        np.testing.assert_allclose(box, sides, atol=5e-5)
    assert n / (box[0] * box[1] * eqxnqs.R_M_ANGSTROM**2) == pytest.approx(0.050, rel=1e-12)
    # M_x columns of spacing a and M_y rows of height sqrt(3) a: a triangular lattice fits.
    spacing = box[0] / sites[0]
    assert box[1] / sites[1] == pytest.approx(math.sqrt(3) * spacing, rel=1e-12)
    with pytest.raises(ValueError, match="even number of atoms"):
        eqxnqs.helium(31, 0.050, dim=2, cell="triangular")
    with pytest.raises(ValueError, match="even number of atoms"):
        eqxnqs.helium(32, dim=3, cell="triangular")
    with pytest.raises(ValueError, match="unknown cell"):
        eqxnqs.helium(32, dim=3, cell="hexagonal")


def _their_potential(x, box, pair):
    """Linteau et al.'s convention, written out independently with numpy and scipy: minimum
    images, V - V(r_c) for r <= r_c = L_min / 2, plus (N/2) rho pi r_c^2 V(r_c) and the tail
    N rho pi int_{r_c}^inf r V dr (their canonical_ensemble/hamiltonian.py, in 2D)."""
    n, box = x.shape[0] // 2, np.asarray(box)
    positions = x.reshape(n, 2)
    i, j = np.triu_indices(n, 1)
    u = positions[i] - positions[j]
    r = np.linalg.norm(np.remainder(u + box / 2, box) - box / 2, axis=-1)
    cutoff, density = box.min() / 2, n / np.prod(box)
    v_cut = float(pair(np.asarray(cutoff)))
    inside = np.sum(np.where(r <= cutoff, np.asarray(pair(r)) - v_cut, 0.0))
    shift = 0.5 * n * density * math.pi * cutoff**2 * v_cut
    tail = (
        n
        * density
        * math.pi
        * scipy.integrate.quad(
            lambda s: s * float(pair(np.asarray(s))), cutoff, np.inf, epsabs=1e-13, epsrel=1e-12
        )[0]
    )
    return inside + shift + tail


@pytest.mark.parametrize("potential", ["hfdhe2", "hfd-b"])
def test_shifted_truncation_is_the_convention_of_linteau_et_al(potential):
    system = eqxnqs.helium(
        30, 0.050, dim=2, cell="triangular", truncation="shifted", potential=potential
    )
    pair = {"hfdhe2": eqxnqs.aziz_hfdhe2, "hfd-b": eqxnqs.aziz_hfd_b}[potential]
    x = np.asarray(random_configurations(jax.random.key(1), 6, 30, system.box))
    want = [_their_potential(y, system.box, pair) for y in x]
    got = jax.vmap(system.potential)(jnp.asarray(x))
    np.testing.assert_allclose(got, want, rtol=1e-11)
    # The plain truncation differs by the shift of every pair inside r_c and its mean.
    plain = eqxnqs.helium(30, 0.050, dim=2, cell="triangular", potential=potential)
    box = jnp.asarray(system.box)
    r = jax.vmap(lambda y: eqxnqs.minimum_image_distances(y.reshape(30, 2), box))(x)
    cutoff = min(system.box) / 2
    inside = np.sum(np.asarray(r) <= cutoff, axis=1)
    shift = float(pair(np.asarray(cutoff)))
    mean = 30 * eqxnqs.shift_correction(pair, cutoff, 30 / np.prod(system.box), 2)
    difference = jax.vmap(plain.potential)(jnp.asarray(x)) - got
    # (differences of totals of order 1e5 for these random configurations: absolute rounding)
    np.testing.assert_allclose(difference, shift * inside - mean, rtol=0, atol=1e-7)
    assert np.all(np.abs(difference) > 1e-3)


def test_hfd_b_has_its_published_well():
    # HFD-B(HE): depth epsilon = 10.948 K at its own r_m = 2.963 angstrom.
    r = np.linspace(0.95, 1.05, 2001) * 2.963 / eqxnqs.R_M_ANGSTROM
    v = np.asarray(eqxnqs.aziz_hfd_b(r)) * eqxnqs.KELVIN_PER_UNIT
    assert v.min() == pytest.approx(-10.948, rel=1e-4)
    assert r[np.argmin(v)] * eqxnqs.R_M_ANGSTROM == pytest.approx(2.963, rel=1e-3)
    # deeper than HFDHE2 (10.8 K at 2.9673 angstrom)
    assert v.min() < np.min(np.asarray(eqxnqs.aziz_hfdhe2(r)) * eqxnqs.KELVIN_PER_UNIT)


def test_bad_helium_settings_are_refused():
    with pytest.raises(ValueError, match="dim must be 2 or 3"):
        eqxnqs.helium(10, dim=1)
    with pytest.raises(ValueError, match="density must be a finite number > 0"):
        eqxnqs.helium(10, -0.02, dim=3)
    with pytest.raises(eqxnqs.ConfigError, match="cusp_init must be a positive number"):
        eqxnqs.configure("helium-3d", cusp_init=0.0)
    config = eqxnqs.configure("helium-3d")
    assert (config.system.density, config.model.cusp_init, config.model.cusp_exponent) == (
        0.02186,
        1.0,
        5,
    )
    assert eqxnqs.RunConfig().system.density == 0.3  # the ring keeps its own default


def test_helium_3d_run_with_the_mpnn_reports_kelvin_against_the_reference(tmp_path, capsys):
    out = tmp_path / "he3d"
    args = ["run", "helium-3d", "--n-particles", "8", "--model", "mpnn", "--mpnn-features", "4"]
    args += ["--mpnn-layers", "1", "--no-three-body", "--n-samples", "64", "--n-chains", "8"]
    args += ["--n-iter", "3"]
    args += ["--final-samples", "128", "--g1-samples", "8", "--g1-points", "2", "--no-progress"]
    args += ["--out", str(out)]
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
