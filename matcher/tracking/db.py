"""Where the tracking tables live (DATABASE_URL or a local SQLite file) and Alembic upgrades on start-up."""

from __future__ import annotations

import os
from pathlib import Path

from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from matcher.config import PROJECT_ROOT
from matcher.errors import MatcherError

if TYPE_CHECKING:
    from alembic.config import Config

DEFAULT_SQLITE = PROJECT_ROOT / "artifacts" / "tracking.sqlite"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def database_url(url: str | None = None) -> str:
    """The tracking database URL: `url`, else env DATABASE_URL, else the SQLite file artifacts/tracking.sqlite.

    `postgres://` and `postgresql://` URLs are given the psycopg (v3) driver.
    """
    url = (url or os.environ.get("DATABASE_URL") or "").strip() or f"sqlite:///{DEFAULT_SQLITE}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str | None = None) -> Engine:
    """An engine for the tracking database (the SQLite file's folder is created when needed).

    Raises:
        MatcherError: the URL cannot be parsed or its driver is not installed.
    """
    url = database_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise MatcherError(f"DATABASE_URL is not a valid database URL: {exc}") from None
    kwargs: dict = {"future": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(parsed, **kwargs)
    except (ImportError, ArgumentError) as exc:
        raise MatcherError(f"cannot use the tracking database {parsed.render_as_string(hide_password=True)}: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # noqa: ANN001 - DBAPI hook
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()
    return engine


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
        MatcherError: the database cannot be reached or migrated.
    """
    from alembic import command

    engine = url if isinstance(url, Engine) else make_engine(url)
    cfg = alembic_config(None if isinstance(url, Engine) else url)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except SQLAlchemyError as exc:
        where = engine.url.render_as_string(hide_password=True)
        raise MatcherError(f"cannot prepare the tracking database {where}: {type(exc).__name__}: {exc.args[0] if exc.args else exc}") from None
    finally:
        if not isinstance(url, Engine):
            engine.dispose()
