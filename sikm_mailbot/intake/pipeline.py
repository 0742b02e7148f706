"""The reading stages plugged into the intake: triage → extract → assess → store → reply.

``prepare`` reads the mail (MIME, attachments in a sandbox) outside any transaction;
``apply`` makes every database change for the message — application, attachments,
audit events and the queued reply — in the caller's single transaction. Each
decision is one small rule, tried in order, like a chain of Mailman runners.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, select

from sikm_mailbot.config import Settings
from sikm_mailbot.desk.decisions import Desk, officer_note_problem, transition
from sikm_mailbot.domain.assess import assess
from sikm_mailbot.domain.normalize import normalize_fields
from sikm_mailbot.domain.vocabulary import Problem, Status
from sikm_mailbot.domain.workdays import to_jakarta
from sikm_mailbot.intake.driver import Outcome
from sikm_mailbot.mail import triage
from sikm_mailbot.mail.dsn import dsn_action
from sikm_mailbot.mail.extract import Limits, ReadAttachment, ReadMessage, read_message
from sikm_mailbot.outbox.compose import build_context
from sikm_mailbot.outbox.core import queue_reply
from sikm_mailbot.resources import blank_forms
from sikm_mailbot.store import ledger
from sikm_mailbot.store.audit import record_event
from sikm_mailbot.store.files import FileStore
from sikm_mailbot.store.models import Application, Attachment, Counter, LedgerEntry, OutboxMessage
from sikm_mailbot.store.models import utcnow as _utcnow

log = logging.getLogger(__name__)


# Words that show a mail is about this service, for mail with no form and no documents.
_SERVICE_WORDS = ("sikm", "izin keluar", "surat izin", "formulir", "permohonan", "keluar masuk")

# Attachment problems in plain words, both languages (field = the file name).
_ATTACHMENT_MESSAGES: dict[str, tuple[str, str]] = {
    "attachment_unreadable": (
        "Berkas tidak dapat dibaca (rusak atau bukan dokumen). Kirim ulang sebagai PDF/JPG/PNG.",
        "The file cannot be read (damaged or not a document). Send it again as PDF/JPG/PNG.",
    ),
    "pdf_encrypted": (
        "PDF dilindungi kata sandi. Kirim ulang tanpa kata sandi.",
        "The PDF is password-protected. Send it again without a password.",
    ),
    "unsupported_format": (
        "Format berkas tidak diterima. Gunakan PDF, JPG atau PNG.",
        "This file format is not accepted. Use PDF, JPG or PNG.",
    ),
    "archive_not_accepted": (
        "Arsip (zip/rar) tidak dibuka. Lampirkan setiap dokumen secara langsung.",
        "Archives (zip/rar) are not opened. Attach each document itself.",
    ),
    "file_too_large": (
        "Berkas terlalu besar. Kirim versi yang lebih kecil (maks. 10 MB).",
        "The file is too large. Send a smaller version (max. 10 MB).",
    ),
    "too_many_attachments": (
        "Terlalu banyak lampiran dalam satu email; hanya sebagian yang dibaca.",
        "Too many attachments in one mail; only some were read.",
    ),
    "form_xfa": (
        "Formulir ini memakai format XFA yang tidak dapat dibaca. Gunakan formulir resmi kami.",
        "This form uses XFA, which cannot be read. Use our official form.",
    ),
}


def attachment_problem(filename: str, code: str) -> Problem:
    """The Problem for an attachment that could not be used."""
    msg_id, msg_en = _ATTACHMENT_MESSAGES.get(code, _ATTACHMENT_MESSAGES["attachment_unreadable"])
    return Problem(field=filename, code=code, message_id=msg_id, message_en=msg_en)


def has_form_values(fields: dict[str, str]) -> bool:
    """Whether typed values look like a form, not a signature ("Email: …") in any mail."""
    return len([k for k, v in fields.items() if v and k != "email"]) >= 2


def next_tracking_number(session: Session, prefix: str, year: int) -> str:
    """The next tracking number ``PREFIX-YYYY-NNNNNN`` (row-locked where the DB can)."""
    name = f"{prefix}-{year}"
    counter = session.exec(select(Counter).where(Counter.name == name).with_for_update()).first()
    if counter is None:
        counter = Counter(name=name, value=0)
    counter.value += 1
    session.add(counter)
    session.flush()
    return f"{prefix}-{year}-{counter.value:06d}"


@dataclass
class Reading:
    """What ``prepare`` hands to ``apply``."""

    read: ReadMessage
    dsn_action: str | None = None  # "failed", "delayed", ... for delivery reports


class ReadingPipeline:
    """Turn each recorded mail into an application, a follow-up, a reply or a quarantine."""

    def __init__(
        self,
        settings: Settings,
        files: FileStore,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.settings = settings
        self.files = files
        self.now = now
        i = settings.intake
        self.limits = Limits(
            max_attachments=i.max_attachments,
            max_attachment_bytes=i.max_attachment_bytes,
            max_pdf_pages=i.max_pdf_pages,
            child_timeout=i.parse_timeout,
            child_cpu_seconds=i.parse_cpu_seconds,
            child_memory_bytes=i.parse_memory_mb * 1024 * 1024,
        )
        self.desk = Desk(settings)
        self._dsn_action: str | None = None
        self.rules: list[Callable[[Session, LedgerEntry, ReadMessage], Outcome | None]] = [
            self.rule_bounce,
            self.rule_loop,
            self.rule_guarantor,
            self.rule_follow_up,
            self.rule_command,
            self.rule_application,
            self.rule_question,
            self.rule_junk,
        ]

    # -- the two stages the driver calls ---------------------------------------------

    def prepare(self, raw: bytes, entry: LedgerEntry) -> Reading:
        """Parse the mail and read its attachments (sandboxed)."""
        read = read_message(raw, self.limits)
        failed = [d for d in read.defects if d.startswith("ExtractionFailed")]
        if failed:  # retried, then quarantined with this reason by the driver
            raise RuntimeError(f"the mail could not be read ({failed[0]})")
        return Reading(read, dsn_action(raw) if read.is_report else None)

    def apply(self, session: Session, entry: LedgerEntry, prepared: Reading) -> Outcome:
        """The first rule that claims the message decides its outcome."""
        read = prepared.read
        self._dsn_action = prepared.dsn_action
        for rule in self.rules:
            outcome = rule(session, entry, read)
            if outcome is not None:
                return outcome
        raise AssertionError("rule_junk always decides")  # pragma: no cover

    # -- rules --------------------------------------------------------------------------

    def rule_bounce(
        self, session: Session, entry: LedgerEntry, read: ReadMessage
    ) -> Outcome | None:
        """A delivery report: match it to our reply and tell the officers; never answer."""
        if not (read.is_report or triage.is_bounce(read.headers)):
            return None
        ours = self._our_message(session, [read.report_original_message_id, *read.references])
        if ours is None:
            return Outcome(
                ledger.STAGE_DONE, "ignored", reason="delivery report (not for our mail)"
            )
        action = self._dsn_action
        if read.is_report and action != "failed":
            # "delayed", "delivered", a read receipt: worth a note, not an alarm.
            self._event(
                session,
                "delivery_report",
                application_id=ours.application_id,
                ledger_id=entry.id,
                detail=f"our {ours.kind} mail: {action or 'report'}",
            )
            return Outcome(
                ledger.STAGE_DONE,
                "ignored",
                application_id=ours.application_id,
                reason=f"delivery report ({action or 'not a failure'})",
            )
        self._event(
            session,
            "delivery_failed",
            application_id=ours.application_id,
            ledger_id=entry.id,
            detail=f"our {ours.kind} mail {ours.message_id} bounced",
        )
        app = session.get(Application, ours.application_id) if ours.application_id else None
        if app is not None:
            self._flag(session, app, "delivery_failed")
        return Outcome(
            ledger.STAGE_DONE,
            "ignored",
            reason=f"bounce of our {ours.kind} mail",
            application_id=ours.application_id,
        )

    def rule_loop(self, session: Session, entry: LedgerEntry, read: ReadMessage) -> Outcome | None:
        """Auto-replies, list mail, null senders: recorded, never answered."""
        reason = triage.no_reply_reason(
            read.headers,
            read.from_addr,
            read.headers.get("return-path", ""),
            own_addresses=[self.settings.office.address],
        )
        if reason is None:
            return None
        return Outcome(ledger.STAGE_DONE, "ignored", reason=reason)

    def rule_guarantor(
        self, session: Session, entry: LedgerEntry, read: ReadMessage
    ) -> Outcome | None:
        """The guarantor's SETUJU / TOLAK, from the guarantor's own address only.

        Acted on while the file waits for the guarantor, or (a refusal) while it is
        still in review after a confirmation. Mail that fails sender authentication,
        is unclear, or comes too late is flagged for the officer and changes nothing.
        """
        app = self._application_referred(session, read)
        if app is None or not app.guarantor_email or self._is_applicant(app, read.from_addr):
            return None
        if read.from_addr.lower() != app.guarantor_email.lower():
            return None
        answer = triage.guarantor_answer(read.subject, read.body_new_text)
        failures = triage.auth_failures(read.headers)
        withdrawal = answer == "refuse" and app.status == Status.under_review
        if answer and not failures and (app.status == Status.awaiting_guarantor or withdrawal):
            self.desk.guarantor_answered(session, app, answer, self.now(), ledger_id=entry.id)
            return Outcome(ledger.STAGE_DONE, "guarantor_answer", application_id=app.id)
        if failures:
            flag, detail = "guarantor_unverified", f"guarantor answer failed {', '.join(failures)}"
        elif answer is None:
            flag, detail = "guarantor_unclear", "guarantor mail without a clear SETUJU/TOLAK"
        else:
            flag, detail = "guarantor_unclear", f"guarantor answer while {app.status}"
        self._event(
            session,
            "mail_in_flagged",
            application_id=app.id,
            ledger_id=entry.id,
            actor=f"guarantor <{app.guarantor_email}>",
            detail=detail,
        )
        self._flag(session, app, flag)
        return Outcome(ledger.STAGE_DONE, "flagged", reason=detail, application_id=app.id)

    def rule_follow_up(
        self, session: Session, entry: LedgerEntry, read: ReadMessage
    ) -> Outcome | None:
        """A reply about an existing application (tracking number or our Message-ID)."""
        app = self._application_referred(session, read)
        if app is None:
            return None
        command = triage.command_of(
            read.subject, read.body_new_text, bool(read.attachments), has_form_values(read.fields)
        )
        if not self._is_applicant(app, read.from_addr):
            # Someone else writing about this application changes nothing.
            self._event(
                session,
                "mail_in_flagged",
                application_id=app.id,
                ledger_id=entry.id,
                detail="mail about this application from another address; not merged",
            )
            self._flag(session, app, "foreign_follow_up")
            return Outcome(
                ledger.STAGE_DONE,
                "flagged",
                reason="follow-up from an address that is not the applicant's",
                application_id=app.id,
            )
        if command == "status":
            return self._status_reply(session, entry, read, app)
        return self._merge(session, entry, read, app)

    def rule_command(
        self, session: Session, entry: LedgerEntry, read: ReadMessage
    ) -> Outcome | None:
        """FORMULIR (or an empty mail) gets the blank forms; STATUS the current state."""
        command = triage.command_of(
            read.subject, read.body_new_text, bool(read.attachments), has_form_values(read.fields)
        )
        if command == "forms":
            return self._forms_reply(session, entry, read)
        if command == "status":
            app = self._latest_application_of(session, read.from_addr)
            if app is None:
                self._reply(session, entry, read, "not_understood", None)
                return Outcome(
                    ledger.STAGE_DONE, "status_request", reason="no application from this sender"
                )
            return self._status_reply(session, entry, read, app)
        return None

    def rule_application(
        self, session: Session, entry: LedgerEntry, read: ReadMessage
    ) -> Outcome | None:
        """A new application: anything with form values or documents in it."""
        # Our form or statement is a strong sign; any other file counts only in a mail
        # that is about the service (spam with a picture is not an application).
        ours = [a for a in read.attachments if a.kind in ("form", "statement")]
        typed = has_form_values(read.fields)
        if not (typed or ours or (read.attachments and self._about_service(read))):
            return None
        app_id = next_tracking_number(
            session, self.settings.office.tracking_prefix, self._now_jkt().year
        )
        app = Application(
            id=app_id,
            status=Status.received,
            sender_email=read.from_addr,
            first_message_id=read.message_id,
            created_at=self.now(),
        )
        session.add(app)
        session.flush()
        self._event(
            session,
            "mail_in",
            application_id=app_id,
            ledger_id=entry.id,
            detail="new application",
            to_status=Status.received,
        )
        failures = triage.auth_failures(read.headers)
        if failures:
            app.flags = [*app.flags, "sender_unverified"]
            self._event(
                session,
                "sender_unverified",
                application_id=app_id,
                ledger_id=entry.id,
                detail=", ".join(failures),
            )
        if read.forwarded:
            app.flags = [*app.flags, "forwarded"]
        self._store_attachments(session, app, entry, read.attachments)
        app.field_sources = dict(read.field_sources)
        self._reassess(session, app, entry, read, dict(read.fields), first=True)
        return Outcome(ledger.STAGE_DONE, "application", application_id=app_id)

    def rule_question(
        self, session: Session, entry: LedgerEntry, read: ReadMessage
    ) -> Outcome | None:
        """A mail about the service with nothing to read: answer with the forms."""
        if not self._about_service(read):
            return None
        return self._forms_reply(session, entry, read)

    def rule_junk(self, session: Session, entry: LedgerEntry, read: ReadMessage) -> Outcome:
        """Anything else is not for this desk: quarantined with a reason, no reply."""
        return Outcome(
            ledger.STAGE_QUARANTINED,
            "quarantined",
            dest="quarantine",
            reason="not an application: no form values, no documents, no mention of SIKM",
        )

    # -- helpers ------------------------------------------------------------------------

    def _event(
        self, session: Session, action: str, *, application_id: str | None = None, **kw: Any
    ) -> None:
        """Append an audit event stamped with the pipeline's clock."""
        record_event(session, application_id, action, at=self.now(), **kw)

    @staticmethod
    def _flag(session: Session, app: Application, flag: str) -> None:
        """Add ``flag`` to the application once."""
        if flag not in app.flags:
            app.flags = [*app.flags, flag]
            session.add(app)

    def _now_jkt(self) -> datetime:
        return to_jakarta(self.now())

    @staticmethod
    def _about_service(read: ReadMessage) -> bool:
        text = f"{read.subject}\n{read.body_new_text}".lower()
        return any(word in text for word in _SERVICE_WORDS)

    def _our_message(self, session: Session, ids: list[str]) -> OutboxMessage | None:
        ids = [i for i in ids if i]
        if not ids:
            return None
        return session.exec(select(OutboxMessage).where(OutboxMessage.message_id.in_(ids))).first()

    def _application_referred(self, session: Session, read: ReadMessage) -> Application | None:
        ours = self._our_message(session, [read.in_reply_to, *read.references])
        if ours is not None and ours.application_id:
            return session.get(Application, ours.application_id)
        number = triage.find_tracking_number(read.subject, self.settings.office.tracking_prefix)
        if number:
            return session.get(Application, number)
        return None

    @staticmethod
    def _is_applicant(app: Application, address: str) -> bool:
        address = address.lower()
        return bool(address) and address in {app.applicant_email.lower(), app.sender_email.lower()}

    def _latest_application_of(self, session: Session, address: str) -> Application | None:
        if not address:
            return None
        return session.exec(
            select(Application)
            .where(
                or_(
                    func.lower(Application.applicant_email) == address.lower(),
                    func.lower(Application.sender_email) == address.lower(),
                )
            )
            .order_by(Application.created_at.desc())
        ).first()

    def _store_attachments(
        self, session: Session, app: Application, entry: LedgerEntry, atts: list[ReadAttachment]
    ) -> None:
        seen = {
            a.sha256
            for a in session.exec(select(Attachment).where(Attachment.application_id == app.id))
        }
        for att in atts:
            if att.sha256 in seen:
                continue
            seen.add(att.sha256)
            if att.data and att.problem != "file_too_large":
                self.files.put(att.data)
            session.add(
                Attachment(
                    application_id=app.id,
                    ledger_id=entry.id,
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

    def _reassess(
        self,
        session: Session,
        app: Application,
        entry: LedgerEntry,
        read: ReadMessage,
        raw_fields: dict[str, str],
        *,
        first: bool,
    ) -> None:
        """Normalise, assess against everything the application holds, set status, reply."""
        sender = read.from_addr
        fields, _ = normalize_fields(raw_fields, sender=sender)
        if not first:
            merged = dict(app.fields)
            merged.update({k: v for k, v in fields.items() if v and k in raw_fields})
            fields = merged
        atts = list(session.exec(select(Attachment).where(Attachment.application_id == app.id)))
        documents = [a.kind for a in atts if a.problem is None and a.kind != "unknown"]
        # Only this mail's unusable files are problems now; earlier ones were answered.
        current = {a.sha256 for a in read.attachments}
        att_problems = [
            attachment_problem(a.filename, a.problem)
            for a in atts
            if a.problem and a.sha256 in current
        ]
        if read.too_many_attachments:
            att_problems.append(attachment_problem("", "too_many_attachments"))
        # The form counts as found once any form value (besides the defaulted email) is known.
        form_found = any(v for k, v in fields.items() if k != "email")
        verdict = assess(
            fields, documents, att_problems, today=self._now_jkt().date(), form_found=form_found
        )
        # What an officer asked for stays missing until a mail brings it.
        brought = {a.kind for a in read.attachments if a.problem is None}
        requested = [k for k in app.requested_docs if k not in brought]
        problems = [p.as_dict() for p in verdict.problems]
        if requested and app.officer_note:
            problems.append(officer_note_problem(app.officer_note))
        complete = verdict.complete and not requested
        new_guarantor = fields.get("penjamin_email", "")
        if app.guarantor_email and new_guarantor.lower() != app.guarantor_email.lower():
            # A confirmation belongs to the guarantor who gave it.
            app.flags = [f for f in app.flags if f != "guarantor_confirmed"]
            self._event(
                session,
                "note",
                application_id=app.id,
                ledger_id=entry.id,
                detail="guarantor changed; a new confirmation is needed",
            )
        app.fields = fields
        app.category = fields.get("kategori") or None
        app.trip_type = fields.get("jenis_perjalanan") or None
        app.applicant_email = fields.get("email") or app.applicant_email or sender
        app.name = fields.get("nama", "")
        nik = "".join(ch for ch in fields.get("nik", "") if ch.isdigit())
        app.nik_last4 = nik[-4:] if len(nik) >= 4 else ""
        app.guarantor_email = new_guarantor
        app.missing = sorted(set(verdict.missing) | set(requested))
        app.problems = problems
        app.requested_docs = requested
        if not requested:
            app.officer_note = ""
        app.updated_at = self.now()
        session.add(app)
        session.flush()
        if complete:
            self.desk.enter_review(session, app, self.now(), ledger_id=entry.id)
        else:
            transition(
                session,
                app,
                Status.incomplete,
                actor="bot",
                now=self.now(),
                ledger_id=entry.id,
                detail=f"assessed: {len(app.missing)} missing, {len(problems)} problems",
            )
        if complete:
            kind = "ack"
        elif not form_found and read.attachments and all(a.problem for a in read.attachments):
            kind = "unreadable"
        else:
            kind = "incomplete"
        unreadable = [
            {"filename": a.filename, "problem": a.problem} for a in read.attachments if a.problem
        ]
        self._reply(session, entry, read, kind, app, unreadable=unreadable)

    def _merge(
        self, session: Session, entry: LedgerEntry, read: ReadMessage, app: Application
    ) -> Outcome:
        """Add a follow-up's documents and fields to its application, then re-assess."""
        self._event(
            session,
            "mail_in",
            application_id=app.id,
            ledger_id=entry.id,
            detail="follow-up from the applicant",
        )
        self._store_attachments(session, app, entry, read.attachments)
        if app.status in (Status.received, Status.incomplete):
            app.field_sources = {**app.field_sources, **read.field_sources}
            self._reassess(session, app, entry, read, dict(read.fields), first=False)
        else:
            self._event(
                session,
                "note",
                application_id=app.id,
                ledger_id=entry.id,
                detail=f"follow-up received while {app.status}; status unchanged",
            )
            if read.attachments or has_form_values(read.fields):
                # The officer must see what came in before deciding.
                self._flag(session, app, "new_documents")
            self._reply(session, entry, read, "status", app)
        return Outcome(ledger.STAGE_DONE, "follow_up", application_id=app.id)

    def _status_reply(
        self, session: Session, entry: LedgerEntry, read: ReadMessage, app: Application
    ) -> Outcome:
        if not self._is_applicant(app, read.from_addr):
            self._reply(session, entry, read, "not_understood", None)
            return Outcome(
                ledger.STAGE_DONE, "status_request", reason="status asked by another address"
            )
        self._event(
            session, "mail_in", application_id=app.id, ledger_id=entry.id, detail="status request"
        )
        self._reply(session, entry, read, "status", app)
        return Outcome(ledger.STAGE_DONE, "status_request", application_id=app.id)

    def _forms_reply(self, session: Session, entry: LedgerEntry, read: ReadMessage) -> Outcome:
        files = [(name, "application/pdf", data) for name, data in blank_forms()]
        self._reply(
            session,
            entry,
            read,
            "forms",
            None,
            attachments=files,
            attached_files=[name for name, _, _ in files],
        )
        return Outcome(ledger.STAGE_DONE, "forms_request")

    def _reply(
        self,
        session: Session,
        entry: LedgerEntry,
        read: ReadMessage,
        kind: str,
        app: Application | None,
        *,
        attachments: list[tuple[str, str, bytes]] | None = None,
        **extra: Any,
    ) -> None:
        """Queue one reply to the sender, in the current transaction."""
        # Always the From address: a forged From with a Reply-To elsewhere must not
        # pull someone else's file out of the desk.
        to_addr = read.from_addr
        if not to_addr:
            self._event(
                session,
                "reply_suppressed",
                application_id=app.id if app else None,
                ledger_id=entry.id,
                detail="no address to answer",
            )
            return
        context = build_context(app, office=self.settings.office, **extra)
        queue_reply(
            session,
            kind=kind,
            to_addr=to_addr,
            context=context,
            office=self.settings.office,
            settings=self.settings.outbox,
            in_reply_to=read.message_id,
            references=list(read.references),
            application_id=app.id if app else None,
            ledger_id=entry.id,
            attachments=attachments or [],
            now=self.now(),
        )
