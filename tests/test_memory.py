"""Freed memory handed back to the operating system between a job's phases."""

from __future__ import annotations

import subprocess
import sys

import pytest

from matcher.memory import _libc

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


@pytest.mark.skipif(_libc() is None or not sys.platform.startswith("linux"), reason="needs glibc's malloc_trim")
def test_freed_heap_pages_go_back_to_the_system():
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True)
    assert int(done.stdout.strip()) > 100_000  # KiB: most of the 195 MB freed in the middle of the heap
