"""Crash-safe writes: atomic files and atomic directory swaps that never lose the last good copy."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TypeVar

import numpy as np

from matcher.errors import MatcherError

T = TypeVar("T")

_TMP_MARK = ".tmp-"
_BACKUP_SUFFIX = ".old"
READ_ATTEMPTS = 6
"""Tries of a reader that meets a directory being swapped (0.1 s, 0.2 s, ... 1.6 s apart)."""


class KeptChangingError(MatcherError):
    """A directory was swapped during every try of `read_stable`."""
FAULT_ENV = "MATCHER_FAULT_POINT"


def fault_point(name: str) -> None:
    """Test hook of the fault-injection tests (tests/test_faults.py); does nothing unless env MATCHER_FAULT_POINT is
    `name`. Then it writes "MATCHER_FAULT_POINT NAME reached (pid N)" to stderr and stops the process there until it
    is killed. Points: swap:start (new directory complete, nothing renamed), swap:middle (old directory moved to its
    backup, new one not yet in place), swap:end (new one in place, backup not yet removed) in `atomic_dir`;
    writer:loaded (a writer holds the lock and has re-read the index) in `matcher.engine`.

    Args:
        name: the point reached.
    """
    if os.environ.get(FAULT_ENV) != name:
        return
    sys.stderr.write(f"{FAULT_ENV} {name} reached (pid {os.getpid()})\n")
    sys.stderr.flush()
    while True:
        time.sleep(60)


def _fsync_dir(path: Path) -> None:
    """Flush a directory entry table to disk (no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _tmp_name(name: str) -> str:
    """Hidden sibling name for work in progress, tagged with the writer's pid."""
    return f".{name}{_TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:12]}"


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old file or the complete new one (`atomic_write_with`).

    Args:
        path: destination file; its parent directory is created if missing.
        data: the complete file content.
    """
    atomic_write_with(path, lambda fh: fh.write(data))


def atomic_write_with(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """Have `write` fill a file that replaces `path` only once complete, streaming: nothing is held in memory whole
    (a 1.9 GB vector file written through a buffer held two more copies of it).

    `write` writes into a temporary file in the same directory, which is flushed and fsynced, and then renamed over
    `path` with `os.replace`. On any error the temporary file is removed.

    Args:
        path: destination file; its parent directory is created if missing.
        write: writes the complete content into the open binary file it is given.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / _tmp_name(path.name)
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_npz(path: str | Path, meta: dict, **arrays: np.ndarray) -> None:
    """Write arrays and a JSON-able `meta` dict as one .npz file, atomically (see `atomic_write_bytes`)."""
    buf = io.BytesIO()
    np.savez(buf, **arrays, meta=np.array(json.dumps(meta)))
    atomic_write_bytes(path, buf.getvalue())


def read_npz(path: str | Path, make: Callable[[dict[str, np.ndarray], dict], T], rebuild: str) -> T | None:
    """What `make` builds from the arrays and `meta` of a file written by `atomic_write_npz`; None when there is no
    such file.

    Args:
        path: the file.
        make: builds the object from the arrays (by name) and the meta dict; raising KeyError, ValueError or
            TypeError means the file is damaged.
        rebuild: what to rebuild when it is damaged, for the message (e.g. "the index with `matcher build`").

    Raises:
        MatcherError: the file is there but cannot be read.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files}
        return make(arrays, json.loads(str(arrays.pop("meta"))))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MatcherError(f"{path} is damaged ({exc}): rebuild {rebuild}") from None


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """Write `text` to `path` atomically (see `atomic_write_bytes`).

    Args:
        path: destination file.
        text: the complete file content.
        encoding: text encoding (UTF-8 by default, so Chinese text round-trips).
    """
    atomic_write_bytes(path, text.encode(encoding))


def _backup_path(target: Path) -> Path:
    return target.parent / f".{target.name}{_BACKUP_SUFFIX}"


def readable_dir(target: str | Path) -> Path:
    """The directory a reader should read for `target`: itself, or while a swap is between its two renames (or a
    writer died there) the backup, which is the last complete copy. Readers never repair anything (`recover_dir`
    is for writers holding the lock).

    Args:
        target: the directory managed by `atomic_dir`.

    Returns:
        `target`, or its backup when only the backup exists.
    """
    target = Path(target)
    backup = _backup_path(target)
    return backup if not target.is_dir() and backup.is_dir() else target


def swap_state(target: str | Path) -> tuple[tuple[int, int, int] | None, bool]:
    """A fingerprint that changes with every swap of `target`: (its device, inode and status-change time, or None
    when it is missing; whether a backup exists). The time tells a new copy from an old one whose inode number it
    reuses. A reader compares it before and after reading to know that it read one complete copy.

    Args:
        target: the directory managed by `atomic_dir`.

    Returns:
        The fingerprint.
    """
    target = Path(target)
    try:
        st = target.stat()
        identity: tuple[int, int, int] | None = (st.st_dev, st.st_ino, st.st_ctime_ns)
    except OSError:
        identity = None
    return identity, _backup_path(target).exists()


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _stale_tmp_dirs(target: Path) -> list[Path]:
    """Temporary siblings of `target` left behind by writers that are no longer running."""
    if not target.parent.is_dir():
        return []
    pattern = re.compile(rf"^\.{re.escape(target.name)}{re.escape(_TMP_MARK)}(\d+)-[0-9a-f]+$")
    stale = []
    for entry in target.parent.iterdir():
        match = pattern.match(entry.name)
        if match and entry.is_dir() and not _pid_alive(int(match.group(1))):
            stale.append(entry)
    return stale


def recover_dir(target: str | Path) -> None:
    """Bring `target` back to a consistent state after a crash inside `atomic_dir`.

    States left by a crash and what is done about them:
    - target missing, backup present (died between the two renames): the backup, which is the
      last good directory, is renamed back into place;
    - target and backup both present (died before removing the backup): the backup is removed;
    - temporary directories of dead writers (died while writing): removed.
    Only a writer holding the target's lock (matcher.index.lock) may call it: run beside a live writer it would
    undo that writer's swap.

    Args:
        target: the directory managed by `atomic_dir`.
    """
    target = Path(target)
    backup = _backup_path(target)
    if backup.exists():
        if target.exists():
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.rename(backup, target)
            _fsync_dir(target.parent)
    for tmp in _stale_tmp_dirs(target):
        shutil.rmtree(tmp, ignore_errors=True)


def read_stable(target: str | Path, read: Callable[[Path], T], *, errors: tuple[type[BaseException], ...] = (OSError,),
                attempts: int = READ_ATTEMPTS) -> T:
    """Read the last complete copy of `target` without repairing anything, again when a writer swapped it meanwhile.

    A try counts when `swap_state` is the same before and after it. A try that fails with one of `errors` is
    repeated (after a short pause) only when a swap is under way or happened during it; otherwise the error is
    raised at once (a damaged directory is no swap).

    Args:
        target: the directory managed by `atomic_dir`.
        read: reads the directory it is given (`target` or, between the two renames of a swap, its backup).
        errors: the exceptions a swap can cause in `read`.
        attempts: how many tries at most.

    Returns:
        What `read` returned for one complete copy.

    Raises:
        KeptChangingError: the directory was swapped during every try.
    """
    for attempt in range(1, attempts + 1):
        before = swap_state(target)
        try:
            value = read(readable_dir(target))
        except errors:
            if swap_state(target) == before and not before[1]:
                raise
        else:
            if swap_state(target) == before:
                return value
        if attempt < attempts:
            time.sleep(0.05 * 2**attempt)
    raise KeptChangingError(f"{target} was replaced {attempts} times while it was read: try again")


def _fsync_tree(root: Path) -> None:
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            with open(os.path.join(dirpath, name), "rb") as fh:
                os.fsync(fh.fileno())
        _fsync_dir(Path(dirpath))


@contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Build a directory in a temporary sibling and swap it into place only if the body succeeds.

    On success the old `target` (if any) is renamed to a hidden backup, the new directory is
    renamed to `target`, and the backup is removed. If the process dies between these renames,
    `recover_dir` (also run at the start of every `atomic_dir`) restores the last good directory.
    If the body raises, the temporary directory is removed and `target` is left untouched.
    Only one writer per target may run at a time: callers serialise with a lock (an index: matcher.index.lock).
    Readers read `readable_dir(target)` and compare `swap_state` before and after.

    Args:
        target: the directory to (re)create.

    Returns:
        A context manager yielding the fresh, empty temporary directory to write into.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    recover_dir(target)
    tmp = target.parent / _tmp_name(target.name)
    tmp.mkdir()
    backup = _backup_path(target)
    try:
        yield tmp
        _fsync_tree(tmp)
        fault_point("swap:start")
        had_old = target.exists()
        if had_old:
            os.rename(target, backup)
            fault_point("swap:middle")
        try:
            os.rename(tmp, target)
        except BaseException:
            if had_old and not target.exists():
                os.rename(backup, target)
            raise
        _fsync_dir(target.parent)
        fault_point("swap:end")
        if had_old:
            shutil.rmtree(backup, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
