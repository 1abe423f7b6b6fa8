"""Giving a process's freed memory back to the operating system between the phases of a long job."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from functools import lru_cache


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:  # pragma: no cover - no loadable C library
        return None
    return libc if hasattr(libc, "malloc_trim") else None


def give_back_freed_memory() -> bool:
    """Collect garbage, then ask the C allocator to return its free pages (glibc's `malloc_trim`).

    Building an index allocates and frees many medium-sized temporaries (token and item lists, frames, batches of
    vectors); glibc keeps the freed pages inside its heaps, where the resident size still counts them, and later
    phases that allocate mostly large arrays (mapped directly) do not reuse them. The build calls this between
    indexing the records and ranking the reciprocal lists.

    Returns:
        Whether the allocator could be asked (False where the C library has no `malloc_trim`, e.g. musl or macOS).
    """
    gc.collect()
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
