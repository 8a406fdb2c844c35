"""Bad input is refused with an error naming what was expected and what was given."""

import dataclasses

import jax
import jax.numpy as jnp
import netket.experimental as nkx
import numpy as np
import pytest
from jaxtyping import TypeCheckError

import eqxnqs

GOOD = dict(layers_phi=2, layers_rho=2, features_phi=4, features_rho=4, key=jax.random.key(0))


def build(box=(3.0,), n=4, **overrides):
    return eqxnqs.DeepSetRelDistance(box, n, **{**GOOD, **overrides})


def test_wrong_number_of_coordinates(small_model):
    with pytest.raises(ValueError, match=r"expects x of shape \(8,\).*got shape \(7,\)"):
        small_model(jnp.zeros(7))


def test_wrong_ndim_is_a_type_error(small_model):
    with pytest.raises(TypeCheckError, match="n_dof"):
        small_model(jnp.zeros((2, 8)))


def test_integer_coordinates_are_refused(small_model):
    with pytest.raises(TypeCheckError, match="Float"):
        small_model(jnp.arange(8))


def test_errors_are_raised_at_trace_time_under_jit(small_model):
    import equinox as eqx

    with pytest.raises(ValueError, match="expects x of shape"):
        eqx.filter_jit(small_model)(jnp.zeros(6))


def test_numpy_input_is_accepted(small_model):
    x = np.linspace(0.1, 2.9, 8)
    assert small_model(x) == pytest.approx(float(small_model(jnp.asarray(x))), rel=1e-15)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(features_phi=(4, 4, 4)), r"features_phi has 3 entries .* layers_phi=2"),
        (dict(features_rho=(4,)), r"features_rho has 1 entries .* layers_rho=2"),
        (dict(features_rho=(4, 2)), r"last entry of features_rho must be 1.*\(4, 2\)"),
        (dict(features_phi=(4, 0)), r"features_phi must hold positive integers"),
        (dict(layers_phi=0), r"layers_phi must be at least 1; got 0"),
        (dict(cusp_exponent=0), r"cusp_exponent must be a positive integer"),
        (dict(pooling="max"), r"pooling must be a callable .* got 'max'"),
    ],
)
def test_bad_hyperparameters(overrides, message):
    with pytest.raises(ValueError, match=message):
        build(**overrides)


def test_wrong_hyperparameter_type():
    with pytest.raises(TypeCheckError, match="features_phi"):
        build(features_phi=4.5)


@pytest.mark.parametrize("box", [(0.0,), (-1.0, 2.0), (float("inf"),), (), (float("nan"),)])
def test_bad_box(box):
    with pytest.raises(ValueError, match="box"):
        build(box=box)


@pytest.mark.parametrize("n", [1, True])
def test_too_few_particles_or_not_a_count(n):
    with pytest.raises(ValueError, match=rf"^n_particles must be an integer >= 2; got {n!r}\.$"):
        build(n=n)


def test_non_periodic_hilbert_space_is_refused():
    hilbert = nkx.hilbert.Particle(
        N=3, geometry=nkx.geometry.Cell(d=2, L=(2.0, 2.0), pbc=(True, False))
    )
    with pytest.raises(ValueError, match=r"periodic in every direction.*\(True, False\)"):
        eqxnqs.DeepSetRelDistance.from_hilbert(hilbert, **GOOD)


def test_free_space_is_refused():
    hilbert = nkx.hilbert.Particle(N=3, geometry=nkx.geometry.FreeSpace(d=2))
    with pytest.raises(ValueError, match="periodic in every direction"):
        eqxnqs.DeepSetRelDistance.from_hilbert(hilbert, **GOOD)


def test_batch_with_wrong_last_axis(small_model):
    log_psi = eqxnqs.LogAmplitude(small_model)
    with pytest.raises(ValueError, match=r"shape \(\*batch, 8\); got shape \(5, 6\)"):
        log_psi(jnp.zeros((5, 6)))


def test_loading_mismatched_flax_parameters(small_model):
    params = eqxnqs.flax_params(small_model)
    params["deepset"]["DeepSetMLP_0"]["ds_phi"]["Dense_0"]["kernel"] = jnp.zeros((3, 8))
    with pytest.raises(
        ValueError, match=r"ds_phi/Dense_0/kernel must have shape \(2, 8\); got \(3, 8\)"
    ):
        eqxnqs.load_flax_params(small_model, params)
    params = eqxnqs.flax_params(small_model)
    del params["deepset"]["DeepSetMLP_0"]["ds_rho"]["Dense_3"]
    with pytest.raises(ValueError, match="ds_rho must hold Dense_0 .. Dense_3"):
        eqxnqs.load_flax_params(small_model, params)


def test_run_errors_are_public_types(tmp_path):
    """A Python caller can catch what run_vmc raises, by its exported type."""
    assert issubclass(eqxnqs.ConfigError, ValueError)
    assert issubclass(eqxnqs.RunFolderError, ValueError)
    assert issubclass(eqxnqs.RunDivergedError, RuntimeError)
    with pytest.raises(eqxnqs.ConfigError, match="must be a multiple of n_chains"):
        eqxnqs.RunConfig(n_chains=64, final_samples=1000)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "log.json").write_text("{}")
    with pytest.raises(eqxnqs.RunFolderError):
        eqxnqs.run_vmc(eqxnqs.RunConfig(n_iter=1), tmp_path / "run")


