"""Bad input is refused with an error naming what was expected and what was given."""

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
        eqxnqs.configure(n_chains=64, final_samples=1000)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "log.json").write_text("{}")
    with pytest.raises(eqxnqs.RunFolderError):
        eqxnqs.run_vmc(eqxnqs.configure(n_iter=1), tmp_path / "run")


def test_only_process_zero_writes_a_run(tmp_path, monkeypatch):
    """In a multi-process run every process computes, and process 0 alone writes files."""
    monkeypatch.setattr(jax, "process_index", lambda *args: 1)
    config = eqxnqs.configure(
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
    assert results.iterations == 2
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())
