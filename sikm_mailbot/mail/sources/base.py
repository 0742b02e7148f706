"""The one small interface every mail source implements."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from sikm_mailbot.errors import SourceError as BaseSourceError

Destination = Literal["processed", "quarantine"]


class SourceError(BaseSourceError):
    """A source could not be read or changed; the message says what and where."""


@dataclass(frozen=True)
class MessageRef:
    """A message in the source's inbox, known before its body is downloaded.

    ``uid`` is the IMAP UID (as a decimal string) or the Maildir key.
    ``uidvalidity`` is the IMAP UIDVALIDITY of the folder (0 for a Maildir).
    ``size`` is RFC822.SIZE (IMAP) or the file size (Maildir), in bytes.
    """

    uid: str
    size: int
    uidvalidity: int = 0


class Source(Protocol):
    """Read new mail from one inbox folder, then move it out once recorded.

    Reading never marks mail as seen. ``list_new`` returns only messages whose
    UID is above ``after_uid`` (IMAP) or that are still in ``new/`` (Maildir),
    oldest first, without downloading bodies.
    """

    kind: str  # "imap" or "maildir"
    folder: str  # the inbox folder name, for the ledger

    def open(self) -> None:
        """Connect (or check the directory exists); idempotent."""

    def close(self) -> None:
        """Release the connection; never raises."""

    def uidvalidity(self) -> int:
        """The folder's current UIDVALIDITY (0 where the source has none)."""

    def list_new(self, after_uid: int = 0) -> list[MessageRef]:
        """Messages still in the inbox, oldest first, sizes known, no bodies."""

    def fetch(self, refs: Sequence[MessageRef]) -> Iterator[tuple[MessageRef, bytes]]:
        """Download the raw bytes of ``refs`` (in batches), without marking them seen."""

    def finish(self, ref: MessageRef, dest: Destination) -> None:
        """Move a fully recorded message out of the inbox to ``dest``.

        A message already gone (moved by an earlier run) is not an error.
        """

    def wait_for_mail(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds for new mail (IMAP IDLE).

        Returns True when the server announced new mail, False on timeout or
        when the source cannot push (then the caller's timed poll is the way).
        """
