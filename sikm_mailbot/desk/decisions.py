"""Officer decisions and the mail each one causes: approve, reject, request documents,
cancel.

Each decision is one lifecycle move (:mod:`.lifecycle`, a compare-and-swap) plus its
mail to the applicant through the one road out (:func:`~sikm_mailbot.outbox.notify.notify`),
in the caller's transaction: both happen or neither does.
"""

from __future__ import annotations

import getpass
import os
from datetime import date, datetime
from typing import Protocol

from sqlmodel import Session

from sikm_mailbot.config import Settings
from sikm_mailbot.desk.lifecycle import Refused, decide, load, transition
from sikm_mailbot.domain.assess import needs_guarantor
from sikm_mailbot.domain.safe_text import unsafe_characters
from sikm_mailbot.domain.vocabulary import DocKind, Status
from sikm_mailbot.domain.wording import REJECTION_REASONS, officer_note_problem
from sikm_mailbot.errors import InvalidRequest
from sikm_mailbot.outbox.compose import MailDetails, PermitFacts
from sikm_mailbot.outbox.notify import Notice, OutgoingFile, notify
from sikm_mailbot.store.audit import BOT
from sikm_mailbot.store.models import Application

REJECTION_CODES = tuple(REJECTION_REASONS)


class IssuedPermit(Protocol):
    """What the permits package hands back for the permit mail."""

    number: str
    filename: str
    pdf: bytes
    valid_from: date
    valid_until: date
    password_hint: str


class PermitIssuer(Protocol):
    """What approve needs from the permits package."""

    def issue(
        self, session: Session, app: Application, now: datetime, officer: str
    ) -> IssuedPermit:
        """Make, sign and store the permit; add its row to the session."""


def officer_name(explicit: str | None = None) -> str:
    """Who acts: --officer, else $SIKM_OFFICER, else the OS user, else the bot."""
    if explicit and explicit.strip():
        return explicit.strip()
    env = os.environ.get("SIKM_OFFICER", "").strip()
    if env:
        return env
    try:
        return getpass.getuser() or BOT
    except Exception:  # noqa: BLE001 - no passwd entry in a container
        return BOT


def _refuse_unsafe_fields(app: Application) -> None:
    """Refused, naming the field, when a value holds control or bidi characters.

    Such a value (from mail read before extraction cleaned it, or typed in) would be
    signed into the permit and printed at every checkpoint: it is corrected first.
    """
    for key, value in (app.fields or {}).items():
        bad = unsafe_characters(str(value or ""))
        if bad:
            raise Refused(
                f"{app.id} cannot be approved: the field {key} holds control or bidi "
                f"characters ({', '.join(bad)}); correct it first"
            )


def reject_application(
    session: Session,
    app: Application,
    reason: str,
    note: str,
    *,
    actor: str,
    now: datetime,
    settings: Settings,
    ledger_id: int | None = None,
) -> None:
    """Reject ``app`` for ``reason`` (a REJECTION_CODES value) and tell the applicant why."""
    decide(
        session,
        app,
        Status.rejected,
        actor=actor,
        now=now,
        reason=reason,
        note=note,
        detail=f"rejected: {reason}" + (f" — {note}" if note else ""),
        ledger_id=ledger_id,
    )
    details = MailDetails(reason=reason, note=note)
    notify(session, Notice.about(app, "rejection", actor=actor, details=details), settings, now=now)


