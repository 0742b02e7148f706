"""What every handler works with: one incoming mail in hand, and the few acts they share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from sikm_mailbot.config import Settings
from sikm_mailbot.desk.review import BroughtFile, Review, Submission
from sikm_mailbot.intake.driver import Outcome
from sikm_mailbot.intake.facts import Facts, bound_address
from sikm_mailbot.mail.extract import ReadMessage
from sikm_mailbot.outbox.compose import NO_DETAILS, MailDetails
from sikm_mailbot.outbox.notify import Notice, OutgoingFile, Threading, notify
from sikm_mailbot.store import ledger
from sikm_mailbot.store.audit import record_event
from sikm_mailbot.store.files import FileStore
from sikm_mailbot.store.models import Application, Attachment, LedgerEntry


@dataclass
class InMail:
    """One incoming mail being handled, inside the transaction that records its outcome."""

    session: Session
    entry: LedgerEntry
    read: ReadMessage
    facts: Facts
    settings: Settings
    files: FileStore
    now: datetime  # one instant for everything this mail causes
    unanswered: str = ""  # why a reply was not sent, for the ledger

    def event(self, action: str, *, application_id: str | None = None, **kw: Any) -> None:
        """Append an audit event about this mail."""
        record_event(
            self.session, application_id, action, at=self.now, ledger_id=self.entry.id, **kw
        )

    def flag(self, app: Application, flag: str) -> None:
        """Add ``flag`` to the application once, for the officer to see."""
        if flag not in app.flags:
            app.flags = [*app.flags, flag]
            self.session.add(app)

    def reply(
        self,
        kind: str,
        app: Application | None = None,
        *,
        details: MailDetails = NO_DETAILS,
        attachments: tuple[OutgoingFile, ...] = (),
    ) -> None:
        """Answer, threaded on this mail, in the current transaction.

        About an application: to its bound address only. Otherwise to the From
        address (never Reply-To: a forged From with a Reply-To elsewhere must not
        pull anything out of the desk). Nothing at all when the office MTA says the
        sender's authentication failed: no backscatter to forged senders.
        """
        if self.facts.auth.failed:
            self.unanswered = f"sender authentication failed ({', '.join(self.facts.auth.details)})"
            self.event(
                "reply_suppressed",
                application_id=app.id if app else None,
                detail=f"{kind} not sent: {self.unanswered}",
            )
            return
        to_addr = bound_address(app) if app is not None else self.read.from_addr
        if not to_addr:
            self.event(
                "reply_suppressed",
                application_id=app.id if app else None,
                detail="no address to answer",
            )
            return
        notice = Notice(
            kind=kind,
            to=to_addr,
            application=app,
            thread=Threading.answering(self.read.message_id, self.read.references),
            details=details,
            attachments=attachments,
            ledger_id=self.entry.id,
        )
        notify(self.session, notice, self.settings, now=self.now)

    def answer_review(self, app: Application, review: Review) -> None:
        """Tell the sender what the re-assessment found (ack, incomplete, unreadable)."""
        self.reply(review.reply, app, details=MailDetails(unreadable=review.unreadable))

    def submission(self, *, first: bool) -> Submission:
        """What this mail brings to an application, for the re-assessment."""
        read = self.read
        files = tuple(
            BroughtFile(f.filename, f.sha256, f.kind, f.problem) for f in read.attachments
        )
        return Submission(
            fields=dict(read.fields),
            sender=read.from_addr,
            files=files,
            too_many_files=read.too_many_attachments,
            first=first,
            ledger_id=self.entry.id,
        )

    def done(
        self, outcome: str, *, application: Application | None = None, reason: str = ""
    ) -> Outcome:
        """The mail is handled: ``outcome`` for the ledger, moved to the processed folder."""
        if self.unanswered:
            reason = "; ".join(r for r in (reason, f"not answered: {self.unanswered}") if r)
        return Outcome(
            ledger.STAGE_DONE,
            outcome,
            reason=reason,
            application_id=application.id if application else None,
        )


def store_files(mail: InMail, app: Application) -> None:
    """Keep this mail's attachments with ``app``: each content once per application."""
    session = mail.session
    kept = session.exec(select(Attachment).where(Attachment.application_id == app.id))
    seen = {a.sha256 for a in kept}
    for att in mail.read.attachments:
        if att.sha256 in seen:
            continue
        seen.add(att.sha256)
        if att.data and att.problem != "file_too_large":
            mail.files.put(att.data)
        session.add(
            Attachment(
                application_id=app.id,
                ledger_id=mail.entry.id,
                filename=att.filename,
                kind=att.kind,
                declared_type=att.declared_type,
                detected_type=att.detected_type,
                sha256=att.sha256,
                size=att.size,
                origin=att.origin,
                problem=att.problem,
                reason=att.reason,
                field_source=att.field_source,
                fields=dict(att.fields),
                text_excerpt=att.text_excerpt,
                pages=att.pages,
                width=att.width,
                height=att.height,
            )
        )
    session.flush()
