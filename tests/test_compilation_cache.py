"""The persistent compilation cache as `enable_compilation_cache` leaves it."""

import os
import subprocess
import sys
import threading

from jax._src import lru_cache

from eqxnqs._workflow._compilation_cache import write_entries_whole

ENTRY_BYTES = 8 * 2**20


def torn_reads(cache, n_entries: int) -> int:
    """Write `n_entries` entries while a thread reads each as soon as it exists.

    Returns how many of them the reader found shorter than written.
    """
    done = threading.Event()
    keys = [f"entry{index}" for index in range(n_entries)]
    torn = 0

    def read():
        nonlocal torn
        for key in keys:
            while (value := cache.get(key)) is None:
                if done.is_set():  # the writer stopped before writing it
                    return
            torn += len(value) != ENTRY_BYTES

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for key in keys:
            cache.put(key, b"x" * ENTRY_BYTES)
    finally:
        done.set()
        reader.join()
    return torn


def test_a_reader_sees_each_entry_whole(tmp_path):
    write_entries_whole()
    cache = lru_cache.LRUCache(str(tmp_path), max_size=-1)
    assert torn_reads(cache, 16) == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        f"entry{index}-cache" for index in range(16)
    )


def test_an_entry_is_written_once(tmp_path):
    write_entries_whole()
    write_entries_whole()  # installing it twice changes nothing
    cache = lru_cache.LRUCache(str(tmp_path), max_size=-1)
    cache.put("key", b"first")
    cache.put("key", b"second")
    assert cache.get("key") == b"first"
    assert cache.get("other") is None


def test_enabling_the_cache_writes_entries_whole(tmp_path):
    script = (
        "import eqxnqs; from jax._src import lru_cache; "
        f"print(eqxnqs.enable_compilation_cache({str(tmp_path)!r}), "
        "getattr(lru_cache.LRUCache.put, 'writes_whole', False))"
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION")}
    printed = subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, text=True
    )
    assert printed.stdout.split() == [str(tmp_path), "True"], printed.stderr[-2000:]
