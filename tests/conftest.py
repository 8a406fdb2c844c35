import os
import shutil
import tempfile

from xla_flags import FAST_COMPILATION, IN_OWN_PROCESS

# The suite's programs are tiny, so compiling them is most of its time: LLVM's optimisation
# is turned off (XLA_FLAGS is read when JAX's backend starts, in this process and in every
# subprocess, which inherits it). Numerics that depend on the optimisation (multiply-adds
# contracted into FMAs) are tested at XLA's default, and the convergence gate's long runs
# at a faster optimisation level, each module in a process of its own
# (xla_flags.run_in_a_process_of_its_own).
if not IN_OWN_PROCESS:
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {FAST_COMPILATION}".strip()

import jax
import pytest

import eqxnqs
from eqxnqs._workflow._compilation_cache import write_entries_whole

# Many tests compile the same programs (tiny runs of one configuration, in the pytest-xdist
# workers, in subprocesses and in notebook kernels): share JAX's persistent compilation
# cache among them, in a folder of this session unless one is set, each entry written whole
# so that a process never reads one that another is still writing.
_OWN_CACHE = "JAX_COMPILATION_CACHE_DIR" not in os.environ
_CACHE = os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR", tempfile.mkdtemp(prefix="eqxnqs-test-jax-cache-")
)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")
jax.config.update("jax_compilation_cache_dir", _CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
write_entries_whole()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Fail a test of an ``xdist_group`` that pytest-xdist did not keep on one worker.

    A grouped module makes its module-scoped runs once only if ``--dist loadgroup`` sends
    all its tests to one worker; pytest 9.2 broke that silently (the group was ignored and
    the runs made on both workers: pytest-xdist #1386). Checked before any fixture is set up.
    """
    mark = item.get_closest_marker("xdist_group")
    if mark is None or "PYTEST_XDIST_WORKER" not in os.environ:
        return
    group = mark.kwargs.get("name") or mark.args[0]
    if not item.nodeid.endswith(f"@{group}"):
        pytest.fail(
            f"pytest-xdist spreads the xdist_group {group!r} over its workers (its node id "
            f"{item.nodeid!r} lacks '@{group}'): --dist loadgroup is off or broken "
            "(pytest 9.2: pytest-xdist #1386).",
            pytrace=False,
        )


def pytest_unconfigure(config):
    # pytest-xdist's workers inherit the folder; the process that made it removes it.
    if _OWN_CACHE and not hasattr(config, "workerinput"):
        shutil.rmtree(_CACHE, ignore_errors=True)


@pytest.fixture
def small_model():
    return eqxnqs.DeepSetRelDistance(
        (3.0, 4.0),
        4,
        layers_phi=2,
        layers_rho=3,
        features_phi=(8, 6),
        features_rho=(5, 4, 1),
        cusp_exponent=5,
        **eqxnqs.NETKET_LAYOUT,  # NetKet's model exactly: the converters' fixture
        key=jax.random.key(0),
    )
