"""The progress bar of a run: E/N and its error, in the units of the run's final line."""

from typing import Any

import jax
from netket.callbacks import AbstractCallback
from netket.utils import struct
from tqdm.auto import tqdm


class EnergyProgressBar(AbstractCallback):
    """A progress bar over `n_steps` iterations that shows each iteration's E/N ± error.

    The energy is the log's ``Energy`` (the whole system) divided by
    `n_particles` and multiplied by `scale`, and is followed by `unit` (for
    helium, ``scale`` is kelvin per ħ²/(m r_m²) and ``unit`` is ``"K"``).
    Only process 0 shows it.
    """

    n_steps: int = struct.field(pytree_node=False, serialize=False)
    n_particles: int = struct.field(pytree_node=False, serialize=False)
    scale: float = struct.field(pytree_node=False, serialize=False)
    unit: str = struct.field(pytree_node=False, serialize=False)
    bar: Any = struct.field(pytree_node=False, serialize=False)

    def __init__(self, n_steps: int, n_particles: int, scale: float = 1.0, unit: str = ""):
        self.n_steps = n_steps
        self.n_particles = n_particles
        self.scale = scale
        self.unit = unit
        self.bar = None

    @property
    def callback_order(self) -> int:
        return 20  # after NetKet's loggers (10), before checkpoints (50)

    def on_run_start(self, step, driver):
        self.bar = tqdm(total=self.n_steps, disable=jax.process_index() != 0, dynamic_ncols=True)

    def on_step_end(self, step, log_data, driver):
        energy = log_data.get("Energy")
        if energy is not None:
            factor = self.scale / self.n_particles
            mean, error = float(energy.mean.real) * factor, float(energy.error_of_mean) * factor
            self.bar.set_postfix_str(f"E/N = {mean:.4f} ± {error:.4f} {self.unit}".rstrip())
        self.bar.update(1)

    def on_run_end(self, step, driver):
        self._close()

    def on_run_error(self, step, error, driver):
        self._close()

    def _close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
