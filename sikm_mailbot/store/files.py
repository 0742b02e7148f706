"""Content-addressed, owner-only file store for raw mail and attachments."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from sikm_mailbot.store import disk


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileStore:
    """Files named by their SHA-256 under ``root/ab/cd/<sha256>``, mode 0600, dirs 0700.

    Writing is atomic (temp file + fsync + rename), so a crash never leaves a
    half-written file under a valid name, and writing the same bytes twice is a no-op.
    A disk that refuses the write (full, read-only) raises StorageError naming the
    store's folder; the temp file is removed first.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        """Where the file with this digest lives (whether or not it exists)."""
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        """Store ``data``; return its SHA-256. Idempotent."""
        digest = sha256_hex(data)
        target = self.path(digest)
        if target.exists():
            return digest
        try:
            self._write(target, data)
        except OSError as exc:
            found = disk.from_os_error(exc, self.root)
            if found is None:
                raise
            raise found from exc
        return digest

    def _write(self, target: Path, data: bytes) -> None:
        """Write ``data`` to ``target`` through a temp file beside it, then rename."""
        for d in (self.root, target.parent.parent, target.parent):
            d.mkdir(mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
            _fsync_dir(target.parent)  # the rename itself must survive a power cut
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, sha256: str) -> bytes:
        """The stored bytes; FileNotFoundError when absent."""
        return self.path(sha256).read_bytes()

    def exists(self, sha256: str) -> bool:
        """Whether a file with this digest is stored."""
        return self.path(sha256).exists()
