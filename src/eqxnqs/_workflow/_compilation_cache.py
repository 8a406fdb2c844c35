"""JAX's persistent compilation cache: a second identical run compiles nothing.

A VMC run compiles its sampler, local energies and SR update (tens of
seconds on a CPU); with the cache a repeated or resumed run loads them
from disk. ``eqxnqs run`` enables it in a per-user folder; the library
leaves JAX's settings alone unless `enable_compilation_cache` is called.

The cache is bounded (`MAX_SIZE`): JAX then evicts the least recently used
programs and reads and writes each entry under a file lock. Unbounded, it
does neither, and runs side by side on one folder read entries that another
was still writing ("Error -5 while decompressing data", then a recompilation).
"""

import os
from pathlib import Path

import jax

#: Environment variable that moves the cache (a folder) or turns it off ("none").
ENVIRONMENT = "EQXNQS_COMPILATION_CACHE"
#: Bytes the cache may hold (a helium run's programs take a few megabytes).
MAX_SIZE = 2 * 2**30


def default_cache_folder() -> Path:
    """``$XDG_CACHE_HOME/eqxnqs/jax``, or ``~/.cache/eqxnqs/jax``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "eqxnqs" / "jax"


def enable_compilation_cache(folder: str | os.PathLike | None = None) -> Path | None:
    """Cache compiled programs in `folder`; returns the folder in use, or ``None`` if off.

    `folder` ``None`` takes ``$EQXNQS_COMPILATION_CACHE``, else
    `default_cache_folder`; ``"none"`` turns the cache off. A cache folder that
    JAX already has (``JAX_COMPILATION_CACHE_DIR``, or ``jax.config``) is kept.
    Every program is cached, however fast it compiled. An unbounded cache
    (JAX's default size, -1) is bounded to `MAX_SIZE` bytes, so that its entries
    are locked. Call it before the first computation.
    """
    existing = jax.config.jax_compilation_cache_dir
    if existing:
        _bound()
        return Path(existing)
    choice = os.environ.get(ENVIRONMENT) if folder is None else os.fspath(folder)
    if choice is not None and choice.strip().lower() == "none":
        return None
    path = Path(choice) if choice else default_cache_folder()
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    _bound()
    return path


def _bound() -> None:
    if jax.config.jax_compilation_cache_max_size == -1:
        jax.config.update("jax_compilation_cache_max_size", MAX_SIZE)
