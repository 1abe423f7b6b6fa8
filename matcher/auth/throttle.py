"""Login throttling: failed logins counted per user name and per client, a growing wait, then a lock for a while."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from matcher.errors import MatcherError


@dataclass(frozen=True)
class Limits:
    """How failed logins are slowed down and locked.

    Attributes:
        max_failures: failures in a row (of one user name, or of one client) that lock it.
        lock_seconds: how long a lock lasts; failures older than this are forgotten.
        free_failures: failures before each further try must wait.
        base_delay: the first wait in seconds; it doubles with each further failure, up to max_delay.
        max_delay: the longest wait between two tries.
    """

    max_failures: int = 5
    lock_seconds: float = 15 * 60
    free_failures: int = 2
    base_delay: float = 2.0
    max_delay: float = 30.0

    @classmethod
    def from_env(cls) -> Limits:
        """Limits with MATCHER_LOGIN_MAX_FAILURES (default 5) and MATCHER_LOGIN_LOCK_MINUTES (default 15) applied.

        Raises:
            MatcherError: a value is not a positive number.
        """
        limits = cls()
        failures = os.environ.get("MATCHER_LOGIN_MAX_FAILURES", "").strip()
        minutes = os.environ.get("MATCHER_LOGIN_LOCK_MINUTES", "").strip()
        try:
            max_failures = int(failures) if failures else limits.max_failures
            lock = float(minutes) * 60 if minutes else limits.lock_seconds
        except ValueError:
            raise MatcherError("MATCHER_LOGIN_MAX_FAILURES must be a whole number and MATCHER_LOGIN_LOCK_MINUTES a number "
                               f"(got {failures!r} and {minutes!r})") from None
        if max_failures < 1 or not lock > 0 or not math.isfinite(lock):
            raise MatcherError(f"MATCHER_LOGIN_MAX_FAILURES and MATCHER_LOGIN_LOCK_MINUTES must be positive (got {failures!r} "
                               f"and {minutes!r})")
        return cls(max_failures=max_failures, lock_seconds=lock, free_failures=min(limits.free_failures, max_failures - 1))

    def delay(self, failures: int) -> float:
        """The wait before the next try after `failures` failures in a row."""
        if failures < max(self.free_failures, 1):
            return 0.0
        return min(self.max_delay, self.base_delay * 2 ** (failures - self.free_failures))


@dataclass(frozen=True)
class Verdict:
    """Whether a try may go ahead now; otherwise how long to wait and whether that is a lock."""

    allowed: bool
    wait: float = 0.0
    locked: bool = False

    @property
    def message(self) -> str:
        """The officer's message when the try is refused."""
        if self.locked:
            return f"登录失败次数过多，该账号或本机已被暂时锁定，请在 {max(1, math.ceil(self.wait / 60))} 分钟后再试。"
        return f"登录失败次数较多，请等待 {max(1, math.ceil(self.wait))} 秒后再试。"


@dataclass
class _Record:
    failures: int = 0
    last: float = 0.0
    locked_until: float = 0.0


class LoginThrottle:
    """Counts failed logins per user name and per client (thread-safe; share one per server process).

    One LoginThrottle is shared by every session of a server process (`default_throttle`); its counts live in memory,
    so a restart clears them and each server process counts its own. A try is counted *before* the password is
    checked (and forgiven when it succeeds), so parallel tries cannot slip past the limit while bcrypt runs.

    Args:
        limits: the limits (default: Limits.from_env()).
        clock: monotonic seconds (tests pass a fake clock).
    """

    def __init__(self, limits: Limits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or Limits.from_env()
        self.clock = clock
        self._records: dict[tuple[str, str], _Record] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(username: str, client: str) -> list[tuple[str, str]]:
        name = (username or "").strip().lower()
        return [k for k in (("name", name), ("client", client or "")) if k[1]]

    def _verdict(self, record: _Record, now: float) -> Verdict:
        if record.locked_until > now:
            return Verdict(False, record.locked_until - now, locked=True)
        wait = self.limits.delay(record.failures) - (now - record.last)
        return Verdict(False, wait) if wait > 0 else Verdict(True)

    def _record(self, key: tuple[str, str], now: float) -> _Record:
        record = self._records.get(key)
        if record is not None and record.locked_until <= now and now - record.last > self.limits.lock_seconds:
            del self._records[key]  # failures older than a lock are forgotten
            record = None
        return record or _Record()

    def begin(self, username: str, client: str) -> Verdict:
        """Ask to try a password for `username` from `client`: when allowed, the try is counted as a failure until
        `succeeded` forgives it; when refused (waiting or locked), nothing is counted."""
        with self._lock:
            now = self.clock()
            keys = self._keys(username, client)
            records = [self._record(k, now) for k in keys]
            refused = [v for v in (self._verdict(r, now) for r in records) if not v.allowed]
            if refused:
                return max(refused, key=lambda v: (v.locked, v.wait))
            for key, record in zip(keys, records):
                record.failures += 1
                record.last = now
                if record.failures >= self.limits.max_failures:
                    record.failures = 0
                    record.locked_until = now + self.limits.lock_seconds
                self._records[key] = record
            return Verdict(True)

    def failures(self, username: str, client: str = "") -> int:
        """Failures in a row counted now for `username` (or, with no name, for `client`); a lock counts as max_failures."""
        with self._lock:
            now = self.clock()
            key = self._keys(username, client)[0]
            record = self._record(key, now)
            return self.limits.max_failures if record.locked_until > now else record.failures

    def succeeded(self, username: str, client: str) -> None:
        """Forgive the counted try and the failures before it (the password was right)."""
        with self._lock:
            for key in self._keys(username, client):
                self._records.pop(key, None)

    def reset(self) -> None:
        """Forget every count and lock."""
        with self._lock:
            self._records.clear()


_default: LoginThrottle | None = None
_default_lock = threading.Lock()


def default_throttle() -> LoginThrottle:
    """The server process's throttle (created on first use with Limits.from_env())."""
    global _default
    with _default_lock:
        if _default is None:
            _default = LoginThrottle()
        return _default
