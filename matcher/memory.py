"""Giving a process's freed memory and mapped file pages back to the operating system between the phases of a long
job."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import mmap
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

_MADV_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:  # pragma: no cover - no loadable C library
        return None
    return libc


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
    if libc is None or not hasattr(libc, "malloc_trim"):
        return False
    libc.malloc_trim(0)
    return True


def drop_mapped_pages(files: Iterable[str | Path]) -> int:
    """Take the resident pages of this process's read-only memory maps of `files` out of its resident set
    (`madvise(MADV_DONTNEED)`). The files stay mapped: a later read faults its page back in from the page cache
    (or the disk), so nothing changes but the memory counted against the process.

    The nightly job calls it after ranking each direction: the index's vectors (several GB at 200,000
    registrations) are mapped, and the pages one direction touched would otherwise count until the job exits, while
    the other direction reads other files (the enterprise -> patent lists read the enterprises' vectors and scope
    items, the patent -> enterprise lists mostly their IVF lists) and while the export is built and written, which
    needs none of them.

    Returns:
        The bytes of mappings advised (0 where the C library or /proc/self/maps is not there, e.g. macOS).
    """
    wanted = {str(Path(f).resolve()) for f in files}
    libc = _libc()
    maps = Path("/proc/self/maps")
    if not wanted or libc is None or _MADV_DONTNEED is None or not hasattr(libc, "madvise") or not maps.is_file():
        return 0
    advised = 0
    for line in maps.read_text().splitlines():
        fields = line.split(maxsplit=5)  # range perms offset device inode path
        if len(fields) < 6 or fields[5] not in wanted or "w" in fields[1]:
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        if libc.madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start), _MADV_DONTNEED) == 0:
            advised += end - start
    return advised


def mapped_resident_kib(files: Iterable[str | Path]) -> int:
    """The KiB of this process's memory maps of `files` that are resident now (/proc/self/smaps; 0 elsewhere)."""
    wanted = {str(Path(f).resolve()) for f in files}
    smaps = Path("/proc/self/smaps")
    if not wanted or not smaps.is_file():
        return 0
    kib, inside = 0, False
    for line in smaps.read_text().splitlines():
        head = line.split(maxsplit=5)
        if head and "-" in head[0] and not head[0].endswith(":"):  # a mapping's first line: range perms ... path
            inside = len(head) >= 6 and head[5] in wanted
        elif inside and head and head[0] == "Rss:":
            kib += int(head[1])
    return kib
