"""Freed memory handed back to the operating system between a job's phases."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from matcher.memory import _libc, drop_mapped_pages, mapped_resident_kib

# In a fresh process: 400 MB in 64 KiB blocks (inside glibc's heap, below its mmap threshold), every other block kept
# so that the heap cannot simply shrink from its top, then the rest freed: resident memory before and after the call.
_PROBE = """
import sys
from pathlib import Path
def rss():
    return next(int(l.split()[1]) for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmRSS"))
blocks = [bytearray(b"x" * 65_000) for _ in range(6_000)]
kept = blocks[::2]
del blocks
before = rss()
from matcher.memory import give_back_freed_memory
assert give_back_freed_memory()
print(before - rss())
"""


@pytest.mark.skipif(not hasattr(_libc(), "malloc_trim") or not sys.platform.startswith("linux"),
                    reason="needs glibc's malloc_trim")
def test_freed_heap_pages_go_back_to_the_system():
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True)
    assert int(done.stdout.strip()) > 100_000  # KiB: most of the 195 MB freed in the middle of the heap


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc/self/maps and madvise")
def test_dropped_pages_of_a_mapped_file_leave_the_resident_set_and_read_back_the_same(tmp_path):
    path = (tmp_path / "vectors.npy").resolve()
    np.save(path, np.arange(16_000_000, dtype=np.float32).reshape(-1, 1000))  # 64 MB
    mapped = np.load(path, mmap_mode="r")
    total = float(mapped.sum(dtype=np.float64))  # touches every page
    other_path = (tmp_path / "other.npy").resolve()
    np.save(other_path, np.ones((4000, 1000), dtype=np.float32))
    kept = np.load(other_path, mmap_mode="r")  # a file not named is left alone
    kept.sum()
    assert mapped_resident_kib([path]) > 50_000 and mapped_resident_kib([other_path]) > 10_000
    assert drop_mapped_pages([path]) >= 64_000_000
    assert mapped_resident_kib([path]) < 1_000
    assert mapped_resident_kib([other_path]) > 10_000
    assert float(mapped.sum(dtype=np.float64)) == total  # read back from the file
    assert drop_mapped_pages([]) == 0
