import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import eqxnqs


@pytest.mark.parametrize(
    "options",
    [
        dict(cusp_exponent=5),
        dict(
            cusp_exponent=None,
            use_bias=False,
            pooling="mean",
            activation=jax.nn.tanh,
            output_activation=jax.nn.softplus,
        ),
    ],
)
def test_round_trip_is_bit_exact(tmp_path, options):
    model = eqxnqs.DeepSetRelDistance(
        (2.0, 3.0),
        3,
        layers_phi=2,
        layers_rho=2,
        features_phi=(5, 4),
        features_rho=(3, 1),
        key=jax.random.key(4),
        **options,
    )
    eqxnqs.save(tmp_path / "m.eqx", model)
    loaded = eqxnqs.load(tmp_path / "m.eqx")
    assert eqx.tree_equal(
        eqx.filter(loaded, eqx.is_array, inverse=True),
        eqx.filter(model, eqx.is_array, inverse=True),
    )
    for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(model)):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
    x = jnp.linspace(0.1, 1.9, 6)
    assert loaded(x) == model(x)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        eqxnqs.load(tmp_path / "absent.eqx")


def test_not_a_model_file(tmp_path):
    (tmp_path / "x.eqx").write_bytes(b"\x00\x01garbage")
    with pytest.raises(ValueError, match="not an eqxnqs model file"):
        eqxnqs.load(tmp_path / "x.eqx")


def test_truncated_file_is_corrupt(tmp_path, small_model):
    eqxnqs.save(tmp_path / "m.eqx", small_model)
    data = (tmp_path / "m.eqx").read_bytes()
    (tmp_path / "m.eqx").write_bytes(data[:-40])
    with pytest.raises(ValueError, match="corrupt"):
        eqxnqs.load(tmp_path / "m.eqx")


def test_version_mismatch(tmp_path, small_model):
    eqxnqs.save(tmp_path / "m.eqx", small_model)
    data = (tmp_path / "m.eqx").read_bytes()
    (tmp_path / "m.eqx").write_bytes(
        data.replace(b'"format_version": 1', b'"format_version": 9', 1)
    )
    with pytest.raises(ValueError, match="format version 9; this eqxnqs reads version 1"):
        eqxnqs.load(tmp_path / "m.eqx")


def test_custom_activation_cannot_be_saved(tmp_path):
    model = eqxnqs.DeepSetRelDistance(
        2.0,
        3,
        layers_phi=1,
        layers_rho=1,
        features_phi=3,
        features_rho=1,
        activation=lambda v: v**2,
        key=jax.random.key(0),
    )
    with pytest.raises(ValueError, match="not a jax.nn function"):
        eqxnqs.save(tmp_path / "m.eqx", model)
    assert not (tmp_path / "m.eqx").exists()
