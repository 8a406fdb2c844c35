"""The package as users install it: versions, metadata, and the wheel outside the tree."""

import importlib.metadata
import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import eqxnqs
from eqxnqs._versions import ALLOW_UNSUPPORTED, SUPPORTED, check_supported

ROOT = Path(__file__).parent.parent


def test_the_version_has_one_home():
    assert eqxnqs.__version__ == importlib.metadata.version("eqxnqs")
    for line in (ROOT / "CITATION.cff").read_text().splitlines():
        if line.startswith("version:"):
            assert line.split(":", 1)[1].strip() == eqxnqs.__version__
    # The changelog's newest release is this version, below an Unreleased heading.
    releases = re.findall(r"^## \[([^\]]+)\]", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert releases[:2] == ["Unreleased", eqxnqs.__version__]


@pytest.mark.parametrize("version", ["3.24.0", "3.22.9", "4.0"])
def test_an_unsupported_netket_is_refused_in_one_line(version):
    with pytest.raises(ImportError, match=r"eqxnqs needs netket >=3\.23,<3\.24; netket"):
        check_supported("netket", version)


def test_unsupported_versions_can_be_tried_with_a_warning(monkeypatch):
    monkeypatch.setenv(ALLOW_UNSUPPORTED, "warn")
    with pytest.warns(UserWarning, match=r"jax 0\.11\.2 is installed.*going on untested"):
        check_supported("jax", "0.11.2")
    monkeypatch.setenv(ALLOW_UNSUPPORTED, "yes")
    with pytest.raises(ImportError, match=f"or set {ALLOW_UNSUPPORTED}=warn"):
        check_supported("jax", "0.11.2")


def test_the_installed_libraries_are_supported():
    for name in SUPPORTED:
        check_supported(name, importlib.metadata.version(name))
    check_supported("netket", "3.23.5rc1")


def test_the_wheel_works_outside_the_source_tree(tmp_path):
    # Build the sdist, and the wheel from it, as a release would (with the build backend
    # of the dev environment, not one downloaded into an isolated one).
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("eqxnqs-*.whl")
    assert len(list(dist.glob("eqxnqs-*.tar.gz"))) == 1
    names = zipfile.ZipFile(wheel).namelist()
    assert "eqxnqs/py.typed" in names and "eqxnqs/_models/_backflow.py" in names
    assert any(name.endswith("licenses/LICENSE") for name in names)
    # A fresh environment with the wheel (not editable); its dependencies are this
    # environment's, reached by a plain path (so its editable eqxnqs is not).
    env = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", site,
         str(wheel)],
        check=True,
    )  # fmt: skip
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    environment = {**os.environ, "PYTHONPATH": ""}

    def run(*args):
        return subprocess.run(
            [str(python), *args], cwd=outside, env=environment, capture_output=True, text=True
        )

    # One process (each import of eqxnqs and NetKet takes seconds): where eqxnqs comes
    # from, and `python -m eqxnqs --version`.
    version = "import eqxnqs, runpy, sys; print(eqxnqs.__file__); sys.argv[1:] = ['--version']; "
    version += "runpy.run_module('eqxnqs', run_name='__main__')"
    imported = run("-c", version)
    assert imported.returncode == 0, imported.stderr
    location, printed = imported.stdout.strip().split("\n")
    assert location.startswith(site) and printed == f"eqxnqs {eqxnqs.__version__}"
    cli = [
        "-m", "eqxnqs", "run", "helium", "--n-particles", "3", "--n-iter", "2",
        "--n-samples", "16", "--n-chains", "4", "--final-samples", "16", "--g1-samples", "4",
        "--g1-points", "2", "--layers-phi", "1", "--features-phi", "2", "--layers-rho", "1",
        "--features-rho", "1", "--no-progress", "--out", "run",
    ]  # fmt: skip
    result = run(*cli)
    assert result.returncode == 0, result.stderr
    assert "E/N =" in result.stdout and (outside / "run" / "results.json").is_file()
