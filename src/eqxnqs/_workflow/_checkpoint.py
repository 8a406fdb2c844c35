"""Atomic checkpoints of a NetKet driver and its log, and resuming from them."""

import io
import json
import os
import tempfile
from pathlib import Path

import jax
import netket as nk
import numpy as np
from flax import serialization
from netket.callbacks import AbstractCallback
from netket.utils import struct

from ._serialization import gathered, is_main_process, write_run_file

CHECKPOINT_FORMAT_VERSION = 1


class AtomicJsonLog(nk.logging.RuntimeLog):
    """NetKet's JSON log format, rewritten whole and atomically every `write_every` steps."""

    def __init__(self, path: Path, write_every: int = 10, data=None):
        super().__init__()
        self.path = Path(path)
        self.write_every = write_every
        if data is not None:
            self._data = data

    @classmethod
    def resume(cls, path: Path, text: str, write_every: int = 10) -> "AtomicJsonLog":
        """Continue the log whose serialized text is `text` (rewrites `path` with it)."""
        write_run_file(Path(path), text.encode())
        # Read from a private copy: in a multi-process run only process 0 writes `path`.
        with tempfile.TemporaryDirectory() as folder:
            copy = Path(folder) / "log.json"
            copy.write_text(text)
            data = nk.logging.RuntimeLog.deserialize(copy)._data
        _restore_shapes(data, json.loads(text))
        return cls(path, write_every, data=data)

    def to_text(self) -> str:
        buffer = io.BytesIO()
        self.serialize(buffer)
        return buffer.getvalue().decode()

    def __call__(self, step, item, variational_state=None):
        super().__call__(step, item, variational_state)
        if (step + 1) % self.write_every == 0:
            self.flush()

    def flush(self, variational_state=None):
        if jax.process_index() == 0:
            write_run_file(self.path, self.to_text().encode())


#: The run's newest checkpoint, the one before it, and where an unreadable newest one is kept.
CHECKPOINT_FILE = "checkpoint.mpack"
PREVIOUS_CHECKPOINT_FILE = "checkpoint.previous.mpack"
DAMAGED_CHECKPOINT_FILE = "checkpoint.damaged.mpack"


class CheckpointError(ValueError):
    """A checkpoint cannot be read, or a run has none that can."""


def _restore_shapes(histories, raw: dict) -> None:
    """Give each logged array the shape it has in the JSON text `raw`.

    NetKet reads a history of one iteration of numbers as one iteration of a
    vector (shape (1, 1) for (1,)), so a log resumed after one iteration went
    on with the wrong shape.
    """
    for key, column in raw.items():
        if not isinstance(column, dict):
            continue
        if "iters" not in column:
            _restore_shapes(histories[key], column)
            continue
        values = histories[key]._value_dict
        for name, entries in column.items():
            shape = np.shape(entries)
            if isinstance(values.get(name), np.ndarray) and values[name].size == np.prod(shape):
                values[name] = values[name].reshape(shape)


def write_checkpoint(folder: Path, driver, log: AtomicJsonLog, step_count: int) -> None:
    """Save driver (parameters, sampler and optimiser state) and log at `step_count`.

    The checkpoint it replaces becomes the previous one, so the run's folder
    always holds two good checkpoints once it has written two.
    """
    state = gathered(serialization.to_state_dict(driver))
    state["_step_count"] = step_count
    payload = {
        "format_version": CHECKPOINT_FORMAT_VERSION,
        "step_count": step_count,
        "driver": state,
        "log": log.to_text(),
    }
    folder = Path(folder)
    write_run_file(
        folder / CHECKPOINT_FILE,
        serialization.msgpack_serialize(payload),
        keep_previous=folder / PREVIOUS_CHECKPOINT_FILE,
    )


