"""The store: engine creation, schema migrations and sessions.

SQLite by default (WAL, foreign keys, a busy timeout so the daemon and an officer's
command can share the file); any SQLAlchemy URL works, and nothing here or in the
models is SQLite-only. The schema is owned by Alembic and upgraded at start; the
check is one SELECT of ``alembic_version`` against :data:`HEAD_REVISION`, and Alembic
itself (~0.3 s of imports and script loading) runs only when the store is behind.

A disk that refuses writes (read-only, full) never shows as a traceback: an SQLite
file that cannot be written is opened read-only, so reading commands still work, and
every SQLite error meaning "cannot write or open this file" becomes a
:class:`~sikm_mailbot.errors.StorageError` naming the file (store/disk.py). The
transaction it interrupted is rolled back by SQLite, so the database stays whole.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Engine, ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, create_engine

from sikm_mailbot.store import disk

log = logging.getLogger(__name__)

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


def sqlite_file(url: str | URL) -> Path | None:
    """The database file of an SQLite URL; None for other backends and in-memory."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return None
    db = parsed.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db)


def _side_files(path: Path) -> tuple[Path, Path, Path]:
    return path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def _prepare_sqlite_file(path: Path) -> None:
    """Create the database's folder owner-only; the file itself is made under umask 077.

    On a disk that refuses writes an existing file is left as it is (it is opened
    read-only); a missing one is a StorageError.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            old = os.umask(0o077)
            try:
                path.touch(mode=0o600)
            finally:
                os.umask(old)
    except OSError as exc:
        found = disk.from_os_error(exc, path)
        if found is None:
            raise
        raise found from exc
    for p in _side_files(path):
        try:
            if stat.S_IMODE(p.stat().st_mode) != 0o600:
                os.chmod(p, 0o600)
        except FileNotFoundError:
            pass
        except OSError as exc:  # a read-only disk: it cannot be tightened, nor written
            if exc.errno not in disk.STORAGE_ERRNOS:
                raise


def _read_only_url(path: Path) -> URL:
    """An SQLite URI that reads ``path`` without writing anything beside it.

    With a WAL holding commits, ``mode=ro`` reads it (it needs the -shm); without one,
    ``immutable=1``, since ``mode=ro`` would still have to create the -shm.
    """
    wal = _side_files(path)[1]
    has_wal = wal.exists() and wal.stat().st_size > 0
    query = {"mode": "ro", "uri": "true"} if has_wal else {"immutable": "1", "uri": "true"}
    return URL.create("sqlite", database="file:" + quote(str(path.resolve())), query=query)


def _storage_error(path: Path, ctx: ExceptionContext) -> None:
    """handle_error hook: "read-only", "disk is full", "unable to open" → StorageError."""
    found = disk.from_sqlite_error(ctx.original_exception, path)
    if found is not None:
        raise found from ctx.sqlalchemy_exception


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the per-backend settings the bot relies on."""
    if url.startswith("sqlite"):
        target: str | URL = url
        path = sqlite_file(url)
        if path is not None:
            _prepare_sqlite_file(path)
            blocker = disk.write_blocker(path)
            if blocker is not None:
                log.debug("%s: %s: opened read-only", disk.shown(path), blocker)
                target = _read_only_url(path)
        # hide_parameters: an error message must never carry a row's NIK into a log.
        engine = create_engine(
            target,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        if path is not None:
            event.listen(engine, "handle_error", partial(_storage_error, path))
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
    path = sqlite_file(url)
    if path is not None:
        _prepare_sqlite_file(path)
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
