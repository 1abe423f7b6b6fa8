"""A throwaway PostgreSQL server on loopback for the tracking tests.

Use `TEST_DATABASE_URL` to point the tests at a server that is already running (CI service);
otherwise the Debian binaries under /usr/lib/postgresql/*/bin start a fresh cluster in a temporary
directory (as the `postgres` user when the tests run as root, since PostgreSQL refuses to run as
root) listening on 127.0.0.1 on a free port, and it is stopped and removed afterwards. When neither
works the PostgreSQL tests are skipped with the reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin that has initdb, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name or 0))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    """initdb + pg_ctl start of a private cluster; `url` is a SQLAlchemy URL of its `postgres` database."""

    def __init__(self) -> None:
        self.bin = pg_bin_dir()
        self.port = _free_port()
        self.dir: Path | None = None
        self.run_as: str | None = None
        self.url = ""

    def _cmd(self, *args: str) -> list[str]:
        cmd = [str(self.bin / args[0]), *args[1:]]
        return ["runuser", "-u", self.run_as, "--", *cmd] if self.run_as else cmd

    def start(self) -> str:
        if self.bin is None:
            raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin "
                               "(install the Debian package: scripts/ci_services.sh or apt-get install postgresql)")
        self.dir = Path(tempfile.mkdtemp(prefix="matcher-pg-"))
        user = "postgres"
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root and there is no 'postgres' system user to run the server as") from None
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.run_as = "postgres"
        else:
            user = pwd.getpwuid(os.geteuid()).pw_name
        data = self.dir / "data"
        self._run(self._cmd("initdb", "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"))
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off -c full_page_writes=off"
        self._run(self._cmd("pg_ctl", "-D", str(data), "-l", str(self.dir / "server.log"), "-o", opts, "-w", "-t", "60", "start"))
        self.url = f"postgresql+psycopg://{user}@127.0.0.1:{self.port}/postgres"
        return self.url

    def _run(self, cmd: list[str]) -> None:
        # run from the cluster's folder: the server user must be able to read its working directory (the
        # test process may sit in a root-only or already removed temporary folder)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=self.dir)
        if proc.returncode != 0:
            log = ""
            if self.dir and (self.dir / "server.log").exists():
                log = (self.dir / "server.log").read_text(errors="replace")[-800:]
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[-800:]} {log}")

    def stop(self) -> None:
        if self.dir is None:
            return
        if self.bin is not None and (self.dir / "data" / "postmaster.pid").exists():
            subprocess.run(self._cmd("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop"),
                           capture_output=True, timeout=60, cwd=self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None


def _reachable(url: str) -> str | None:
    """None when a connection to `url` works, else why not."""
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


@pytest.fixture(scope="session")
def pg_server_url():
    """URL of a reachable PostgreSQL server (skips the test with the reason when there is none)."""
    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if url:
        from matcher.tracking import database_url

        url = database_url(url)
        why = _reachable(url)
        if why:
            pytest.skip(f"PostgreSQL at TEST_DATABASE_URL is not reachable: {why}")
        yield url
        return
    server = PostgresServer()
    try:
        url = server.start()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        server.stop()
        pytest.skip(f"no PostgreSQL server reachable: could not start a throwaway one on loopback ({exc})")
    deadline = time.time() + 30
    why = _reachable(url)
    while why and time.time() < deadline:
        time.sleep(0.5)
        why = _reachable(url)
    if why:
        server.stop()
        pytest.skip(f"throwaway PostgreSQL started but is not reachable: {why}")
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture()
def pg_url(pg_server_url):
    """A fresh, empty database on the PostgreSQL server (dropped after the test)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
