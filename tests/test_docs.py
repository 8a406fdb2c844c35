"""The documentation: a strict build, the generated settings page, and a short README."""

import os
import re
import subprocess
import sys
from pathlib import Path

from eqxnqs._workflow._run_config import GROUPS
from eqxnqs._workflow._system_configs import SYSTEMS

ROOT = Path(__file__).parent.parent


def test_the_site_builds_strictly_with_every_setting_on_its_page(tmp_path):
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    page = (site / "cli" / "index.html").read_text()
    options = {"seed"}
    for group in (*GROUPS.values(), *SYSTEMS.values()):
        options.update(group.options())
    for name in options:
        assert "--" + name.replace("_", "-") in page, name
    for page in ("models", "netket", "observables", "results", "architecture", "changelog"):
        assert (site / page / "index.html").stat().st_size > 0
    for notebook in ("01_quickstart", "02_helium_1d"):
        assert (site / "notebooks" / notebook / "index.html").exists()


def test_the_readme_is_short_and_links_every_page():
    readme = (ROOT / "README.md").read_text()
    assert readme.count("\n") <= 150
    linked = set(re.findall(r"\(docs/([\w-]+\.md)\)", readme))
    pages = {path.name for path in (ROOT / "docs").glob("*.md")} - {"changelog.md"}
    assert linked == pages
