"""Staying signed in across a browser refresh: a signed, expiring login token (itsdangerous) for a cookie.

The token names the user, a keyed fingerprint of their password hash and a random id; it is signed with the secret
of MATCHER_LOGIN_COOKIE_SECRET (or the file named by MATCHER_LOGIN_COOKIE_SECRET_FILE) and expires after
MATCHER_LOGIN_COOKIE_HOURS (default 8). A token is refused when its signature or age is wrong, when the account was
removed or disabled, when its password changed (the fingerprint no longer fits), and when it was signed out
(`revoke`: kept in memory by the server process until the token would have expired anyway).

Without a secret (or with one shorter than 32 characters) tokens are off: `RememberLogin.from_env` returns None and
logs why, and every refresh asks for the password again. No key is ever built in.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

from matcher.auth.users import User
from matcher.errors import MatcherError

COOKIE_NAME = "matcher_login"
MIN_SECRET_LENGTH = 32
DEFAULT_HOURS = 8.0
_SALT = "matcher.auth.remember"
log = logging.getLogger("matcher.auth")


def _secret_from_env() -> tuple[str, str]:
    """The secret and where it came from ("" when none is set).

    Raises:
        MatcherError: MATCHER_LOGIN_COOKIE_SECRET_FILE names a file that cannot be read.
    """
    value = os.environ.get("MATCHER_LOGIN_COOKIE_SECRET", "").strip()
    if value:
        return value, "MATCHER_LOGIN_COOKIE_SECRET"
    path = os.environ.get("MATCHER_LOGIN_COOKIE_SECRET_FILE", "").strip()
    if not path:
        return "", ""
    try:
        return Path(path).expanduser().read_text(encoding="utf-8").strip(), path
    except (OSError, UnicodeDecodeError) as exc:
        raise MatcherError(f"MATCHER_LOGIN_COOKIE_SECRET_FILE {path} cannot be read: {exc}") from None


def _hours_from_env() -> float:
    """MATCHER_LOGIN_COOKIE_HOURS (default 8).

    Raises:
        MatcherError: the value is not a positive number.
    """
    raw = os.environ.get("MATCHER_LOGIN_COOKIE_HOURS", "").strip()
    try:
        hours = float(raw) if raw else DEFAULT_HOURS
    except ValueError:
        hours = -1.0
    if not hours > 0 or not math.isfinite(hours):
        raise MatcherError(f"MATCHER_LOGIN_COOKIE_HOURS must be a positive number of hours (got {raw!r})")
    return hours


class RememberLogin:
    """Issues and checks login tokens (thread-safe; share one per server process, see `default_remember`).

    Args:
        secret: the signing key (at least 32 characters).
        hours: how long a token is valid after the login.
        clock: seconds since the epoch (tests pass a fake clock).

    Raises:
        MatcherError: the secret is too short or the hours are not positive.
    """

    def __init__(self, secret: str, hours: float = DEFAULT_HOURS, clock: Callable[[], float] = time.time) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise MatcherError(f"the login cookie secret must have at least {MIN_SECRET_LENGTH} characters")
        if not hours > 0 or not math.isfinite(hours):
            raise MatcherError(f"the login cookie lifetime must be a positive number of hours (got {hours!r})")
        self.hours = hours
        self.clock = clock
        self._key = secret.encode("utf-8")
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT)
        self._revoked: dict[str, float] = {}  # token id -> when it expires anyway
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls) -> RememberLogin | None:
        """The tokens configured by the environment, or None (logged as a warning) when no usable secret is set.

        Raises:
            MatcherError: the secret file cannot be read or MATCHER_LOGIN_COOKIE_HOURS is not a positive number.
        """
        secret, source = _secret_from_env()
        hours = _hours_from_env()
        if not secret:
            log.warning("no MATCHER_LOGIN_COOKIE_SECRET (or MATCHER_LOGIN_COOKIE_SECRET_FILE) is set: logins are not "
                        "kept across a browser refresh")
            return None
        if len(secret) < MIN_SECRET_LENGTH:
            log.warning("the login cookie secret from %s has fewer than %d characters: logins are not kept across a "
                        "browser refresh", source, MIN_SECRET_LENGTH)
            return None
        return cls(secret, hours)

    @property
    def max_age(self) -> int:
        """The token's lifetime in whole seconds (the cookie's Max-Age)."""
        return int(self.hours * 3600)

    def _fingerprint(self, user: User) -> str:
        """A keyed digest of the user's password hash: a changed password invalidates the token, and the token
        (readable, only signed) tells nothing about the hash."""
        return hmac.new(self._key, user.password_hash.encode("utf-8"), hashlib.sha256).hexdigest()[:24]

    def issue(self, user: User) -> str:
        """A new token for `user` (signed now, valid for `hours`)."""
        payload = {"u": user.username, "f": self._fingerprint(user), "j": secrets.token_urlsafe(12)}
        return self._serializer.dumps(payload)

    def _payload(self, token: str) -> dict | None:
        """The token's payload when its signature is right and it has not expired, else None."""
        try:
            payload, signed = self._serializer.loads(token, max_age=None, return_timestamp=True)
        except BadSignature:
            return None
        if not isinstance(payload, dict) or self.clock() - signed.timestamp() > self.hours * 3600:
            return None
        return payload

    def expires_at(self, token: str) -> float | None:
        """When a well-signed, unexpired token expires (seconds since the epoch), else None."""
        try:
            _, signed = self._serializer.loads(token or "", max_age=None, return_timestamp=True)
        except BadSignature:
            return None
        end = signed.timestamp() + self.hours * 3600
        return end if end > self.clock() else None

    def verify(self, token: str, users: dict[str, User]) -> User | None:
        """The user a token signs in, or None (bad signature, expired, revoked, account removed, disabled or with a
        changed password). Every refusal of a well-signed token is logged with the user name."""
        payload = self._payload(token or "")
        if payload is None:
            return None
        name, jti = str(payload.get("u", "")), str(payload.get("j", ""))
        with self._lock:
            revoked = jti in self._revoked
        user = users.get(name)
        why = ("signed out" if revoked else "account removed" if user is None else "account disabled" if user.disabled
               else "password changed" if not hmac.compare_digest(self._fingerprint(user), str(payload.get("f", "")))
               else "")
        if why:
            log.info("login cookie refused for user %r: %s", name, why)
            return None
        return user

    def revoke(self, token: str) -> None:
        """Refuse this token from now on (sign-out); forgotten once it would have expired anyway."""
        payload = self._payload(token or "")
        if payload is None:
            return
        now = self.clock()
        with self._lock:
            self._revoked = {j: until for j, until in self._revoked.items() if until > now}
            self._revoked[str(payload.get("j", ""))] = now + self.hours * 3600


_defaults: dict[tuple[str, str, str], RememberLogin | None] = {}
_defaults_lock = threading.Lock()


def default_remember() -> RememberLogin | None:
    """The server process's token issuer for the current environment (read once per set of values), or None when
    tokens are off: no usable secret, an unreadable secret file or a bad MATCHER_LOGIN_COOKIE_HOURS (each logged)."""
    key = tuple(os.environ.get(name, "") for name in (
        "MATCHER_LOGIN_COOKIE_SECRET", "MATCHER_LOGIN_COOKIE_SECRET_FILE", "MATCHER_LOGIN_COOKIE_HOURS"))
    with _defaults_lock:
        if key not in _defaults:
            try:
                _defaults[key] = RememberLogin.from_env()
            except MatcherError as exc:
                log.error("%s: logins are not kept across a browser refresh", exc)
                _defaults[key] = None
        return _defaults[key]