def test_run_config_resolves_the_cusp_per_system_as_the_command_line_does():
    from eqxnqs._workflow._cli import _parser, config_from_args

    for system, exponent in (("helium", 5), ("gaussian", None), ("calogero-sutherland", 1)):
        assert eqxnqs.RunConfig(system=system).cusp_exponent == exponent
        argv = ["run", system, "--out", "x"]
        assert config_from_args(_parser().parse_args(argv), argv) == eqxnqs.RunConfig(system=system)
    assert eqxnqs.RunConfig(system="gaussian", cusp_exponent=3).cusp_exponent == 3
    with pytest.raises(eqxnqs.ConfigError, match="cusp_exponent must be a positive integer"):
        eqxnqs.RunConfig(cusp_exponent="five")


def test_settings_of_other_systems_do_not_block_a_resume():
    helium = eqxnqs.RunConfig()
    assert helium.differences(eqxnqs.RunConfig(v0=3.0, box_length=9.0)) == []
    assert helium.differences(eqxnqs.RunConfig(density=0.2)) == ["density"]
    gaussian = eqxnqs.RunConfig(system="gaussian")
    assert gaussian.differences(eqxnqs.RunConfig(system="gaussian", v0=3.0)) == ["v0"]
    assert gaussian.differences(eqxnqs.RunConfig(system="gaussian", density=0.2)) == []


def test_run_config_speaks_python_and_resolves_once():
    """Python callers read RunConfig field names; widths and systems are settled once."""
    with pytest.raises(eqxnqs.ConfigError, match=r"^n_particles must be an integer >= 2"):
        eqxnqs.RunConfig(n_particles=1)
    with pytest.raises(eqxnqs.ConfigError, match="max_norm needs driver vmc_sr"):
        eqxnqs.RunConfig(driver="vmc", clip_local_energy=None, max_norm=100.0)
    # "auto" is no trust region without SR, 100 with it (10 for the MPNN)
    assert eqxnqs.RunConfig(driver="vmc", clip_local_energy=None).max_norm is None
    # SR defaults: cautious for the MPNN and for helium-3d, where the DeepSet blew up
    sr = {
        (system, model): (config.diag_shift, config.max_norm)
        for system in ("helium", "helium-3d")
        for model in ("deepset", "mpnn")
        for config in [eqxnqs.RunConfig(system=system, model=model)]
    }
    assert sr == {
        ("helium", "deepset"): (0.01, 100.0),
        ("helium", "mpnn"): (0.1, 10.0),
        ("helium-3d", "deepset"): (0.1, 10.0),
        ("helium-3d", "mpnn"): (0.1, 10.0),
    }
    # g1 and n(k): the MPNN pays a forward pass per displaced particle, so fewer samples
    assert eqxnqs.RunConfig().g1_samples == 1024
    assert eqxnqs.RunConfig(model="mpnn").g1_samples == 64
    assert eqxnqs.RunConfig(model="mpnn", n_chains=128).g1_samples == 128
    with pytest.raises(eqxnqs.ConfigError, match="g1_samples must be a positive integer"):
        eqxnqs.RunConfig(g1_samples=0)
    explicit = eqxnqs.RunConfig(system="helium-3d", diag_shift=0.02, max_norm=50.0)
    assert (explicit.diag_shift, explicit.max_norm) == (0.02, 50.0)
    with pytest.raises(eqxnqs.ConfigError, match="v0 must be a positive number; got nan"):
        eqxnqs.RunConfig(v0=float("nan"))
    config = eqxnqs.RunConfig(layers_phi=3, features_phi=[8], layers_rho=2, features_rho=(4,))
    assert (config.features_phi, config.features_rho) == ((8, 8, 8), (4, 1))
    gaussian = eqxnqs.RunConfig(system="gaussian", dim=2, box_length=3.0, n_particles=4)
    assert gaussian.system_settings == {"dim": 2, "box_length": 3.0, "v0": 2.0, "sigma": 0.5}
    system = gaussian.build_system()
    assert (system.name, system.box, system.n_particles) == ("gaussian", (3.0, 3.0), 4)
    # Settings of other systems do not matter to a run of this one.
    assert gaussian.differences(dataclasses.replace(gaussian, density=0.2, beta=3.0)) == []
    assert gaussian.differences(dataclasses.replace(gaussian, v0=1.0)) == ["v0"]


def test_only_process_zero_writes_a_run(tmp_path, monkeypatch):
    """In a multi-process run every process computes, and process 0 alone writes files."""
    monkeypatch.setattr(jax, "process_index", lambda *args: 1)
    config = eqxnqs.RunConfig(
        n_particles=3,
        features_phi=(4,),
        features_rho=(4,),
        n_chains=4,
        n_samples=16,
        n_discard_per_chain=2,
        final_samples=16,
        g1_samples=8,
        g1_points=4,
        n_iter=2,
        checkpoint_every=1,
        driver="vmc",
        clip_local_energy=None,
        max_norm=None,
    )
    results = eqxnqs.run_vmc(config, tmp_path / "run", show_progress=False)
    assert results["iterations"] == 2
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())
