"""Re-assessment: what an application is, once a mail has brought something to it.

The write model of an application in one place. A :class:`Submission` (the values
and files one mail brought — later also an officer's edit) goes in; the
application's fields, missing documents, problems and status come out, written in
the caller's transaction, and a :class:`Review` says which reply the sender gets.
A complete file enters review (:func:`enter_review`), which asks the guarantor
first when the category needs one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from sikm_mailbot.config import Settings
from sikm_mailbot.desk.lifecycle import transition
from sikm_mailbot.domain.assess import assess, needs_guarantor
from sikm_mailbot.domain.normalize import normalize_fields
from sikm_mailbot.domain.vocabulary import Problem, Status
from sikm_mailbot.domain.wording import attachment_problem, officer_note_problem
from sikm_mailbot.domain.workdays import due_date, to_jakarta
from sikm_mailbot.outbox.compose import UnreadableFile
from sikm_mailbot.outbox.notify import Notice, notify
from sikm_mailbot.store.audit import BOT, record_event
from sikm_mailbot.store.models import Application, Attachment

# Flags this module sets for the officer.
EMAIL_DIFFERS = "form_email_differs"  # the form's Email is not the bound address
GUARANTOR_MAIL_HELD = "guarantor_mail_held"  # the guarantor cap held our request back


@dataclass(frozen=True)
class BroughtFile:
    """One file of the submission (already stored as an Attachment of the application)."""

    filename: str
    sha256: str
    kind: str  # a DocKind value
    problem: str | None  # an attachment problem code; None = readable


@dataclass(frozen=True)
class Submission:
    """What one mail brings to an application."""

    fields: Mapping[str, str]  # values as read, not yet normalised
    sender: str  # the sender's address: the default for the email field
    files: tuple[BroughtFile, ...] = ()
    too_many_files: bool = False  # some files were not read at all
    first: bool = False  # a new application: its fields are exactly these
    ledger_id: int | None = None  # the incoming mail, for the audit trail


@dataclass(frozen=True)
class Review:
    """The outcome: complete or not, and which reply tells the sender."""

    complete: bool
    reply: str  # "ack", "incomplete" or "unreadable" (a compose kind)
    unreadable: tuple[UnreadableFile, ...]  # this submission's files we could not use


def review(
    session: Session, app: Application, submission: Submission, settings: Settings, now: datetime
) -> Review:
    """Merge ``submission`` into ``app``, assess everything it holds, and set its status.

    Fields: a first submission sets them; a later one overwrites only the values it
    brings. The applicant's address is the one the file was bound to at creation:
    a form Email that differs is kept as data and flagged, never used to send.
    Only this submission's unusable files are problems now (earlier ones
    were answered already). Documents an officer asked for stay missing until a
    file of that kind arrives. A changed guarantor email withdraws the earlier
    guarantor's confirmation.
    """
    fields = _merged_fields(app, submission)
    stored = list(session.exec(select(Attachment).where(Attachment.application_id == app.id)))
    documents = [a.kind for a in stored if a.problem is None and a.kind != "unknown"]
    file_problems = _file_problems(stored, submission)
    # The form counts as found once any form value (besides the defaulted email) is known.
    form_found = any(v for k, v in fields.items() if k != "email")
    verdict = assess(
        fields, documents, file_problems, today=to_jakarta(now).date(), form_found=form_found
    )
    brought = {f.kind for f in submission.files if f.problem is None}
    requested = [k for k in app.requested_docs if k not in brought]
    problems = [p.as_dict() for p in verdict.problems]
    if requested and app.officer_note:
        problems.append(officer_note_problem(app.officer_note).as_dict())
    complete = verdict.complete and not requested
    _withdraw_stale_confirmation(session, app, fields, submission, now)
    _write(app, fields, submission.sender, verdict.missing, requested, problems, now)
    session.add(app)
    session.flush()
    if complete:
        enter_review(session, app, settings, now, ledger_id=submission.ledger_id)
    else:
        transition(
            session,
            app,
            Status.incomplete,
            actor=BOT,
            now=now,
            ledger_id=submission.ledger_id,
            detail=f"assessed: {len(app.missing)} missing, {len(problems)} problems",
        )
    unusable = tuple(UnreadableFile(f.filename, f.problem) for f in submission.files if f.problem)
    return Review(complete, _reply_kind(complete, form_found, submission), unusable)


def enter_review(
    session: Session,
    app: Application,
    settings: Settings,
    now: datetime,
    ledger_id: int | None = None,
) -> None:
    """A complete file: start the one-working-day clock; ask the guarantor if needed.

    A file already where it belongs (an officer's edit re-assessed it) stays there.
    """
    values: dict[str, Any] = {}
    if app.completed_at is None:
        values = {"completed_at": now, "due_at": due_date(now)}
    confirmed = "guarantor_confirmed" in app.flags
    asks = needs_guarantor(app.category) and bool(app.guarantor_email) and not confirmed
    if app.status == (Status.awaiting_guarantor if asks else Status.under_review):
        return
    if asks:
        values["guarantor_requested_at"] = now
        values["guarantor_reminded_at"] = None
        transition(
            session,
            app,
            Status.awaiting_guarantor,
            actor=BOT,
            now=now,
            detail="complete; guarantor asked to confirm",
            ledger_id=ledger_id,
            **values,
        )
        request = Notice.about(app, "guarantor_request", to=app.guarantor_email)
        if notify(session, request, settings, now=now) is None:
            _flag_if(app, GUARANTOR_MAIL_HELD, True)  # the officer sees why no answer comes
            session.add(app)
        return
    transition(
        session,
        app,
        Status.under_review,
        actor=BOT,
        now=now,
        detail="complete; in review",
        ledger_id=ledger_id,
        **values,
    )


def _merged_fields(app: Application, submission: Submission) -> dict[str, str]:
    raw = dict(submission.fields)
    fields, _ = normalize_fields(raw, sender=submission.sender)
    if submission.first:
        return fields
    merged = dict(app.fields)
    merged.update({k: v for k, v in fields.items() if v and k in raw})
    return merged


def _file_problems(stored: list[Attachment], submission: Submission) -> list[Problem]:
    """This submission's unusable files (earlier ones were answered already)."""
    current = {f.sha256 for f in submission.files}
    problems = [
        attachment_problem(a.filename, a.problem)
        for a in stored
        if a.problem and a.sha256 in current
    ]
    if submission.too_many_files:
        problems.append(attachment_problem("", "too_many_attachments"))
    return problems


def _withdraw_stale_confirmation(
    session: Session,
    app: Application,
    fields: Mapping[str, str],
    submission: Submission,
    now: datetime,
) -> None:
    """A confirmation belongs to the guarantor who gave it."""
    new_guarantor = fields.get("penjamin_email", "")
    if app.guarantor_email and new_guarantor.lower() != app.guarantor_email.lower():
        app.flags = [f for f in app.flags if f != "guarantor_confirmed"]
        record_event(
            session,
            app.id,
            "note",
            ledger_id=submission.ledger_id,
            at=now,
            detail="guarantor changed; a new confirmation is needed",
        )


def _write(
    app: Application,
    fields: dict[str, str],
    sender: str,
    missing: list[str],
    requested: list[str],
    problems: list[dict[str, str]],
    now: datetime,
) -> None:
    """Set the application's columns from the assessed fields (no status change)."""
    app.fields = fields
    app.category = fields.get("kategori") or None
    app.trip_type = fields.get("jenis_perjalanan") or None
    # The bound address is fixed when the file is created; the form's Email is data.
    app.applicant_email = app.applicant_email or sender
    _flag_if(app, EMAIL_DIFFERS, _form_email_differs(fields, app.applicant_email))
    app.name = fields.get("nama", "")
    nik = "".join(ch for ch in fields.get("nik", "") if ch.isdigit())
    app.nik_last4 = nik[-4:] if len(nik) >= 4 else ""
    app.guarantor_email = fields.get("penjamin_email", "")
    app.missing = sorted(set(missing) | set(requested))
    app.problems = problems
    app.requested_docs = requested
    if not requested:
        app.officer_note = ""
    app.updated_at = now


def _form_email_differs(fields: Mapping[str, str], bound: str) -> bool:
    """The form names another email than the address the file is bound to."""
    typed = (fields.get("email") or "").strip().lower()
    return bool(typed) and typed != bound.lower()


def _flag_if(app: Application, flag: str, on: bool) -> None:
    """Set or clear one of the application's flags."""
    if on and flag not in app.flags:
        app.flags = [*app.flags, flag]
    elif not on and flag in app.flags:
        app.flags = [f for f in app.flags if f != flag]


def _reply_kind(complete: bool, form_found: bool, submission: Submission) -> str:
    """ack when complete; "unreadable" when nothing of this mail could be read; else incomplete."""
    if complete:
        return "ack"
    files = submission.files
    if not form_found and files and all(f.problem for f in files):
        return "unreadable"
    return "incomplete"
