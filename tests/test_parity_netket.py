"""Our DeepSetRelDistance against netket.models.DeepSetRelDistance, same parameters."""

import equinox as eqx
import jax
import jax.numpy as jnp
import netket as nk
import netket.experimental as nkx
import numpy as np
import pytest

import eqxnqs
from helpers import random_configurations

# float64 evaluation of the same arithmetic: differences come only from the
# order of summation inside matrix products (a few ulp), far below this.
RTOL = 1e-12

CASES = {
    "1d-cusp": dict(
        box=(7.0,),
        n=5,
        layers_phi=2,
        layers_rho=3,
        features_phi=16,
        features_rho=16,
        cusp_exponent=5,
    ),
    "2d-nocusp": dict(
        box=(3.0, 4.5),
        n=4,
        layers_phi=2,
        layers_rho=2,
        features_phi=8,
        features_rho=8,
        cusp_exponent=None,
    ),
    "3d-cusp": dict(
        box=(2.0, 2.5, 3.0),
        n=6,
        layers_phi=3,
        layers_rho=3,
        features_phi=(12, 10, 6),
        features_rho=(7, 5, 1),
        cusp_exponent=3,
    ),
    "3d-nobias": dict(
        box=(2.0, 2.0, 2.0),
        n=4,
        layers_phi=2,
        layers_rho=2,
        features_phi=8,
        features_rho=8,
        cusp_exponent=5,
        use_bias=False,
    ),
    "2d-output-activation": dict(
        box=(3.0, 3.0),
        n=5,
        layers_phi=1,
        layers_rho=2,
        features_phi=6,
        features_rho=4,
        cusp_exponent=None,
        output_activation=jax.nn.tanh,
    ),
    "1d-mean-pooling": dict(
        box=(5.0,),
        n=6,
        layers_phi=2,
        layers_rho=2,
        features_phi=8,
        features_rho=8,
        cusp_exponent=5,
        pooling=jnp.mean,
    ),
    "3d-tanh-mean": dict(
        box=(2.0, 3.0, 4.0),
        n=3,
        layers_phi=2,
        layers_rho=3,
        features_phi=(5, 7),
        features_rho=(6, 3, 1),
        cusp_exponent=2,
        activation=jax.nn.tanh,
        pooling=jnp.mean,
    ),
}


def _flax_model(case):
    opts = {k: v for k, v in case.items() if k not in ("box", "n")}
    hilbert = nkx.hilbert.Particle(
        N=case["n"], geometry=nkx.geometry.Cell(d=len(case["box"]), L=case["box"], pbc=True)
    )
    return nk.models.DeepSetRelDistance(hilbert=hilbert, **opts), hilbert


@pytest.fixture(params=sorted(CASES), scope="module")
def pair(request):
    case = CASES[request.param]
    flax_model, hilbert = _flax_model(case)
    x = random_configurations(jax.random.key(3), 64, case["n"], case["box"])
    variables = jax.jit(flax_model.init)(jax.random.key(7), x[:1])
    # A non-trivial cusp parameter, so the cusp term is tested with b != 1.
    variables["params"]["cusp"] = jnp.array([0.37])
    return flax_model, variables, eqxnqs.from_flax(flax_model, variables), x


def test_log_amplitude_matches_netket(pair):
    flax_model, variables, ours, x = pair
    expected = jax.jit(flax_model.apply)(variables, x)
    got = eqx.filter_jit(jax.vmap(ours))(x)
    assert got.dtype == jnp.float64
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=0)


def test_parameter_gradients_match_netket(pair):
    flax_model, variables, ours, x = pair

    def flax_loss(params):
        return jnp.sum(flax_model.apply({"params": params}, x) ** 2)

    def our_loss(model):
        return jnp.sum(jax.vmap(model)(x) ** 2)

    flax_grad = jax.jit(jax.grad(flax_loss))(variables["params"])
    our_grad = eqxnqs.flax_params(eqx.filter_jit(eqx.filter_grad(our_loss))(ours))
    if ours.cusp is None:  # NetKet's unused cusp parameter gets a zero gradient
        our_grad["cusp"] = jnp.zeros(1)
    for (path, g_flax), g_ours in zip(
        jax.tree_util.tree_leaves_with_path(flax_grad), jax.tree.leaves(our_grad)
    ):
        np.testing.assert_allclose(g_ours, g_flax, rtol=1e-10, atol=1e-13, err_msg=str(path))


