"""Officer accounts: bcrypt-hashed passwords and roles (viewer / editor) read from a TOML or JSON file.

The file (env MATCHER_USERS_FILE, default config/users.toml) looks like::

    [users.zhang]
    name = "张老师"          # shown in the app and written into the tracking history
    role = "editor"          # "editor" may change tracking, "viewer" may only read
    password_hash = "$2b$12$..."   # from matcher.auth.hash_password("...")
    disabled = false         # true: the account cannot sign in, and its open sessions and login cookies end

A JSON file has the same shape: {"users": {"zhang": {"name": ..., "role": ..., "password_hash": ...}}}.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import bcrypt

from matcher.config import PROJECT_ROOT
from matcher.errors import MatcherError

ROLES = ("viewer", "editor")
DEFAULT_USERS_FILE = PROJECT_ROOT / "config" / "users.toml"
EXAMPLE_USERS_FILE = PROJECT_ROOT / "config" / "users.example.toml"
# compared against when the user name is unknown, so a wrong name costs as long as a wrong password
_DUMMY_HASH = "$2b$12$Lr6yq4bmnN2Xk0d0o1Y4UuXk0mC9c3b7m0rP0hB7o0Vd7x2y0bGxS"


@dataclass(frozen=True)
class User:
    """A signed-in officer."""

    username: str
    name: str
    role: str
    password_hash: str = ""
    disabled: bool = False

    @property
    def can_edit(self) -> bool:
        return self.role == "editor"

    @property
    def label(self) -> str:
        return f"{self.name}（{'编辑' if self.can_edit else '只读'}）"


def users_file(path: str | os.PathLike[str] | None = None) -> Path:
    """The users file: `path`, else env MATCHER_USERS_FILE, else config/users.toml."""
    return Path(path or os.environ.get("MATCHER_USERS_FILE") or DEFAULT_USERS_FILE).expanduser()


def hash_password(password: str, *, rounds: int = 12) -> str:
    """A bcrypt hash of `password` to put into the users file.

    Example: ``python -c "from matcher.auth import hash_password; print(hash_password('secret'))"``
    """
    if not password:
        raise MatcherError("the password is empty")
    if len(password.encode("utf-8")) > 72:
        raise MatcherError("bcrypt uses at most 72 bytes of a password: choose a shorter one")
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=rounds)).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    """Whether `password` matches the bcrypt `password_hash` (False for a malformed hash)."""
    try:
        return bcrypt.checkpw(password.encode("utf-8")[:72], password_hash.encode("ascii"))
    except (ValueError, TypeError):
        return False


def load_users(path: str | os.PathLike[str] | None = None) -> dict[str, User]:
    """Read the users file.

    Raises:
        MatcherError: the file is missing or malformed, a role is unknown or a hash is not bcrypt.
    """
    p = users_file(path)
    if not p.is_file():
        hint = f"（演示可复制 {EXAMPLE_USERS_FILE.relative_to(PROJECT_ROOT)} 为 config/users.toml）" if EXAMPLE_USERS_FILE.is_file() else ""
        raise MatcherError(f"未找到用户配置文件 {p}{hint}；或用环境变量 MATCHER_USERS_FILE 指定")
    try:
        text = p.read_text(encoding="utf-8")
        data = json.loads(text) if p.suffix.lower() == ".json" else tomllib.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise MatcherError(f"用户配置文件 {p} 无法读取：{exc}") from None
    entries = data.get("users")
    if not isinstance(entries, dict) or not entries:
        raise MatcherError(f"用户配置文件 {p} 中没有 [users.<用户名>] 条目")
    users: dict[str, User] = {}
    for username, entry in entries.items():
        if not isinstance(entry, dict):
            raise MatcherError(f"用户配置文件 {p}：用户 {username} 的条目格式不对")
        role = str(entry.get("role", "viewer"))
        if role not in ROLES:
            raise MatcherError(f"用户配置文件 {p}：用户 {username} 的角色 '{role}' 无效，可选 {', '.join(ROLES)}")
        pw_hash = str(entry.get("password_hash", ""))
        if not pw_hash.startswith(("$2a$", "$2b$", "$2y$")):
            raise MatcherError(f"用户配置文件 {p}：用户 {username} 的 password_hash 不是 bcrypt 哈希（用 matcher.auth.hash_password 生成）")
        disabled = entry.get("disabled", False)
        if not isinstance(disabled, bool):
            raise MatcherError(f"用户配置文件 {p}：用户 {username} 的 disabled 应为 true 或 false")
        users[str(username)] = User(str(username), str(entry.get("name") or username), role, pw_hash, disabled)
    return users


def authenticate(username: str, password: str, users: dict[str, User]) -> User | None:
    """The user when name and password match, else None (same cost for unknown names). A disabled account is
    returned too: the caller refuses it (`login.sign_in` says so only after the right password)."""
    user = users.get((username or "").strip())
    if user is None:
        verify_password(password or "", _DUMMY_HASH)
        return None
    return user if verify_password(password or "", user.password_hash) else None
