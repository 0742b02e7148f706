"""Disk trouble in words: which path, and why it cannot be written.

A read-only or full ``var/`` must end a writing command with one line — "var/sikm.db:
read-only file system" — never a traceback. This module is the one translation from
what the system says (an ``OSError`` errno, an SQLite error) to a
:class:`~sikm_mailbot.errors.StorageError`; the file store, the engine and the CLI's
last resort all call it.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from sikm_mailbot.errors import StorageError

#: The errnos that mean "this storage cannot take a write", not "this input is bad".
STORAGE_ERRNOS = frozenset({errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM})

# SQLite's words (sqlite3_errstr) for a store that cannot be written or opened.
_SQLITE_READONLY = "attempt to write a readonly database"
_SQLITE_FULL = "database or disk is full"
_SQLITE_CANTOPEN = "unable to open database file"
_SQLITE_IOERR = "disk i/o error"

#: Below this much free space a store counts as full: SQLite cannot even make its
#: 32 KiB shared-memory file, so it is opened read-only and reading still works.
MIN_FREE_BYTES = 256 * 1024


def shown(path: Path | str) -> str:
    """``path`` as a person finds it: relative to the working folder when inside it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except (OSError, ValueError):
        return str(p)


def cause_of(code: int) -> str:
    """``errno.EROFS`` → ``"read-only file system"``."""
    return os.strerror(code)[:1].lower() + os.strerror(code)[1:]


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing parent."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _space_left(path: Path) -> bool:
    """Whether the file system holding ``path`` has room for a few more pages."""
    try:
        st = os.statvfs(_existing(path))
    except OSError:
        return True
    blocks = st.f_bfree if os.geteuid() == 0 else st.f_bavail  # root may use the reserve
    return blocks * st.f_frsize >= MIN_FREE_BYTES


def write_blocker(path: Path) -> str | None:
    """Why ``path`` (a file, or a folder to write into) cannot be written; None = it can.

    Read-only, not permitted, or (nearly) full. Looks, does not write: safe on a full
    disk and on a read-only one.
    """
    targets = [_existing(path)]
    if path.is_file():
        targets.append(path.parent)  # SQLite also writes -wal/-shm beside the file
    for target in targets:
        if os.access(target, os.W_OK):
            continue
        try:
            if os.statvfs(target).f_flag & os.ST_RDONLY:
                return cause_of(errno.EROFS)
        except OSError:
            pass
        return cause_of(errno.EACCES)
    if not _space_left(path):
        return cause_of(errno.ENOSPC)
    return None


def from_os_error(exc: BaseException, path: Path | str | None = None) -> StorageError | None:
    """A StorageError for an ``OSError`` that says the disk refused a write; else None."""
    if not isinstance(exc, OSError) or exc.errno not in STORAGE_ERRNOS:
        return None
    where = path if path is not None else exc.filename
    if where is None:
        return None
    return StorageError(shown(where), cause_of(exc.errno))


def from_sqlite_error(exc: BaseException, db_path: Path) -> StorageError | None:
    """A StorageError for an SQLite error that means the database file cannot take a
    write (read-only, full, cannot be opened); None for anything else (locked, SQL)."""
    text = str(exc).strip().lower()
    if not isinstance(exc, sqlite3.Error):
        return None
    if text.startswith(_SQLITE_FULL):
        return StorageError(shown(db_path), cause_of(errno.ENOSPC))
    if text.startswith((_SQLITE_READONLY, _SQLITE_CANTOPEN, _SQLITE_IOERR)):
        cause = write_blocker(db_path) or text
        if text.startswith(_SQLITE_CANTOPEN) and not db_path.exists():
            cause = cause_of(errno.ENOENT)
        return StorageError(shown(db_path), cause)
    return None


def as_storage_error(exc: BaseException, db_path: Path | None = None) -> StorageError | None:
    """The StorageError behind ``exc`` or its causes (OSError, SQLite), if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StorageError):
            return current
        found = from_os_error(current)
        if found is None and db_path is not None:
            found = from_sqlite_error(current, db_path)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None