def test_round_trip_to_flax_is_exact(pair):
    flax_model, variables, ours, x = pair
    back_model, back_variables = eqxnqs.to_flax(ours)
    if ours.cusp is None:
        # NetKet's cusp parameter is unused without cusp_exponent; ours has none,
        # so it comes back as NetKet's initial value.
        np.testing.assert_array_equal(back_variables["params"].pop("cusp"), [1.0])
        variables = {"params": {**variables["params"]}}
        variables["params"].pop("cusp")
    assert jax.tree.structure(back_variables) == jax.tree.structure(variables)
    for a, b in zip(jax.tree.leaves(back_variables), jax.tree.leaves(variables)):
        np.testing.assert_array_equal(a, b)
    back_variables["params"]["cusp"] = back_variables["params"].get("cusp", jnp.ones(1))
    np.testing.assert_allclose(
        jax.jit(back_model.apply)(back_variables, x),
        eqx.filter_jit(jax.vmap(ours))(x),
        rtol=RTOL,
        atol=0,
    )


def test_netket_builds_an_extra_rho_readout_layer():
    """The fact behind our layer layout: NetKet's rho has layers_rho + 1 dense layers."""
    flax_model, _ = _flax_model(CASES["1d-cusp"])
    params = flax_model.init(jax.random.key(0), jnp.zeros((1, 5)))["params"]
    rho = params["deepset"]["DeepSetMLP_0"]["ds_rho"]
    assert sorted(rho) == ["Dense_0", "Dense_1", "Dense_2", "Dense_3"]
    assert rho["Dense_3"]["kernel"].shape == (1, 1)
    ours = eqxnqs.DeepSetRelDistance(
        (7.0,),
        5,
        layers_phi=2,
        layers_rho=3,
        features_phi=16,
        features_rho=16,
        **eqxnqs.NETKET_LAYOUT,
        key=jax.random.key(0),
    )
    assert ours.rho.widths == (16, 16, 1, 1)
    assert (ours.layers_rho, ours.features_rho) == (3, (16, 16, 1))
    linear = eqxnqs.DeepSetRelDistance(
        (7.0,),
        5,
        layers_phi=2,
        layers_rho=3,
        features_phi=16,
        features_rho=16,
        key=jax.random.key(0),
    )
    assert linear.rho.widths == (16, 16, 1)
    assert (linear.layers_rho, linear.features_rho) == (3, (16, 16, 1))
    with pytest.raises(ValueError, match="rho_readout='netket', positive_cusp=False"):
        eqxnqs.to_flax(linear)


def test_initialisation_has_netket_distribution():
    """Seeded lecun-normal kernels: same per-layer variance as Flax (in = fan-in)."""
    model = eqxnqs.DeepSetRelDistance(
        (5.0,),
        3,
        layers_phi=1,
        layers_rho=1,
        features_phi=400,
        features_rho=1,
        cusp_exponent=5,
        key=jax.random.key(1),
    )
    weight = model.rho.layers[0].weight  # (1, 400), fan-in 400
    # Truncated normal with std 1/sqrt(fan_in); 400 draws: std error ~ 3.5%.
    assert abs(float(jnp.std(weight)) * np.sqrt(400) - 1.0) < 0.15
    assert jnp.all(model.rho.layers[0].bias == 0)
    # NetKet starts b at 1 (params_init=ones); with positive_cusp, softplus(c) = 1.
    assert float(model.cusp_strength) == pytest.approx(1.0, rel=1e-14)
    assert float(model.cusp[0]) == pytest.approx(np.log(np.e - 1), rel=1e-14)


@pytest.mark.parametrize("features_phi", [None, 6, (6, 4)])
@pytest.mark.parametrize("features_rho", [None, 5, (5, 3)])
def test_deepset_mlp_matches_netket(features_phi, features_rho):
    x = jax.random.normal(jax.random.key(0), (16, 7, 3))
    flax_model = nk.models.DeepSetMLP(features_phi=features_phi, features_rho=features_rho)
    variables = flax_model.init(jax.random.key(1), x)
    ours = eqxnqs.DeepSetMLP(
        3, features_phi=features_phi, features_rho=features_rho, key=jax.random.key(2)
    )
    # Load NetKet's parameters: its tree is {"DeepSetMLP_0": {"ds_phi": ..., "ds_rho": ...}}.
    tree = variables["params"]["DeepSetMLP_0"]
    from eqxnqs._netket._flax_convert import _load_dense

    if ours.phi is not None:
        ours = eqx.tree_at(lambda m: m.phi, ours, _load_dense(ours.phi, tree["ds_phi"], "ds_phi"))
    else:
        assert "ds_phi" not in tree
    ours = eqx.tree_at(lambda m: m.rho, ours, _load_dense(ours.rho, tree["ds_rho"], "ds_rho"))
    np.testing.assert_allclose(jax.vmap(ours)(x), flax_model.apply(variables, x), rtol=RTOL)
