import jax
import pytest

import eqxnqs

jax.config.update("jax_enable_x64", True)


@pytest.fixture
def small_model():
    return eqxnqs.DeepSetRelDistance(
        (3.0, 4.0),
        4,
        layers_phi=2,
        layers_rho=3,
        features_phi=(8, 6),
        features_rho=(5, 4, 1),
        cusp_exponent=5,
        **eqxnqs.NETKET_LAYOUT,  # NetKet's model exactly: the converters' fixture
        key=jax.random.key(0),
    )
