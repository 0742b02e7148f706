"""The officer's state machine: every status change goes through here.

A change is a compare-and-swap on (status, version): two officers deciding the
same application at once — one wins, the other is refused, never both. The mail a
change causes is queued, and the audit event appended, in the same transaction.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import update
from sqlmodel import Session, select

from sikm_mailbot.config import Settings
from sikm_mailbot.domain.vocabulary import DocKind, Status
from sikm_mailbot.domain.workdays import due_date
from sikm_mailbot.errors import RefusedError
from sikm_mailbot.outbox.compose import REJECTION_REASONS, build_context
from sikm_mailbot.outbox.core import queue_reply
from sikm_mailbot.store.audit import BOT, record_event
from sikm_mailbot.store.models import Application

# DOMAIN.md's lifecycle. Any open state may be cancelled; decided states are final.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.received: frozenset(
        {
            Status.incomplete,
            Status.under_review,
            Status.awaiting_guarantor,
            Status.rejected,
            Status.cancelled,
        }
    ),
    Status.incomplete: frozenset(
        {
            Status.incomplete,
            Status.under_review,
            Status.awaiting_guarantor,
            Status.rejected,
            Status.cancelled,
        }
    ),
    Status.under_review: frozenset(
        {
            Status.awaiting_guarantor,
            Status.issued,
            Status.rejected,
            Status.incomplete,
            Status.cancelled,
        }
    ),
    Status.awaiting_guarantor: frozenset(
        {Status.under_review, Status.rejected, Status.incomplete, Status.cancelled}
    ),
    Status.issued: frozenset(),
    Status.rejected: frozenset(),
    Status.cancelled: frozenset(),
}

REJECTION_CODES = tuple(REJECTION_REASONS)


class Refused(RefusedError):
    """The change is not allowed now; the message says why (exit 1 at the CLI)."""


class PermitIssuer(Protocol):
    """What approve needs from the permits package."""

    def issue(self, session: Session, app: Application, now: datetime, officer: str) -> Any:
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


def officer_note_problem(note: str) -> dict[str, str]:
    """The officer's request note, shown to the applicant as a problem to fix."""
    return {"field": "", "code": "officer_note", "message_id": note, "message_en": note}


def needs_guarantor(app: Application) -> bool:
    """Whether this category's review includes the guarantor check by email."""
    return app.category == "nonresident_in"


def load(session: Session, app_id: str) -> Application:
    """The application, or Refused when there is none."""
    app = session.get(Application, app_id.strip().upper())
    if app is None:
        raise Refused(f"no application {app_id}")
    return app


