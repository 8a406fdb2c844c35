"""JAX's persistent compilation cache: a second identical run compiles nothing.

A VMC run compiles its sampler, local energies and SR update (tens of
seconds on a CPU); with the cache a repeated or resumed run loads them
from disk. ``eqxnqs run`` enables it in a per-user folder; the library
leaves JAX's settings alone unless `enable_compilation_cache` is called.

Runs side by side share the folder. JAX's unbounded cache writes an entry in
place, so a run that reads it meanwhile gets part of a program, warns and
compiles it again; `enable_compilation_cache` makes JAX write each entry to
a temporary file first and rename it into place, which readers see whole.
(JAX's bounded cache locks its entries instead, but scans the whole folder
on every write.)
"""

import os
import uuid
from pathlib import Path

import jax
from jax._src import lru_cache

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
    Every program is cached, however fast it compiled, and each entry is
    written whole (`write_entries_whole`). Call it before the first computation.
    """
    write_entries_whole()
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


def write_entries_whole() -> None:
    """Make JAX's unbounded cache write each entry whole, in every folder it uses.

    An entry goes to a temporary file beside it (a name JAX's cache never reads),
    then `os.replace` renames it into place: a process reading the folder sees the
    entry whole or not at all. JAX's bounded cache (``jax_compilation_cache_max_size``,
    which locks its entries) and folders that are not local are left to JAX.
    """
    cache = lru_cache.LRUCache
    if getattr(cache.put, "writes_whole", False):
        return
    put_in_place = cache.put

    def put(self, key: str, value: bytes) -> None:
        if self.eviction_enabled or "://" in str(self.path):
            return put_in_place(self, key, value)
        if not key:
            raise ValueError("key cannot be empty")
        entry = Path(str(self.path)) / f"{key}{lru_cache._CACHE_SUFFIX}"
        if entry.exists():
            return
        temporary = entry.with_name(f".{entry.name}.{uuid.uuid4().hex}.partial")
        try:
            temporary.write_bytes(value)
            os.replace(temporary, entry)
        finally:
            temporary.unlink(missing_ok=True)

    put.writes_whole = True
    cache.put = put
