"""Importing eqxnqs and writing its figures leave matplotlib's global state alone."""

import subprocess
import sys


def test_import_and_plots_keep_the_matplotlib_backend(tmp_path):
    # A fresh interpreter: the backend is chosen before eqxnqs is imported,
    # as Jupyter's inline backend is.
    script = f"""
import matplotlib
matplotlib.use("svg")
import eqxnqs
from eqxnqs._workflow._plots import plot_energy, plot_pair_distribution
plot_energy(r"{tmp_path / "e.png"}", [0, 1], [2.0, 1.0], [0.1, 0.1], unit="u", reference=1.0)
plot_pair_distribution(r"{tmp_path / "g.png"}", [0.5, 1.0], [0.2, 1.1], length_unit="u")
import matplotlib.pyplot as plt
print(matplotlib.get_backend(), len(plt.get_fignums()))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["svg", "0"]
    for name in ("e.png", "g.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
