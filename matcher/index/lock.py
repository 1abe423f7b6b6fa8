"""The writer lock of an index folder: one writer at a time; the others wait, with a message, up to a timeout."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from matcher.errors import MatcherError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None
    import msvcrt

TIMEOUT_ENV = "MATCHER_LOCK_TIMEOUT"
DEFAULT_TIMEOUT = 600.0
"""Seconds a writer waits for another one by default (env MATCHER_LOCK_TIMEOUT, the commands' --lock-timeout)."""

_held = threading.local()  # per thread: lock file path -> [fd, depth]


def lock_path(index_dir: str | Path) -> Path:
    """The lock file of an index folder: `NAME.lock` beside it (never inside: the folder is swapped whole)."""
    index_dir = Path(os.path.abspath(index_dir))
    return index_dir.parent / f"{index_dir.name}.lock"


def lock_timeout(timeout: float | None = None) -> float:
    """The wait limit in seconds: `timeout`, else env MATCHER_LOCK_TIMEOUT, else DEFAULT_TIMEOUT.

    Raises:
        MatcherError: the environment variable is not a number of seconds >= 0.
    """
    if timeout is not None:
        return max(float(timeout), 0.0)
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise MatcherError(f"{TIMEOUT_ENV}={raw!r} must be a number of seconds >= 0")
    return value


def holder(index_dir: str | Path) -> str:
    """The pid written by the last writer that took the lock ('unknown' when there is none)."""
    try:
        pid = lock_path(index_dir).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return "unknown"
    return pid if pid.isdigit() else "unknown"


def held(index_dir: str | Path) -> bool:
    """Whether this thread holds the writer lock of `index_dir`."""
    return str(lock_path(index_dir)) in getattr(_held, "locks", {})


def _try_lock(fd: int) -> bool:
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:  # pragma: no cover - Windows
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:  # BlockingIOError (POSIX), PermissionError (Windows): another writer holds it
        return False
    return True


def _acquire(path: Path, index_dir: Path, timeout: float, on_wait: Callable[[str], None] | None) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise MatcherError(f"cannot create the writer lock {path} of the index ({exc})") from None
    deadline = time.monotonic() + timeout
    pause = 0.05
    announced = False
    while not _try_lock(fd):
        if not announced and on_wait is not None:
            on_wait(f"waiting for another writer of {index_dir} (pid {holder(index_dir)}) ...")
            announced = True
        left = deadline - time.monotonic()
        if left <= 0:
            os.close(fd)
            raise MatcherError(
                f"another writer of {index_dir} (pid {holder(index_dir)}) still holds {path} after {timeout:g} s: "
                f"try again when it has finished, or wait longer with --lock-timeout / {TIMEOUT_ENV}")
        time.sleep(min(pause, left))
        pause = min(pause * 2, 0.5)
    try:
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
    except OSError:
        pass  # the pid only improves the waiting message
    return fd


@contextmanager
def writer_lock(index_dir: str | Path, *, timeout: float | None = None,
                on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the exclusive writer lock of an index folder (re-entrant within a thread).

    The lock is an `fcntl.flock` on `lock_path(index_dir)`: the kernel releases it when its holder exits, even on
    `kill -9`, so a crashed writer never blocks the next one. The holder writes its pid into the file for the
    waiting message.

    Args:
        index_dir: the index folder (it need not exist yet).
        timeout: seconds to wait for another writer (None: `lock_timeout()`).
        on_wait: called once with "waiting for another writer of INDEX (pid N) ..." when the lock is taken.

    Returns:
        A context manager holding the lock for its body.

    Raises:
        MatcherError: the lock was not free within the timeout, or the lock file cannot be created.
    """
    path = lock_path(index_dir)
    key = str(path)
    locks = _held.__dict__.setdefault("locks", {})
    if key in locks:
        locks[key][1] += 1
        try:
            yield
        finally:
            locks[key][1] -= 1
        return
    fd = _acquire(path, Path(index_dir), lock_timeout(timeout), on_wait)
    locks[key] = [fd, 1]
    try:
        yield
    finally:
        del locks[key]
        os.close(fd)  # closing the last descriptor releases the lock
