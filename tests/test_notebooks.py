"""The notebooks run top to bottom (small size), and every figure shows up in Jupyter."""

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_and_shows_its_figures(path, monkeypatch):
    # The same notebook runs the real size for a user; here the small one.
    monkeypatch.setenv("EQXNQS_NOTEBOOK_SIZE", "small")
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    plotting = [
        cell for cell in notebook.cells if cell.cell_type == "code" and "plt.show()" in cell.source
    ]
    for cell in plotting:
        kinds = {kind for output in cell.outputs for kind in output.get("data", {})}
        assert "image/png" in kinds, f"no figure from the cell:\n{cell.source}"
    assert os.environ["EQXNQS_NOTEBOOK_SIZE"] == "small"
