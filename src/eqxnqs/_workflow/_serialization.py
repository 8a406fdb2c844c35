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
import numpy as np
from jax.experimental import multihost_utils

from .._models._activations import activation_by_name, activation_name
from .._models._backflow import Backflow
from .._models._edge_mpnn import EdgeMPNN
from .._models._jastrow import McMillanJastrow, PowerLawJastrow
from .._models._mpnn import MPNN
from .._models._pooling import pooling_name
from .._models._rel_distance import DeepSetRelDistance
from .._models._sum import SumLogAmplitude
from .._models._triplet import TripletJastrow

FORMAT = "eqxnqs-model"
FORMAT_VERSION = 1


def _deepset_hyperparameters(model: DeepSetRelDistance) -> dict:
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


def _deepset_from(hyper: dict, key) -> DeepSetRelDistance:
    hyper = dict(hyper)
    box, n_particles = hyper.pop("box"), hyper.pop("n_particles")
    hyper["activation"] = activation_by_name(hyper["activation"])
    hyper["output_activation"] = activation_by_name(hyper["output_activation"])
    # Files written before these settings existed hold NetKet's layout.
    hyper.setdefault("rho_readout", "netket")
    hyper.setdefault("positive_cusp", False)
    hyper.setdefault("input_scale", 1.0)
    return DeepSetRelDistance(box, n_particles, **hyper, key=key)


def _boxed_hyperparameters(model) -> dict:
    return {**model.hyperparameters(), "box": list(model.box)}


def _built_from(cls, *, keyed: bool):
    """``cls(box, n_particles, **rest)`` from saved hyperparameters (and `key` if `keyed`)."""

    def build(hyper: dict, key):
        hyper = dict(hyper)
        random = {"key": key} if keyed else {}
        return cls(hyper.pop("box"), hyper.pop("n_particles"), **hyper, **random)

    return build


def _sum_hyperparameters(model: SumLogAmplitude) -> dict:
    return {"terms": [_spec(term) for term in model.terms]}


def _sum_from(hyper: dict, key) -> SumLogAmplitude:
    keys = jax.random.split(key, len(hyper["terms"]))
    return SumLogAmplitude(*(_from_spec(spec, k) for spec, k in zip(hyper["terms"], keys)))


def _backflow_hyperparameters(model: Backflow) -> dict:
    return {
        **model.hyperparameters(),
        "widths": list(model.hyperparameters()["widths"]),
        "inner": _spec(model.inner),
    }


def _backflow_from(hyper: dict, key) -> Backflow:
    hyper = dict(hyper)
    inner_key, key = jax.random.split(key)
    inner = _from_spec(hyper.pop("inner"), inner_key)
    return Backflow(inner, **hyper, key=key)


#: The models that can be saved: class name -> (hyperparameters to JSON, JSON to model).
MODEL_CLASSES = {
    "DeepSetRelDistance": (DeepSetRelDistance, _deepset_hyperparameters, _deepset_from),
    "McMillanJastrow": (
        McMillanJastrow,
        _boxed_hyperparameters,
        _built_from(McMillanJastrow, keyed=False),
    ),
    "PowerLawJastrow": (
        PowerLawJastrow,
        _boxed_hyperparameters,
        _built_from(PowerLawJastrow, keyed=False),
    ),
    "TripletJastrow": (
        TripletJastrow,
        _boxed_hyperparameters,
        _built_from(TripletJastrow, keyed=False),
    ),
    "MPNN": (MPNN, _boxed_hyperparameters, _built_from(MPNN, keyed=True)),
    "EdgeMPNN": (EdgeMPNN, _boxed_hyperparameters, _built_from(EdgeMPNN, keyed=True)),
    "SumLogAmplitude": (SumLogAmplitude, _sum_hyperparameters, _sum_from),
    "Backflow": (Backflow, _backflow_hyperparameters, _backflow_from),
}


def hyperparameters(model) -> dict:
    """Every constructor argument of `model` (but initialisers and `key`), JSON-ready.

    Activations are written by their `jax.nn` name and the pooling as
    ``"sum"`` or ``"mean"``; a model with anything else cannot be saved. A
    `SumLogAmplitude` lists its terms' classes and hyperparameters.
    """
    entry = MODEL_CLASSES.get(type(model).__name__)
    if entry is None or type(model) is not entry[0]:
        raise TypeError(
            f"cannot save a {type(model).__name__}; eqxnqs saves {', '.join(MODEL_CLASSES)}."
        )
    return entry[1](model)


def _spec(model) -> dict:
    return {"class": type(model).__name__, "hyperparameters": hyperparameters(model)}


def _from_spec(spec: dict, key):
    entry = MODEL_CLASSES.get(spec.get("class"))
    if entry is None:
        raise ValueError(f"unknown model class {spec.get('class')!r}.")
    return entry[2](spec["hyperparameters"], key)


def from_hyperparameters(hyper: dict, *, key, model_class: str = "DeepSetRelDistance"):
    """Build a model of class `model_class` from the output of `hyperparameters`."""
    return _from_spec({"class": model_class, "hyperparameters": hyper}, key)


def save(path: str | os.PathLike, model) -> None:
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


def load(path: str | os.PathLike):
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
        if header.get("class") not in MODEL_CLASSES:
            raise ValueError(f"{path} holds an unknown model class {header.get('class')!r}.")
        template = eqx.filter_eval_shape(
            _from_spec,
            {"class": header["class"], "hyperparameters": header["hyperparameters"]},
            jax.random.key(0),
        )
        try:
            model = eqx.tree_deserialise_leaves(file, template)
        except Exception as error:
            raise ValueError(f"{path} is corrupt: its arrays cannot be read ({error}).") from None
        if file.read(1):
            raise ValueError(f"{path} is corrupt: it has data after the model's arrays.")
    return model


def write_atomically(path: Path, data: bytes, *, keep_previous: Path | None = None) -> None:
    """Write `data` to a temporary file beside `path`, then rename it over `path`.

    With `keep_previous`, the old `path` (if any) is renamed to it once the new
    data is safely on disk, so an interruption at any point leaves either the
    old file at `path` or the new one at `path` or, between the two renames,
    the old one at `keep_previous`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    if keep_previous is not None and path.exists():
        os.replace(path, keep_previous)
    os.replace(tmp, path)


def is_main_process() -> bool:
    """Whether this is JAX process 0, the one that writes a run's files in a multi-process run."""
    return jax.process_index() == 0


def wait_for_every_process(name: str) -> None:
    """Return once every JAX process has called this with `name` (at once in a one-process run).

    A collective: every process must call it, in the same order.
    """
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices(name)


def gathered(tree):
    """`tree` with every JAX array as a NumPy array of its global value, on every process.

    In a run over several hosts an array's shards live on different hosts;
    this gathers them (a collective: every process must call it). On one
    host it only copies to NumPy.
    """

    def one(leaf):
        if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
            return np.asarray(multihost_utils.process_allgather(leaf, tiled=True))
        return np.asarray(leaf) if isinstance(leaf, jax.Array) else leaf

    return jax.tree.map(one, tree)


def write_run_file(path: Path, data: bytes, *, keep_previous: Path | None = None) -> None:
    """`write_atomically` on process 0 only: every process computes, one writes."""
    if is_main_process():
        write_atomically(path, data, keep_previous=keep_previous)
