"""The XLA flags of the test suite (imported by conftest.py before JAX starts), and the
modules whose tests run in a process of their own at other flags."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

#: LLVM's optimisation off, and XLA's older CPU emitters (their fusions compile in half the
#: time): the suite's programs are tiny, so compiling them is most of its time.
FAST_COMPILATION = "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"
#: XLA's defaults: the numerics of a user's run (multiply-adds contracted into FMAs).
XLA_DEFAULT = ""
#: LLVM's optimisation at level 1: the convergence gate's two seeds took 42 s (alone) here
#: against 81 s at XLA's defaults (beside the activation tests), and its iterations run
#: 3.6 times as fast as at FAST_COMPILATION.
FAST_ITERATIONS = "--xla_backend_optimization_level=1 --xla_cpu_use_fusion_emitters=false"
#: Set in the process of `run_in_a_process_of_its_own`.
OWN_PROCESS = "EQXNQS_TEST_OWN_PROCESS"
#: Whether this is such a process.
IN_OWN_PROCESS = bool(os.environ.get(OWN_PROCESS))


def run_in_a_process_of_its_own(namespace: dict, xla_flags: str) -> None:
    """Run the tests of a module (its ``globals()``) in one pytest process of their own at
    `xla_flags` instead of the suite's.

    Adds the module's launcher, ``test_in_a_process_of_its_own``, which starts that
    process and checks that each of the other tests passed there; they are skipped
    everywhere else.
    """
    skip = pytest.mark.skipif(not IN_OWN_PROCESS, reason="in a process of its own")
    for name, test in list(namespace.items()):
        if name.startswith("test_"):
            namespace[name] = skip(test)

    @pytest.mark.skipif(IN_OWN_PROCESS, reason="this is that process")
    def test_in_a_process_of_its_own(request):
        flags = os.environ.get("XLA_FLAGS", "").replace(FAST_COMPILATION, "")
        env = {**os.environ, OWN_PROCESS: "1", "XLA_FLAGS": f"{flags} {xla_flags}".strip()}
        path = Path(request.node.path)
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-n0", "-p", "no:cacheprovider", str(path)],
            cwd=path.parent.parent,
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout[-3000:]
        found = re.findall(r"(\d+) (passed|skipped)", done.stdout)
        counts = dict((kind, int(n)) for n, kind in found)
        others = sum(item.path == request.node.path for item in request.session.items) - 1
        assert counts == {"passed": others, "skipped": 1}, done.stdout[-500:]

    namespace["test_in_a_process_of_its_own"] = test_in_a_process_of_its_own