class Desk:
    """The officer's decisions, for one configured office."""

    def __init__(self, settings: Settings, issuer: PermitIssuer | None = None) -> None:
        self.settings = settings
        self.issuer = issuer

    def _tell(self, session: Session, notice: Notice, now: datetime) -> None:
        """Queue the mail a decision causes, in the decision's transaction."""
        notify(session, notice, self.settings, now=now)

    def approve(
        self, session: Session, app_id: str, *, officer: str, now: datetime
    ) -> IssuedPermit:
        """Issue the permit and mail it; only from review, guarantor confirmed when needed."""
        app = load(session, app_id)
        if app.status == Status.awaiting_guarantor:
            raise Refused(
                f"{app.id} is waiting for the guarantor's answer; it cannot be approved yet"
            )
        if app.status != Status.under_review:
            raise Refused(
                f"{app.id} is {app.status}; only an application under review can be approved"
            )
        if needs_guarantor(app.category) and "guarantor_confirmed" not in app.flags:
            raise Refused(f"{app.id}: the guarantor has not confirmed")
        _refuse_unsafe_fields(app)
        if self.issuer is None:
            raise Refused("permits cannot be issued: no permit issuer configured")
        decide(
            session,
            app,
            Status.issued,
            actor=officer,
            now=now,
            reason="approved",
            detail="approved",
        )
        permit = self.issuer.issue(session, app, now, officer)
        app.permit_number = permit.number
        session.add(app)
        session.flush()
        facts = PermitFacts(
            permit.number, permit.valid_from, permit.valid_until, permit.password_hint
        )
        pdf = OutgoingFile(permit.filename, "application/pdf", permit.pdf)
        notice = Notice.about(
            app, "permit", actor=officer, details=MailDetails(permit=facts), attachments=(pdf,)
        )
        self._tell(session, notice, now)
        return permit

    def reject(
        self, session: Session, app_id: str, *, reason: str, note: str, officer: str, now: datetime
    ) -> None:
        """Reject with a reason code (``other`` needs a note); the applicant is told why."""
        if reason not in REJECTION_CODES:
            raise InvalidRequest(
                f"unknown reason {reason!r}; one of: {', '.join(REJECTION_CODES)}", field="reason"
            )
        if reason == "other" and not note.strip():
            raise InvalidRequest("reason 'other' needs a note explaining it", field="note")
        app = load(session, app_id)
        reject_application(
            session, app, reason, note.strip(), actor=officer, now=now, settings=self.settings
        )

    def request_docs(
        self,
        session: Session,
        app_id: str,
        *,
        missing: list[str],
        note: str,
        officer: str,
        now: datetime,
    ) -> None:
        """Ask the applicant for documents: back to incomplete, with the incomplete mail."""
        unknown = [k for k in missing if k not in DocKind.__members__ or k == "unknown"]
        if unknown or not missing:
            raise InvalidRequest(
                "documents to ask for: one or more of: "
                + ", ".join(k for k in DocKind.__members__ if k != "unknown"),
                field="missing",
            )
        app = load(session, app_id)
        note = note.strip()
        requested = sorted(set(app.requested_docs) | set(missing))
        problems = [p for p in app.problems if p.get("code") != "officer_note"]
        if note:
            problems.append(officer_note_problem(note).as_dict())
        transition(
            session,
            app,
            Status.incomplete,
            actor=officer,
            now=now,
            detail=f"documents requested: {', '.join(missing)}" + (f" — {note}" if note else ""),
            missing=sorted(set(app.missing) | set(missing)),
            problems=problems,
            requested_docs=requested,
            officer_note=note or app.officer_note,
            completed_at=None,
            due_at=None,
        )
        self._tell(session, Notice.about(app, "incomplete", actor=officer), now)

    def cancel(
        self,
        session: Session,
        app_id: str,
        *,
        note: str,
        officer: str,
        now: datetime,
        reason: str = "other",
    ) -> None:
        """Cancel an open application (a note is required); the applicant is told."""
        if not note.strip():
            raise InvalidRequest("cancel needs a note saying why", field="note")
        app = load(session, app_id)
        decide(
            session,
            app,
            Status.cancelled,
            actor=officer,
            now=now,
            reason=reason,
            note=note.strip(),
            detail=f"cancelled — {note.strip()}",
        )
        details = MailDetails(cancel_reason=reason, note=note.strip())
        self._tell(session, Notice.about(app, "cancelled", actor=officer, details=details), now)
