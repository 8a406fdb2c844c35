"""JAX's persistent compilation cache: a second identical run compiles nothing.

A VMC run compiles its sampler, local energies and SR update (tens of
seconds on a CPU); with the cache a repeated or resumed run loads them
from disk. ``eqxnqs run`` enables it in a per-user folder; the library
leaves JAX's settings alone unless `enable_compilation_cache` is called.
"""

import os
from pathlib import Path

import jax

#: Environment variable that moves the cache (a folder) or turns it off ("none").
ENVIRONMENT = "EQXNQS_COMPILATION_CACHE"


def default_cache_folder() -> Path:
    """``$XDG_CACHE_HOME/eqxnqs/jax``, or ``~/.cache/eqxnqs/jax``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "eqxnqs" / "jax"


def enable_compilation_cache(folder: str | os.PathLike | None = None) -> Path | None:
    """Cache compiled programs in `folder`; returns the folder in use, or ``None`` if off.

    `folder` ``None`` takes ``$EQXNQS_COMPILATION_CACHE``, else
    `default_cache_folder`; ``"none"`` turns the cache off. A cache folder that
    JAX already has (``JAX_COMPILATION_CACHE_DIR``, or ``jax.config``) is kept.
    Every program is cached, however fast it compiled. Call it before the
    first computation.
    """
    existing = jax.config.jax_compilation_cache_dir
    if existing:
        return Path(existing)
    choice = os.environ.get(ENVIRONMENT) if folder is None else os.fspath(folder)
    if choice is not None and choice.strip().lower() == "none":
        return None
    path = Path(choice) if choice else default_cache_folder()
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return path
