"""Read models for the officer's desk: the queue and one application, as plain dicts.

The CLI prints these as Rich tables or as JSON (`--json`); the JSON shape is the
contract of DESIGN.md: id, status, category, trip_type, applicant, guarantor,
attachments, missing, problems, history.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_
from sqlalchemy.orm import load_only
from sqlmodel import Session, select

from sikm_mailbot.domain.vocabulary import (
    APPLICANT_KEYS,
    DOC_NAMES_EN,
    GUARANTOR_KEYS,
    OPEN_STATUSES,
    STATUS_NAMES_ID,
)
from sikm_mailbot.domain.workdays import (
    JAKARTA,
    OFFICE_CLOSE,
    OFFICE_OPEN,
    is_working_day,
    to_jakarta,
)
from sikm_mailbot.store.models import Application, Attachment, Event, OutboxMessage, utcnow

_OFFICE_DAY_HOURS = 8.0  # OFFICE_OPEN to OFFICE_CLOSE


class _WorkingDayCount:
    """Working days in a date range in O(1), from prefix counts built once per range.

    ``working_hours_between`` walks every day between two instants; for a queue of
    100,000 files, each weeks old, that walk was most of ``sikm list``.
    """

    def __init__(self) -> None:
        self.first: date | None = None
        self.prefix: list[int] = [0]  # prefix[i] = working days in [first, first + i)

    def between(self, lo: date, hi: date) -> int:
        """Working days d with lo <= d < hi."""
        if hi <= lo:
            return 0
        self._cover(lo, hi)
        assert self.first is not None
        return self.prefix[(hi - self.first).days] - self.prefix[(lo - self.first).days]

    def _cover(self, lo: date, hi: date) -> None:
        last = self.first + timedelta(days=len(self.prefix) - 1) if self.first else None
        if self.first is not None and last is not None and self.first <= lo and hi <= last:
            return
        first = min(lo, self.first) if self.first else lo
        end = max(hi, last) if last else hi
        prefix = [0]
        day = first
        while day < end:
            prefix.append(prefix[-1] + int(is_working_day(day)))
            day += timedelta(days=1)
        self.first, self.prefix = first, prefix


_WORKING_DAYS = _WorkingDayCount()


def _day_overlap_hours(day: date, lo: datetime, hi: datetime) -> float:
    """Office hours of ``day`` that fall between ``lo`` and ``hi`` (0 on a day off)."""
    if not is_working_day(day):
        return 0.0
    open_at = datetime.combine(day, OFFICE_OPEN, tzinfo=JAKARTA)
    close_at = datetime.combine(day, OFFICE_CLOSE, tzinfo=JAKARTA)
    lo, hi = max(lo, open_at), min(hi, close_at)
    return max(0.0, (hi - lo).total_seconds() / 3600.0)


def age_working_hours(a: datetime, b: datetime) -> float:
    """Office hours from ``a`` to ``b``; equal to workdays.working_hours_between, in O(1)."""
    start, end = to_jakarta(a), to_jakarta(b)
    if end < start:
        return -age_working_hours(b, a)
    first, last = start.date(), end.date()
    if first == last:
        return _day_overlap_hours(first, start, end)
    middle = _WORKING_DAYS.between(first + timedelta(days=1), last)
    return (
        _day_overlap_hours(first, start, end)
        + middle * _OFFICE_DAY_HOURS
        + _day_overlap_hours(last, start, end)
    )


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _iso(moment: datetime | None) -> str | None:
    moment = _aware(moment)
    return moment.isoformat() if moment else None


def is_overdue(app: Application, now: datetime) -> bool:
    """Past the one-working-day target and still undecided."""
    due = _aware(app.due_at)
    return app.status in OPEN_STATUSES and due is not None and due < now


_SUMMARY_COLUMNS = (
    Application.id,
    Application.status,
    Application.category,
    Application.trip_type,
    Application.name,
    Application.nik_last4,
    Application.created_at,
    Application.due_at,
    Application.missing,
    Application.problems,
    Application.flags,
)


def query_applications(
    session: Session,
    *,
    status: str | None = None,
    category: str | None = None,
    overdue: bool = False,
    search: str | None = None,
    now: datetime | None = None,
    limit: int | None = None,
) -> list[Application]:
    """The queue, oldest first, filtered like `sikm list`'s options.

    ``search`` matches part of the name (case-insensitive), the tracking number,
    or — when it is 4 digits — the last digits of the NIK.
    """
    now = now or utcnow()
    # Only the columns a queue row shows: the form values and their sources (the
    # big JSON columns) are loaded on access, so a 100,000-row queue does not
    # decode 100,000 forms.
    q = select(Application).options(load_only(*_SUMMARY_COLUMNS))
    if status:
        q = q.where(Application.status == status)
    if category:
        q = q.where(Application.category == category)
    if overdue:
        q = q.where(Application.status.in_([s.value for s in OPEN_STATUSES]))
        q = q.where(Application.due_at.is_not(None), Application.due_at < now)
    if search:
        term = search.strip()
        conds = [
            func.upper(Application.name).contains(term.upper()),
            Application.id == term.upper(),
        ]
        if term.isdigit() and len(term) == 4:
            conds.append(Application.nik_last4 == term)
        q = q.where(or_(*conds))
    q = q.order_by(Application.created_at, Application.id)
    if limit:
        q = q.limit(limit)
    return list(session.exec(q))


def summary(app: Application, now: datetime) -> dict[str, Any]:
    """One queue row (no full NIK)."""
    created = _aware(app.created_at)
    return {
        "id": app.id,
        "status": app.status,
        "category": app.category,
        "trip_type": app.trip_type,
        "name": app.name,
        "nik": "*" * 12 + app.nik_last4 if app.nik_last4 else "",  # never more than 4 digits
        "created_at": _iso(app.created_at),
        "due_at": _iso(app.due_at),
        "age_working_hours": round(age_working_hours(created, now), 1) if created else None,
        "overdue": is_overdue(app, now),
        "missing": list(app.missing),
        "problems": len(app.problems),
        "flags": list(app.flags),
    }


def application_doc(
    session: Session, app: Application, now: datetime | None = None
) -> dict[str, Any]:
    """Everything about one application: what was read, files, problems, history, mail."""
    now = now or utcnow()
    fields = app.fields or {}
    atts = session.exec(
        select(Attachment).where(Attachment.application_id == app.id).order_by(Attachment.id)
    ).all()
    events = session.exec(
        select(Event).where(Event.application_id == app.id).order_by(Event.at, Event.id)
    ).all()
    mails = session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.application_id == app.id)
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
    ).all()
    doc = summary(app, now)
    doc.update(
        {
            "status_name": STATUS_NAMES_ID.get(app.status, app.status),
            "applicant": {k: fields.get(k, "") for k in APPLICANT_KEYS},
            "guarantor": {k: fields.get(k, "") for k in GUARANTOR_KEYS},
            "field_sources": dict(app.field_sources or {}),
            "applicant_email": app.applicant_email,
            "sender_email": app.sender_email,
            "attachments": [
                {
                    "id": a.id,
                    "kind": a.kind,
                    "kind_name": DOC_NAMES_EN.get(a.kind, a.kind),
                    "filename": a.filename,
                    "sha256": a.sha256,
                    "size": a.size,
                    "detected_type": a.detected_type,
                    "declared_type": a.declared_type,
                    "origin": a.origin,
                    "problem": a.problem,
                    "reason": a.reason,
                    "field_source": a.field_source,
                    "fields": dict(a.fields or {}),
                    "pages": a.pages,
                    "width": a.width,
                    "height": a.height,
                    "text_excerpt": a.text_excerpt,
                }
                for a in atts
            ],
            "problems": list(app.problems),
            "completed_at": _iso(app.completed_at),
            "decided_at": _iso(app.decided_at),
            "decided_by": app.decided_by,
            "decision_reason": app.decision_reason,
            "decision_note": app.decision_note,
            "permit_number": app.permit_number,
            "history": [
                {
                    "at": _iso(e.at),
                    "actor": e.actor,
                    "action": e.action,
                    "from_status": e.from_status,
                    "to_status": e.to_status,
                    "detail": e.detail,
                }
                for e in events
            ],
            "mail": [
                {
                    "kind": m.kind,
                    "to": m.to_addr,
                    "subject": m.subject,
                    "status": m.status,
                    "attempts": m.attempts,
                    "last_error": m.last_error,
                    "message_id": m.message_id,
                    "created_at": _iso(m.created_at),
                    "sent_at": _iso(m.sent_at),
                }
                for m in mails
            ],
        }
    )
    return doc
