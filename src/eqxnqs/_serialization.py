"""Save and load models: hyperparameters as JSON, arrays as Equinox leaves.

File layout: one line of JSON (format, versions, hyperparameters), then the
bytes of ``eqx.tree_serialise_leaves``. Loading rebuilds the module from the
hyperparameters (shapes only) and fills in the arrays, so no template is
needed.
"""

import io
import json
import os
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp

from ._pooling import pooling_name
from ._rel_distance import DeepSetRelDistance

FORMAT = "eqxnqs-model"
FORMAT_VERSION = 1


def _activation_name(fn, what: str) -> str | None:
    if fn is None:
        return None
    for name in dir(jax.nn):
        if getattr(jax.nn, name) is fn:
            return name
    raise ValueError(
        f"{what} {fn!r} is not a jax.nn function, so it cannot be saved by name; "
        "use one of jax.nn's activations to save this model."
    )


def _activation(name: str | None):
    if name is None:
        return None
    fn = getattr(jax.nn, name, None)
    if not callable(fn):
        raise ValueError(f"unknown activation {name!r}: not a jax.nn function.")
    return fn


def hyperparameters(model: DeepSetRelDistance) -> dict:
    """Every constructor argument of `model` (but `key`), as JSON-ready values."""
    if not isinstance(model, DeepSetRelDistance):
        raise TypeError(f"expected a DeepSetRelDistance; got {type(model).__name__}.")
    pooling = pooling_name(model.pooling)
    if pooling is None:
        raise ValueError(f"pooling {model.pooling!r} is not 'sum' or 'mean'; it cannot be saved.")
    return {
        "box": list(model.box),
        "n_particles": model.n_particles,
        "layers_phi": len(model.phi.layers),
        "features_phi": list(model.phi.widths),
        "layers_rho": model.layers_rho,
        "features_rho": list(model.features_rho),
        "rho_readout": model.rho_readout,
        "positive_cusp": model.positive_cusp,
        "input_scale": model.input_scale,
        "cusp_exponent": model.cusp_exponent,
        "param_dtype": jnp.dtype(model.rho.layers[0].weight.dtype).name,
        "activation": _activation_name(model.rho.activation, "activation"),
        "output_activation": _activation_name(model.rho.final_activation, "output_activation"),
        "pooling": pooling,
        "use_bias": model.rho.use_bias,
    }


def from_hyperparameters(hyper: dict, *, key) -> DeepSetRelDistance:
    """Build a `DeepSetRelDistance` from the output of `hyperparameters`."""
    hyper = dict(hyper)
    box, n_particles = hyper.pop("box"), hyper.pop("n_particles")
    hyper["activation"] = _activation(hyper["activation"])
    hyper["output_activation"] = _activation(hyper["output_activation"])
    hyper["param_dtype"] = jnp.dtype(hyper["param_dtype"])
    # Files written before rho_readout existed hold NetKet's layout.
    hyper.setdefault("rho_readout", "netket")
    hyper.setdefault("positive_cusp", False)
    hyper.setdefault("input_scale", 1.0)
    return DeepSetRelDistance(box, n_particles, **hyper, key=key)


def save(path: str | os.PathLike, model: DeepSetRelDistance) -> None:
    """Write `model` to `path` (atomically: a partial file never replaces a good one)."""
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": type(model).__name__,
        "hyperparameters": hyperparameters(model),
    }
    buffer = io.BytesIO()
    buffer.write((json.dumps(header) + "\n").encode())
    eqx.tree_serialise_leaves(buffer, model)
    write_atomically(Path(path), buffer.getvalue())


def load(path: str | os.PathLike) -> DeepSetRelDistance:
    """Read a model written by `save`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}.")
    with open(path, "rb") as file:
        first_line = file.readline()
        try:
            header = json.loads(first_line)
        except ValueError:
            header = None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ValueError(f"{path} is not an eqxnqs model file.")
        if header.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{path} has model format version {header.get('format_version')}; "
                f"this eqxnqs reads version {FORMAT_VERSION}."
            )
        if header.get("class") != "DeepSetRelDistance":
            raise ValueError(f"{path} holds an unknown model class {header.get('class')!r}.")
        template = eqx.filter_eval_shape(
            from_hyperparameters, header["hyperparameters"], key=jax.random.key(0)
        )
        try:
            model = eqx.tree_deserialise_leaves(file, template)
        except Exception as error:
            raise ValueError(f"{path} is corrupt: its arrays cannot be read ({error}).") from None
        if file.read(1):
            raise ValueError(f"{path} is corrupt: it has data after the model's arrays.")
    return model


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, path)
