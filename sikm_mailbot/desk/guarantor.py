"""The guarantor check: the guarantor's answer, the reminder, and the timeout.

The office asks the guarantor when a file that needs one is complete
(:func:`~sikm_mailbot.desk.review.enter_review`). SETUJU sends the file back to
review, confirmed; TOLAK rejects it. Silence earns one reminder after
``desk.guarantor_reminder_hours`` and a cancellation after
``desk.guarantor_timeout_hours`` — the same window the request mail announces.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlmodel import Session, select

from sikm_mailbot.config import Settings
from sikm_mailbot.desk.decisions import reject_application
from sikm_mailbot.desk.lifecycle import decide, transition
from sikm_mailbot.desk.review import GUARANTOR_MAIL_HELD
from sikm_mailbot.domain.vocabulary import Status
from sikm_mailbot.outbox.compose import MailDetails
from sikm_mailbot.outbox.notify import Notice, notify
from sikm_mailbot.store.audit import BOT, record_event
from sikm_mailbot.store.models import Application

Answer = Literal["confirm", "refuse"]


def answered(
    session: Session,
    app: Application,
    answer: Answer,
    settings: Settings,
    now: datetime,
    ledger_id: int | None = None,
) -> None:
    """SETUJU moves the file back to review (confirmed); TOLAK rejects it."""
    guarantor = f"guarantor <{app.guarantor_email}>"
    if answer == "confirm":
        transition(
            session,
            app,
            Status.under_review,
            actor=guarantor,
            now=now,
            detail="guarantor confirmed (SETUJU)",
            ledger_id=ledger_id,
            flags=[*app.flags, "guarantor_confirmed"],
        )
        return
    reject_application(
        session,
        app,
        "guarantor_refused",
        "",
        actor=guarantor,
        now=now,
        settings=settings,
        ledger_id=ledger_id,
    )


def sweep(session: Session, settings: Settings, now: datetime) -> dict[str, int]:
    """Remind silent guarantors once, then cancel after the timeout; returns counts."""
    desk = settings.desk
    timeout = timedelta(hours=desk.guarantor_timeout_hours)
    remind_after = timedelta(hours=desk.guarantor_reminder_hours)
    waiting = session.exec(
        select(Application).where(Application.status == Status.awaiting_guarantor)
    ).all()
    counts = {"reminded": 0, "cancelled": 0}
    for app in waiting:
        asked = app.guarantor_requested_at
        if asked is None:
            continue
        if asked.tzinfo is None:
            asked = asked.replace(tzinfo=UTC)  # the store may hand UTC back naive
        age = now - asked
        if age >= timeout:
            decide(
                session,
                app,
                Status.cancelled,
                actor=BOT,
                now=now,
                reason="guarantor_timeout",
                detail="guarantor did not answer in time",
            )
            details = MailDetails(cancel_reason="guarantor_timeout")
            notify(session, Notice.about(app, "cancelled", details=details), settings, now=now)
            counts["cancelled"] += 1
        elif app.guarantor_reminded_at is None and age >= remind_after:
            app.guarantor_reminded_at = now
            session.add(app)
            record_event(session, app.id, "guarantor_reminder", detail="reminder sent", at=now)
            reminder = Notice.about(app, "guarantor_reminder", to=app.guarantor_email)
            if notify(session, reminder, settings, now=now) is None and (
                GUARANTOR_MAIL_HELD not in app.flags
            ):
                app.flags = [*app.flags, GUARANTOR_MAIL_HELD]  # the cap held it back
            counts["reminded"] += 1
    return counts
