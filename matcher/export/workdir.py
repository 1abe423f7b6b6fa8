"""The work folder of a nightly run: durable resume parts, unreadable ones set aside, and old runs' folders removed."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pandas as pd

from matcher.errors import MatcherError
from matcher.index.atomic import atomic_write_bytes

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no locks, old work folders are removed unconditionally
    fcntl = None

LOCK_NAME = ".lock"
# columns every non-empty part holds (a part without them is not one this version wrote)
_PART_KEYS = ("query_id", "rank", "target_id")


def write_part(frame: pd.DataFrame, path: Path) -> None:
    """Store one chunk's rows as a Parquet part, durably: written to a temporary file, fsynced, renamed into place
    and the folder fsynced, so a part that exists after a crash (or a power cut) is complete.

    Args:
        frame: the chunk's export rows.
        path: the part's file.
    """
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    atomic_write_bytes(path, buf.getvalue())


def part_problem(path: Path) -> str:
    """Why a stored part cannot be resumed ('' when it reads back whole).

    Args:
        path: the part's file.

    Returns:
        A short reason (e.g. a truncated file), or '' for a good part.
    """
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for truncated or foreign files
        return f"{type(exc).__name__}: {exc}"
    missing = [c for c in _PART_KEYS if c not in frame.columns]
    if len(frame) and missing:
        return f"columns {missing} missing"
    return ""


class WorkDir:
    """The claimed work folder of one run key under `root` (`OUT/.work`), held until `release`.

    Claiming takes a lock on the folder (so a concurrent run never removes it), removes the temporary files a killed
    writer left in it, and removes the folders of other run keys that no running job holds: runs that finished but
    died before cleaning up, and runs abandoned for other settings or another index.

    Args:
        root: the folder holding every run's work folder.
        key: this run's key.

    Raises:
        MatcherError: another `matcher match` with the same settings is writing into the same folder.
    """

    def __init__(self, root: Path, key: str) -> None:
        self.root = Path(root)
        self.path = self.root / key
        self.removed: list[str] = []
        self._fd: int | None = None
        for _ in range(5):  # another run may remove the folder between mkdir and lock: claim again
            self.path.mkdir(parents=True, exist_ok=True)
            fd = _try_lock(self.path / LOCK_NAME)
            if fd is None:
                raise MatcherError(f"another `matcher match` with the same settings is writing into {self.path}; "
                                   "wait for it to finish")
            if _same_file(fd, self.path / LOCK_NAME):
                self._fd = fd
                break
            os.close(fd)
        for leftover in self.path.glob(".*"):
            if leftover.name != LOCK_NAME and leftover.is_file():
                leftover.unlink(missing_ok=True)
        for other in sorted(self.root.iterdir()):
            if other.is_dir() and other != self.path and _remove_unless_held(other):
                self.removed.append(other.name)

    def release(self, *, remove: bool) -> None:
        """Let go of the folder (`remove`: delete it with its parts, as after a finished run)."""
        if remove:
            shutil.rmtree(self.path, ignore_errors=True)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _try_lock(path: Path) -> int | None:
    """An open descriptor of `path` holding an exclusive lock, or None when another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    if fcntl is None:
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except OSError:
        return False


def _remove_unless_held(folder: Path) -> bool:
    """Remove another run's work folder unless a running job holds its lock; whether it was removed."""
    try:
        fd = _try_lock(folder / LOCK_NAME)
    except OSError:  # not a folder we can lock in (permissions): leave it
        return False
    if fd is None:
        return False
    try:
        shutil.rmtree(folder, ignore_errors=True)
    finally:
        os.close(fd)
    return not folder.exists()
