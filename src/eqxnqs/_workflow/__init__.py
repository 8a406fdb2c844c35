"""A VMC run: its settings, checkpoints, results, plots, saved models and the CLI."""
