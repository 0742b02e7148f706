"""The reading stages the intake driver runs for each recorded mail.

``prepare`` reads the mail (MIME, delivery report, attachments in the sandbox)
outside any transaction. ``apply`` gathers the facts the store knows about it,
decides what it is (:func:`~sikm_mailbot.intake.detect.detect`, pure) and hands it
to that kind's handler, which makes every database change — application,
attachments, audit events, the queued reply — in the caller's one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlmodel import Session

from sikm_mailbot.config import Settings
from sikm_mailbot.errors import ExtractionError
from sikm_mailbot.intake.detect import detect
from sikm_mailbot.intake.driver import Outcome
from sikm_mailbot.intake.facts import gather_facts
from sikm_mailbot.intake.handlers import HANDLERS
from sikm_mailbot.intake.handlers.common import InMail
from sikm_mailbot.mail.extract import Limits, ReadMessage, read_message
from sikm_mailbot.store.files import FileStore
from sikm_mailbot.store.models import LedgerEntry, utcnow


def reading_limits(settings: Settings) -> Limits:
    """The resource limits for reading one mail, from ``[intake]``."""
    i = settings.intake
    return Limits(
        max_attachments=i.max_attachments,
        max_attachment_bytes=i.max_attachment_bytes,
        max_pdf_pages=i.max_pdf_pages,
        child_timeout=i.parse_timeout,
        child_cpu_seconds=i.parse_cpu_seconds,
        child_memory_bytes=i.parse_memory_mb * 1024 * 1024,
    )


class ReadingPipeline:
    """Turn each recorded mail into an application, a follow-up, a reply or a quarantine."""

    def __init__(
        self, settings: Settings, files: FileStore, now: Callable[[], datetime] = utcnow
    ) -> None:
        self.settings = settings
        self.files = files
        self.now = now
        self.limits = reading_limits(settings)

    def prepare(self, raw: bytes, entry: LedgerEntry) -> ReadMessage:
        """Parse the mail once and read its attachments (sandboxed); no database.

        Raises :class:`ExtractionError` when the mail could not be read at all: the
        driver retries it, then quarantines it with this reason.
        """
        read = read_message(raw, self.limits)
        failed = [d for d in read.defects if d.startswith("ExtractionFailed")]
        if failed:
            raise ExtractionError(f"the mail could not be read ({failed[0]})")
        return read

    def apply(self, session: Session, entry: LedgerEntry, prepared: ReadMessage) -> Outcome:
        """Facts, then the verdict, then its handler: all in ``session``'s transaction."""
        facts = gather_facts(session, prepared, self.settings)
        verdict = detect(prepared, facts)
        mail = InMail(session, entry, prepared, facts, self.settings, self.files, self.now())
        return HANDLERS[verdict.kind](mail, verdict)
