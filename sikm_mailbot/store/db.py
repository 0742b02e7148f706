"""The store: engine creation, schema migrations and sessions.

SQLite by default (WAL, foreign keys, a busy timeout so the daemon and an officer's
command can share the file); any SQLAlchemy URL works, and nothing here or in the
models is SQLite-only. The schema is owned by Alembic and upgraded at start; the
check is one SELECT of ``alembic_version`` against :data:`HEAD_REVISION`, and Alembic
itself (~0.3 s of imports and script loading) runs only when the store is behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, create_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
#: The newest migration in ``migrations/versions``. Bump it with every new migration;
#: tests/test_db_startup.py checks that it equals Alembic's head.
HEAD_REVISION = "0003"


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DB-API connection
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # FULL: a committed "recorded" must survive a power cut, since the mail then
    # leaves the inbox. Cheap at an office's volume.
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


def _prepare_sqlite_file(url: str) -> None:
    """Create the database's folder owner-only; the file itself is made under umask 077."""
    db = make_url(url).database
    if not db or db == ":memory:":
        return
    path = Path(db)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        old = os.umask(0o077)
        try:
            path.touch(mode=0o600)
        finally:
            os.umask(old)
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if p.exists():
            os.chmod(p, 0o600)


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the per-backend settings the bot relies on."""
    if url.startswith("sqlite"):
        _prepare_sqlite_file(url)
        # hide_parameters: an error message must never carry a row's NIK into a log.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def current_revisions(engine: Engine) -> list[str]:
    """The revisions recorded in ``alembic_version`` ([] for a new or unversioned store)."""
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))]
    except DBAPIError:  # no such table yet
        return []


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent; cheap when already there)."""
    if current_revisions(engine) == [HEAD_REVISION]:
        return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_store(url: str) -> Engine:
    """Engine + migrations: what every command calls before touching data."""
    engine = make_engine(url)
    old = os.umask(0o077)  # WAL/SHM side files are created by SQLite on first write
    try:
        migrate(engine)
    finally:
        os.umask(old)
    if url.startswith("sqlite"):
        _prepare_sqlite_file(url)
    return engine


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
