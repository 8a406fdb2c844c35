"""Atomic checkpoints of a NetKet driver and its log, and resuming from them."""

import io
import tempfile
import warnings
from pathlib import Path

import jax
import netket as nk
import numpy as np
from flax import serialization
from netket.callbacks import AbstractCallback
from netket.utils import struct

from ._serialization import write_run_file

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


def write_checkpoint(path: Path, driver, log: AtomicJsonLog, step_count: int) -> None:
    """Save driver (parameters, sampler and optimiser state) and log at `step_count`."""
    state = jax.device_get(serialization.to_state_dict(driver))
    state["_step_count"] = step_count
    payload = {
        "format_version": CHECKPOINT_FORMAT_VERSION,
        "step_count": step_count,
        "driver": state,
        "log": log.to_text(),
    }
    write_run_file(Path(path), serialization.msgpack_serialize(payload))


def read_checkpoint(path: Path, driver) -> tuple[object, str, int]:
    """Restore `driver` from a checkpoint; return it, the log text and the step count."""
    try:
        payload = serialization.msgpack_restore(Path(path).read_bytes())
        version = payload["format_version"]
    except Exception:
        raise ValueError(f"{path} is not a readable eqxnqs checkpoint.") from None
    if version != CHECKPOINT_FORMAT_VERSION:
        raise ValueError(
            f"{path} has checkpoint format {version}; this eqxnqs reads "
            f"{CHECKPOINT_FORMAT_VERSION}."
        )
    driver = serialization.from_state_dict(driver, payload["driver"])
    return driver, payload["log"], int(payload["step_count"])


class CheckpointCallback(AbstractCallback):
    """Write a checkpoint every `every` steps, after the loggers have logged the step."""

    path: Path = struct.field(pytree_node=False, serialize=False)
    every: int = struct.field(pytree_node=False, serialize=False)
    log: AtomicJsonLog = struct.field(pytree_node=False, serialize=False)

    def __init__(self, path: Path, every: int, log: AtomicJsonLog):
        self.path = Path(path)
        self.every = every
        self.log = log

    @property
    def callback_order(self) -> int:
        return 50  # after NetKet's loggers (10)

    def on_step_end(self, step, log_data, driver):
        # The step's update is applied but `driver.step_count` is not yet increased.
        if (step + 1) % self.every != 0:
            return
        if jax.process_count() > 1:
            # Process 0 cannot read the samples held by other hosts. (Python
            # shows this warning once.)
            warnings.warn("checkpoints are not written in multi-host runs", stacklevel=2)
            return
        self.log.flush()
        write_checkpoint(self.path, driver, self.log, step + 1)


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