def read_checkpoint(path: Path, template) -> tuple[object, str, int]:
    """Restore a driver from a checkpoint; return it, the log text and the step count.

    `template(step_count)` gives the driver to restore into: a driver of the
    run at the checkpoint's step count.
    """
    path = Path(path)
    try:
        payload = serialization.msgpack_restore(path.read_bytes())
        version = payload["format_version"]
    except OSError as error:
        raise CheckpointError(f"{path.name} cannot be read: {error.strerror}") from None
    except Exception:
        raise CheckpointError(
            f"{path.name} is not a readable eqxnqs checkpoint (truncated or damaged)"
        ) from None
    if version != CHECKPOINT_FORMAT_VERSION:
        raise CheckpointError(
            f"{path.name} has checkpoint format {version}; this eqxnqs reads format "
            f"{CHECKPOINT_FORMAT_VERSION}"
        )
    try:
        log_text, step_count = str(payload["log"]), int(payload["step_count"])
    except Exception:
        raise CheckpointError(f"{path.name} was written by a run with other settings") from None
    driver = template(step_count)
    try:
        driver = serialization.from_state_dict(driver, payload["driver"])
    except Exception:
        raise CheckpointError(f"{path.name} was written by a run with other settings") from None
    return driver, log_text, step_count


def resume_checkpoint(folder: Path, template) -> tuple[object, str, int] | None:
    """The newest readable checkpoint of the run in `folder`, restored as by `read_checkpoint`.

    `None` when the run has written none. When the newest cannot be read, the
    previous one is used, the unreadable one is kept as
    ``checkpoint.damaged.mpack``, and both are said.
    """
    folder = Path(folder)
    newest, previous = folder / CHECKPOINT_FILE, folder / PREVIOUS_CHECKPOINT_FILE
    if not newest.exists() and not previous.exists():
        return None
    problems = []
    for path in (newest, previous):
        if not path.exists():
            problems.append(f"{path.name} is missing")
            continue
        try:
            restored = read_checkpoint(path, template)
        except CheckpointError as error:
            problems.append(str(error))
            continue
        if path == previous:
            if newest.exists() and is_main_process():
                os.replace(newest, folder / DAMAGED_CHECKPOINT_FILE)
                problems[0] += f" (kept as {DAMAGED_CHECKPOINT_FILE})"
            print(f"{problems[0]}; resuming from {previous.name} at iteration {restored[2]}.")
        return restored
    raise CheckpointError(
        f"cannot resume {folder}: {'; '.join(problems)}. Move it aside to start the run again."
    )


class CheckpointCallback(AbstractCallback):
    """Write a checkpoint every `every` steps, after the loggers have logged the step.

    `saved_step` is the step of the newest checkpoint on disk (`None` if unknown).
    """

    folder: Path = struct.field(pytree_node=False, serialize=False)
    every: int = struct.field(pytree_node=False, serialize=False)
    log: AtomicJsonLog = struct.field(pytree_node=False, serialize=False)
    saved_step: int | None = struct.field(pytree_node=False, serialize=False)

    def __init__(self, folder: Path, every: int, log: AtomicJsonLog, saved_step: int | None):
        self.folder = Path(folder)
        self.every = every
        self.log = log
        self.saved_step = saved_step

    @property
    def callback_order(self) -> int:
        return 50  # after NetKet's loggers (10)

    def on_step_end(self, step, log_data, driver):
        # The step's update is applied but `driver.step_count` is not yet increased.
        if (step + 1) % self.every != 0:
            return
        self.log.flush()
        write_checkpoint(self.folder, driver, self.log, step + 1)
        self.saved_step = step + 1


class RunDivergedError(RuntimeError):
    """The energy estimate stopped being a finite number."""


class StopOnNonFiniteEnergy(AbstractCallback):
    """Stop with a clear error when the energy becomes NaN or infinite."""

    @property
    def callback_order(self) -> int:
        return 5  # before the loggers and checkpoints: nothing non-finite is saved

    def on_step_end(self, step, log_data, driver):
        energy = log_data.get("Energy")
        if energy is not None and not np.isfinite(energy.mean):
            raise RunDivergedError(
                f"the energy became {energy.mean} at iteration {step}; the last "
                "checkpoint holds the run before that. Try a smaller learning_rate, "
                "a larger diag_shift, or more n_samples / n_discard_per_chain."
            )
