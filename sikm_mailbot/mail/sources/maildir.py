"""A local Maildir as the inbox: the built-in default, and handy for testing.

Messages waiting in ``new/`` (and ``cur/``, where a mail client may have put them)
are the inbox. Once recorded, a message is renamed into the Maildir++ sub-folder
``.Processed`` or ``.Quarantine`` — an atomic rename, so it is never in two places.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from sikm_mailbot.mail.sources.base import Destination, MessageRef, SourceError

_FOLDERS: dict[str, str] = {"processed": ".Processed", "quarantine": ".Quarantine"}


def ensure_maildir(path: Path) -> None:
    """Create ``path`` as a Maildir (cur/new/tmp), owner-only."""
    for sub in ("", "cur", "new", "tmp"):
        (path / sub).mkdir(mode=0o700, parents=True, exist_ok=True)


def _key(name: str) -> str:
    """The unique part of a Maildir file name (without the ``:2,FLAGS`` info)."""
    return name.split(":", 1)[0]


class MaildirSource:
    """The Source interface over a local Maildir."""

    kind = "maildir"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.folder = str(path)

    def open(self) -> None:
        """Create the Maildir if it is missing."""
        try:
            ensure_maildir(self.path)
        except OSError as exc:
            raise SourceError(f"cannot use Maildir {self.path}: {exc}") from exc

    def close(self) -> None:
        """Nothing to release."""

    def uidvalidity(self) -> int:
        """A Maildir has no UIDVALIDITY."""
        return 0

    def _locate(self, key: str) -> Path | None:
        """The file of ``key`` in new/ or cur/ (its name may carry ``:2,FLAGS``)."""
        for sub in ("new", "cur"):
            d = self.path / sub
            if (d / key).exists():
                return d / key
            for entry in os.scandir(d):
                if _key(entry.name) == key:
                    return Path(entry.path)
        return None

    def list_new(self, after_uid: int = 0) -> list[MessageRef]:
        """Every message still in the inbox, oldest first (the watermark does not apply)."""
        found: list[tuple[float, str, int]] = []
        for sub in ("new", "cur"):
            try:
                entries = list(os.scandir(self.path / sub))
            except FileNotFoundError:
                continue
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_file():
                    continue
                st = entry.stat()
                found.append((st.st_mtime, _key(entry.name), st.st_size))
        found.sort()
        return [MessageRef(uid=key, size=size) for _, key, size in found]

    def fetch(self, refs: Sequence[MessageRef]) -> Iterator[tuple[MessageRef, bytes]]:
        """The raw bytes of each message still present (vanished ones are skipped)."""
        for ref in refs:
            path = self._locate(ref.uid)
            if path is None:
                continue
            try:
                yield ref, path.read_bytes()
            except FileNotFoundError:
                continue

    def finish(self, ref: MessageRef, dest: Destination) -> None:
        """Rename the message into .Processed/cur or .Quarantine/cur; gone = done."""
        path = self._locate(ref.uid)
        if path is None:
            return
        target_dir = self.path / _FOLDERS[dest]
        ensure_maildir(target_dir)
        name = path.name if ":" in path.name else f"{path.name}:2,S"
        target = target_dir / "cur" / name
        if target.exists():  # a reused file name: never overwrite a processed mail
            key, _, info = name.partition(":")
            target = target.with_name(f"{key}.{time.time_ns()}:{info}")
        try:
            os.chmod(path, 0o600)  # kept mail is personal data, whoever delivered it
            os.rename(path, target)
        except FileNotFoundError:
            return

    def wait_for_mail(self, timeout: float) -> bool:
        """A Maildir cannot push: the timed poll does the work."""
        return False
