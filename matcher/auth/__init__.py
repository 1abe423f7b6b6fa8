"""Officer accounts and logins: the users file (users), failure counts (throttle), sign-in (login), file checks (checks),
login tokens that survive a browser refresh (remember)."""

from matcher.auth.checks import check_users_file, demo_accounts
from matcher.auth.login import DISABLED, EMPTY_FORM, WRONG_CREDENTIALS, LoginOutcome, sign_in
from matcher.auth.remember import COOKIE_NAME, RememberLogin, default_remember
from matcher.auth.throttle import Limits, LoginThrottle, Verdict, default_throttle
from matcher.auth.users import (
    DEFAULT_USERS_FILE,
    EXAMPLE_USERS_FILE,
    ROLES,
    User,
    authenticate,
    hash_password,
    load_users,
    users_file,
    verify_password,
)

__all__ = [
    "COOKIE_NAME", "DEFAULT_USERS_FILE", "DISABLED", "EMPTY_FORM", "EXAMPLE_USERS_FILE", "ROLES", "WRONG_CREDENTIALS", "Limits", "LoginOutcome",
    "LoginThrottle", "RememberLogin", "User", "Verdict", "authenticate", "check_users_file", "default_remember",
    "default_throttle", "demo_accounts",
    "hash_password", "load_users", "sign_in", "users_file", "verify_password",
]
