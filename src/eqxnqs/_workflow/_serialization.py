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

from .._models._activations import activation_by_name, activation_name
from .._models._pooling import pooling_name
from .._models._rel_distance import DeepSetRelDistance

FORMAT = "eqxnqs-model"
FORMAT_VERSION = 1


def hyperparameters(model: DeepSetRelDistance) -> dict:
    """Every constructor argument of `model` (but the initialisers and `key`), JSON-ready.

    Activations are written by their `jax.nn` name and the pooling as
    ``"sum"`` or ``"mean"``; a model with anything else cannot be saved.
    """
    if not isinstance(model, DeepSetRelDistance):
        raise TypeError(f"expected a DeepSetRelDistance; got {type(model).__name__}.")
    hyper = model.hyperparameters()
    pooling = pooling_name(hyper["pooling"])
    if pooling is None:
        raise ValueError(f"pooling {model.pooling!r} is not 'sum' or 'mean'; it cannot be saved.")
    return {
        **hyper,
        "box": list(hyper["box"]),
        "features_phi": list(hyper["features_phi"]),
        "features_rho": list(hyper["features_rho"]),
        "activation": activation_name(hyper["activation"], "activation"),
        "output_activation": activation_name(hyper["output_activation"], "output_activation"),
        "pooling": pooling,
    }


def from_hyperparameters(hyper: dict, *, key) -> DeepSetRelDistance:
    """Build a `DeepSetRelDistance` from the output of `hyperparameters`."""
    hyper = dict(hyper)
    box, n_particles = hyper.pop("box"), hyper.pop("n_particles")
    hyper["activation"] = activation_by_name(hyper["activation"])
    hyper["output_activation"] = activation_by_name(hyper["output_activation"])
    # Files written before these settings existed hold NetKet's layout.
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


def is_main_process() -> bool:
    """Whether this is JAX process 0, the one that writes a run's files in a multi-process run."""
    return jax.process_index() == 0


def write_run_file(path: Path, data: bytes) -> None:
    """`write_atomically` on process 0 only: every process computes, one writes."""
    if is_main_process():
        write_atomically(path, data)
