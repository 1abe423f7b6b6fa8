"""Safety checks of the users file: writable by others, or still holding the published demo accounts."""

from __future__ import annotations

import logging
import os
import stat

from matcher.auth.users import EXAMPLE_USERS_FILE, User, load_users, users_file
from matcher.errors import MatcherError

log = logging.getLogger("matcher.auth")


def demo_accounts(users: dict[str, User], example: str | os.PathLike[str] | None = None) -> list[str]:
    """The user names whose password hash is one of the published demo accounts' (config/users.example.toml)."""
    try:
        published = {u.password_hash for u in load_users(example or EXAMPLE_USERS_FILE).values()}
    except MatcherError:
        return []
    return sorted(name for name, user in users.items() if user.password_hash in published)


def check_users_file(path: str | os.PathLike[str] | None = None, users: dict[str, User] | None = None) -> list[str]:
    """Warnings (Chinese, for the administrators) about the users file, each also logged in English.

    Args:
        path: the users file (default: users_file()).
        users: its accounts when already loaded.

    Returns:
        One message per finding: the file may be written by its group or by anyone; it holds demo accounts.
    """
    p = users_file(path)
    found: list[str] = []
    try:
        mode = p.stat().st_mode
    except OSError:
        return found
    if os.name == "posix" and mode & (stat.S_IWGRP | stat.S_IWOTH):
        found.append(f"用户配置文件 {p} 可被同组或其他用户修改（权限 {stat.filemode(mode)}），任何能登录服务器的人都能给自己加账号。"
                     f"请执行：chmod 600 {p}")
        log.warning("the users file %s is writable by its group or others (%s): run chmod 600 %s", p, stat.filemode(mode), p)
    try:
        demo = demo_accounts(users if users is not None else load_users(p))
    except MatcherError:
        demo = []
    if demo:
        found.append(f"用户配置文件 {p} 仍含公开的演示账号（{'、'.join(demo)}），其密码已写在文档里。正式使用前请删除这些账号。")
        log.warning("the users file %s still holds the published demo accounts %s: delete them before real use", p,
                    ", ".join(demo))
    return found