def transition(
    session: Session,
    app: Application,
    to: str,
    *,
    actor: str,
    now: datetime,
    detail: str = "",
    ledger_id: int | None = None,
    **values: Any,
) -> None:
    """Move ``app`` to status ``to`` atomically, with an audit event (no commit).

    Refused when the lifecycle does not allow it, or when someone else changed the
    application since it was read (its version moved on).
    """
    old = app.status
    if to not in TRANSITIONS.get(old, frozenset()):
        raise Refused(f"{app.id} is {old}; it cannot become {to}")
    result = session.execute(
        update(Application)
        .where(
            Application.id == app.id, Application.version == app.version, Application.status == old
        )
        .values(status=to, version=app.version + 1, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Refused(f"{app.id} was changed by someone else just now; look again")
    app.status, app.version, app.updated_at = to, app.version + 1, now
    for key, value in values.items():
        setattr(app, key, value)
    record_event(
        session,
        app.id,
        "status",
        actor=actor,
        detail=detail,
        from_status=old,
        to_status=to,
        ledger_id=ledger_id,
        at=now,
    )


class Desk:
    """Decisions and the mail they cause, for one configured office."""

    def __init__(self, settings: Settings, issuer: PermitIssuer | None = None) -> None:
        self.settings = settings
        self.issuer = issuer

    def _mail(
        self,
        session: Session,
        app: Application,
        kind: str,
        *,
        to: str | None = None,
        now: datetime,
        actor: str = BOT,
        attachments: Iterable[tuple[str, str, bytes]] = (),
        **extra: Any,
    ) -> None:
        """Queue a mail about ``app`` (to the applicant unless ``to``), threaded on their mail."""
        refs = [app.first_message_id] if app.first_message_id else []
        if app.guarantor_requested_at is not None:
            hours = self.settings.desk.guarantor_timeout_hours
            extra.setdefault("deadline", app.guarantor_requested_at + timedelta(hours=hours))
        queue_reply(
            session,
            kind=kind,
            to_addr=to or app.applicant_email or app.sender_email,
            context=build_context(app, office=self.settings.office, **extra),
            office=self.settings.office,
            settings=self.settings.outbox,
            in_reply_to=app.first_message_id,
            references=refs,
            application_id=app.id,
            attachments=list(attachments),
            now=now,
            actor=actor,
        )

    # -- the bot's own steps --------------------------------------------------------

    def enter_review(
        self, session: Session, app: Application, now: datetime, ledger_id: int | None = None
    ) -> None:
        """A complete file: start the one-working-day clock; ask the guarantor if needed."""
        values: dict[str, Any] = {}
        if app.completed_at is None:
            values = {"completed_at": now, "due_at": due_date(now)}
        if needs_guarantor(app) and app.guarantor_email and "guarantor_confirmed" not in app.flags:
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
            self._mail(session, app, "guarantor_request", to=app.guarantor_email, now=now)
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

    def guarantor_answered(
        self,
        session: Session,
        app: Application,
        answer: str,
        now: datetime,
        ledger_id: int | None = None,
    ) -> None:
        """SETUJU moves the file back to review (confirmed); TOLAK rejects it."""
        if answer == "confirm":
            transition(
                session,
                app,
                Status.under_review,
                actor=f"guarantor <{app.guarantor_email}>",
                now=now,
                detail="guarantor confirmed (SETUJU)",
                ledger_id=ledger_id,
                flags=[*app.flags, "guarantor_confirmed"],
            )
            return
        self._reject(
            session,
            app,
            "guarantor_refused",
            "",
            actor=f"guarantor <{app.guarantor_email}>",
            now=now,
            ledger_id=ledger_id,
        )

    def guarantor_sweep(self, session: Session, now: datetime) -> dict[str, int]:
        """Remind once, then cancel after the timeout; returns counts."""
        desk = self.settings.desk
        waiting = session.exec(
            select(Application).where(Application.status == Status.awaiting_guarantor)
        ).all()
        counts = {"reminded": 0, "cancelled": 0}
        for app in waiting:
            asked = app.guarantor_requested_at
            if asked is None:
                continue
            if asked.tzinfo is None:
                from datetime import UTC

                asked = asked.replace(tzinfo=UTC)
            age = now - asked
            if age >= timedelta(hours=desk.guarantor_timeout_hours):
                transition(
                    session,
                    app,
                    Status.cancelled,
                    actor=BOT,
                    now=now,
                    detail="guarantor did not answer in time",
                    decided_at=now,
                    decided_by=BOT,
                    decision_reason="guarantor_timeout",
                )
                self._mail(session, app, "cancelled", now=now, cancel_reason="guarantor_timeout")
                counts["cancelled"] += 1
            elif app.guarantor_reminded_at is None and age >= timedelta(
                hours=desk.guarantor_reminder_hours
            ):
                app.guarantor_reminded_at = now
                session.add(app)
                record_event(session, app.id, "guarantor_reminder", detail="reminder sent", at=now)
                self._mail(session, app, "guarantor_reminder", to=app.guarantor_email, now=now)
                counts["reminded"] += 1
        return counts

    # -- officer decisions ----------------------------------------------------------

    def approve(self, session: Session, app_id: str, *, officer: str, now: datetime) -> Any:
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
        if needs_guarantor(app) and "guarantor_confirmed" not in app.flags:
            raise Refused(f"{app.id}: the guarantor has not confirmed")
        if self.issuer is None:
            raise Refused("permits cannot be issued: no permit issuer configured")
        transition(
            session,
            app,
            Status.issued,
            actor=officer,
            now=now,
            detail="approved",
            decided_at=now,
            decided_by=officer,
            decision_reason="approved",
        )
        permit = self.issuer.issue(session, app, now, officer)
        app.permit_number = permit.number
        session.add(app)
        session.flush()
        self._mail(
            session,
            app,
            "permit",
            now=now,
            actor=officer,
            attachments=[(permit.filename, "application/pdf", permit.pdf)],
            permit_number=permit.number,
            valid_from=permit.valid_from,
            valid_until=permit.valid_until,
            password_hint=permit.password_hint,
        )
        return permit

    def _reject(
        self,
        session: Session,
        app: Application,
        reason: str,
        note: str,
        *,
        actor: str,
        now: datetime,
        ledger_id: int | None = None,
    ) -> None:
        transition(
            session,
            app,
            Status.rejected,
            actor=actor,
            now=now,
            detail=f"rejected: {reason}" + (f" — {note}" if note else ""),
            ledger_id=ledger_id,
            decided_at=now,
            decided_by=actor,
            decision_reason=reason,
            decision_note=note,
        )
        self._mail(session, app, "rejection", now=now, actor=actor, reason=reason, note=note)

    def reject(
        self, session: Session, app_id: str, *, reason: str, note: str, officer: str, now: datetime
    ) -> None:
        """Reject with a reason code (``other`` needs a note); the applicant is told why."""
        if reason not in REJECTION_CODES:
            raise ValueError(f"unknown reason {reason!r}; one of: {', '.join(REJECTION_CODES)}")
        if reason == "other" and not note.strip():
            raise ValueError("reason 'other' needs --note explaining it")
        self._reject(session, load(session, app_id), reason, note.strip(), actor=officer, now=now)

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
            raise ValueError(
                "--missing takes one or more of: "
                + ", ".join(k for k in DocKind.__members__ if k != "unknown")
            )
        app = load(session, app_id)
        note = note.strip()
        requested = sorted(set(app.requested_docs) | set(missing))
        problems = [p for p in app.problems if p.get("code") != "officer_note"]
        if note:
            problems.append(officer_note_problem(note))
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
        self._mail(session, app, "incomplete", now=now, actor=officer)

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
            raise ValueError("cancel needs --note saying why")
        app = load(session, app_id)
        transition(
            session,
            app,
            Status.cancelled,
            actor=officer,
            now=now,
            detail=f"cancelled — {note.strip()}",
            decided_at=now,
            decided_by=officer,
            decision_reason=reason,
            decision_note=note.strip(),
        )
        self._mail(
            session,
            app,
            "cancelled",
            now=now,
            actor=officer,
            cancel_reason=reason,
            note=note.strip(),
        )
