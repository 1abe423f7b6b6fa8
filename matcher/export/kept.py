"""Export files kept from the previous run: when a direction's final rows are the rows the previous run wrote, its
files are linked into the new export instead of written again (2 million rows of CSV and Parquet take minutes)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd


def rows_digest(frame: pd.DataFrame) -> str:
    """A digest of a frame's columns, their types and every value, in order."""
    head = json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()], ensure_ascii=False).encode()
    values = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
    return hashlib.sha256(head + values.tobytes()).hexdigest()[:32]


def file_stat(path: Path) -> list[int]:
    """What tells a written file from one changed since: its size and modification time (ns)."""
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def link_kept(previous: Path, names: list[str], stats: dict[str, list[int]], folder: Path) -> bool:
    """Put the previous export's files `names` into `folder` (hard links, else copies) when each is there as the
    previous run wrote it (`stats`: name -> `file_stat` at writing); False, with nothing put, otherwise."""
    sources = [previous / name for name in names]
    try:
        if any(stats.get(s.name) != file_stat(s) for s in sources):
            return False
        for source in sources:
            try:
                os.link(source, folder / source.name)
            except OSError:  # another file system, or links not allowed: a copy keeps the bytes and times
                shutil.copy2(source, folder / source.name)
    except OSError:
        for name in names:
            (folder / name).unlink(missing_ok=True)
        return False
    return True
