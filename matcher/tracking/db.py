"""Where the tracking tables live (DATABASE_URL or a SQLite file), Alembic upgrades, database failures as one message."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError

from matcher.config import PROJECT_ROOT
from matcher.errors import MatcherError

if TYPE_CHECKING:
    from alembic.config import Config

DEFAULT_SQLITE = PROJECT_ROOT / "artifacts" / "tracking.sqlite"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
log = logging.getLogger("matcher.tracking")


class DatabaseError(MatcherError):
    """The tracking database cannot be used: `str()` is the officer's (Chinese) message, `english` the CLI's.

    Attributes:
        english: the same message in English.
    """

    def __init__(self, message: str, english: str) -> None:
        super().__init__(message)
        self.english = english


def database_url(url: str | None = None) -> str:
    """The tracking database URL: `url`, else env DATABASE_URL, else the SQLite file artifacts/tracking.sqlite.

    `postgres://` and `postgresql://` URLs are given the psycopg (v3) driver.
    """
    url = (url or os.environ.get("DATABASE_URL") or "").strip() or f"sqlite:///{DEFAULT_SQLITE}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix):]
    return url


def sqlite_file(url: str | URL) -> Path | None:
    """The file of a SQLite URL (plain or URI-style `sqlite:///file:x.db?mode=rw&uri=true`); None for other
    backends and in-memory databases."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    name = parsed.database
    if str(parsed.query.get("uri", "")).lower() in ("true", "1"):
        if not name.startswith("file:"):
            return None
        name = name[len("file:"):].split("?", 1)[0]
        if name.startswith("//"):  # file://host/path: only the local host is allowed by SQLite
            name = "/" + name[2:].split("/", 1)[-1]
        if not name or name == ":memory:" or parsed.query.get("mode") == "memory":
            return None
    return Path(name).expanduser()


def where(url: str | URL) -> str:
    """The database as shown in messages (the password hidden)."""
    parsed = make_url(url) if isinstance(url, str) else url
    path = sqlite_file(parsed)
    return str(path) if path is not None else parsed.render_as_string(hide_password=True)


def make_engine(url: str | None = None) -> Engine:
    """An engine for the tracking database (the SQLite file's folder is created when needed).

    Raises:
        MatcherError: the URL cannot be parsed or its driver is not installed.
    """
    url = database_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseError(f"DATABASE_URL 不是有效的数据库地址：{exc}",
                            f"DATABASE_URL is not a valid database URL: {exc}") from None
    kwargs: dict = {"future": True}
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite:
        path = sqlite_file(parsed)
        if path is not None and parsed.query.get("mode") not in ("ro", "rw"):
            path.parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(parsed, **kwargs)
    except (ImportError, ArgumentError) as exc:
        shown = parsed.render_as_string(hide_password=True)
        raise DatabaseError(f"无法使用跟踪数据库 {shown}：{exc}", f"cannot use the tracking database {shown}: {exc}") from None
    if sqlite:
        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # noqa: ANN001 - DBAPI hook
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            try:
                cur.execute("PRAGMA journal_mode=WAL")
            except Exception:  # noqa: BLE001 - a read-only database keeps its journal mode
                pass
            cur.close()
    return engine


def explain(exc: BaseException, url: str | URL) -> DatabaseError:
    """The officer's message for a database failure `exc` on `url` (what happened and what to do)."""
    shown = where(url)
    text = str(getattr(exc, "orig", None) or exc).lower()
    sqlite = (make_url(url) if isinstance(url, str) else url).get_backend_name() == "sqlite"
    if type(exc).__name__ == "CommandError" and "can't locate revision" in text:
        return DatabaseError(
            f"跟踪数据库 {shown} 的结构版本比本程序新（由更新版本的工作台创建），本程序无法使用它；数据未做任何改动。"
            "请升级本程序，或让 DATABASE_URL 指向与本版本对应的数据库。",
            f"the tracking database {shown} has a newer schema than this program ({exc}); nothing was changed: "
            "upgrade the program or point DATABASE_URL at a database of this version")
    if "readonly" in text or "read-only" in text or "read only" in text:
        return DatabaseError(
            f"跟踪数据库 {shown} 是只读的（文件、所在文件夹或数据库账号不允许写入），本次修改未保存。请联系管理员检查权限。",
            f"the tracking database {shown} is read-only; the change was not saved")
    if "append-only" in text:
        return DatabaseError(f"跟踪历史只能追加，不能修改或删除（数据库 {shown} 拒绝了该操作）。",
                             f"the tracking history in {shown} is append-only: the change was refused")
    if sqlite and "unable to open database file" in text:
        return DatabaseError(
            f"无法打开跟踪数据库文件 {shown}（文件或文件夹不存在，或没有权限）。请检查 DATABASE_URL。",
            f"cannot open the tracking database file {shown} (missing or no permission): check DATABASE_URL")
    if sqlite and "locked" in text:
        return DatabaseError(f"跟踪数据库 {shown} 正被其他程序占用，本次操作未完成，请稍后重试。",
                             f"the tracking database {shown} is locked by another program; try again later")
    if not sqlite and isinstance(exc, OperationalError | DBAPIError):
        return DatabaseError(
            f"无法连接跟踪数据库 {shown}（数据库服务器未启动，或地址、端口、库名、用户名、密码有误）。请联系管理员。",
            f"cannot connect to the tracking database {shown}: {text.splitlines()[0] if text else type(exc).__name__}")
    return DatabaseError(f"跟踪数据库 {shown} 出错（{type(exc).__name__}），本次操作未完成。详情已写入服务器日志。",
                         f"the tracking database {shown} failed: {type(exc).__name__}: {text.splitlines()[0] if text else ''}")


@contextmanager
def guarded(url: str | URL, action: str) -> Iterator[None]:
    """Turn a database failure inside the block into a DatabaseError, logging the details.

    Args:
        url: the database (for the message).
        action: what was being done, for the log (e.g. "update item 3").
    """
    try:
        yield
    except MatcherError:
        raise
    except (SQLAlchemyError, OSError) as exc:
        err = explain(exc, url)
        log.error("tracking database %s: %s failed: %s", where(url), action, err.english, exc_info=True)
        raise err from None
    except Exception as exc:
        if type(exc).__name__ != "CommandError":  # alembic's, imported lazily
            raise
        err = explain(exc, url)
        log.error("tracking database %s: %s failed: %s", where(url), action, err.english, exc_info=True)
        raise err from None


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration pointing at the packaged migrations (no alembic.ini needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = database_url(url)
    return cfg


def upgrade_db(url: str | Engine | None = None, revision: str = "head") -> None:
    """Bring the tracking schema up to `revision` with Alembic (idempotent; run on every start-up).

    Args:
        url: a database URL or an Engine; None for DATABASE_URL / the default SQLite file.
        revision: the target revision.

    Raises:
        DatabaseError: the database cannot be reached or migrated, or it has a newer schema than the code.
    """
    from alembic import command

    engine = url if isinstance(url, Engine) else make_engine(url)
    cfg = alembic_config(None if isinstance(url, Engine) else url)
    try:
        with guarded(engine.url, f"migrate to {revision}"), engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        if not isinstance(url, Engine):
            engine.dispose()
