"""Signing an officer in: empty-form check, throttling per user name and client, password check, a log line per failure."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from matcher.auth.throttle import LoginThrottle, default_throttle
from matcher.auth.users import User, authenticate

EMPTY_FORM = "请输入用户名和密码"
WRONG_CREDENTIALS = "用户名或密码错误"
DISABLED = "该账号已停用，请联系管理员"
log = logging.getLogger("matcher.auth")


@dataclass(frozen=True)
class LoginOutcome:
    """The signed-in user, or the message that says why not (`locked`: refused by the throttle, not checked)."""

    user: User | None
    message: str = ""
    locked: bool = False


def sign_in(username: str, password: str, users: dict[str, User], client: str,
            throttle: LoginThrottle | None = None) -> LoginOutcome:
    """Check a login form: refuse an empty form, a throttled name or client, a wrong name or password.

    Every refusal is logged (logger "matcher.auth") with the user name and the client, never the password.

    Args:
        username: the name typed in.
        password: the password typed in.
        users: the accounts (load_users).
        client: the client's key (address or session) for the per-client count.
        throttle: the failure counts (default: the server process's).

    Returns:
        The outcome: the user when signed in, else the message to show.
    """
    throttle = throttle or default_throttle()
    name = (username or "").strip()
    if not name or not password:
        return LoginOutcome(None, EMPTY_FORM)
    verdict = throttle.begin(name, client)
    if not verdict.allowed:
        log.warning("login refused without a password check (%s %.0f s): user %r from client %s",
                    "locked" if verdict.locked else "too soon, wait", verdict.wait, name, client)
        return LoginOutcome(None, verdict.message, locked=True)
    user = authenticate(name, password, users)
    if user is None:
        log.warning("login failed: user %r from client %s (%s: %d failure(s) in a row)", name, client,
                    "known user" if name in users else "unknown user", throttle.failures(name))
        return LoginOutcome(None, WRONG_CREDENTIALS)
    if user.disabled:
        log.warning("login refused: user %r from client %s is disabled", name, client)
        return LoginOutcome(None, DISABLED)
    throttle.succeeded(name, client)
    log.info("login: user %r from client %s", name, client)
    return LoginOutcome(user)
