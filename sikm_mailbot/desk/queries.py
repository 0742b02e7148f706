"""Read models for the officer's desk: the queue and one application, as plain dicts.

The CLI prints these as Rich tables or as JSON (`--json`); the JSON shape is the
contract of DESIGN.md: id, status, category, trip_type, applicant, guarantor,
attachments, missing, problems, history.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_
from sqlalchemy.engine import Engine
from sqlalchemy.orm import load_only
from sqlmodel import Session, select

from sikm_mailbot.desk.lifecycle import load
from sikm_mailbot.domain.vocabulary import (
    APPLICANT_KEYS,
    DOC_NAMES_EN,
    GUARANTOR_KEYS,
    OPEN_STATUSES,
    STATUS_NAMES_ID,
    Category,
    Status,
)
from sikm_mailbot.domain.workdays import working_hours_between
from sikm_mailbot.errors import InvalidRequest
from sikm_mailbot.store.models import Application, Attachment, Event, OutboxMessage, utcnow


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


def list_applications(
    engine: Engine,
    *,
    now: datetime,
    status: str | None = None,
    category: str | None = None,
    overdue: bool = False,
    search: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """`sikm list`: the queue rows, oldest first; InvalidRequest for an unknown filter."""
    _check_member("status", status, Status.__members__)
    _check_member("category", category, Category.__members__)
    with Session(engine, expire_on_commit=False) as session:
        rows = query_applications(
            session,
            status=status,
            category=category,
            overdue=overdue,
            search=search,
            now=now,
            limit=limit,
        )
        return [summary(a, now) for a in rows]


def _check_member(field: str, value: str | None, allowed: Iterable[str]) -> None:
    if value and value not in allowed:
        raise InvalidRequest(f"unknown {field} {value!r}; one of: {', '.join(allowed)}")


def show_application(engine: Engine, app_id: str, now: datetime) -> dict[str, Any]:
    """`sikm show`: one application's document; Refused when there is none."""
    with Session(engine, expire_on_commit=False) as session:
        return application_doc(session, load(session, app_id), now)


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
        "age_working_hours": round(working_hours_between(created, now), 1) if created else None,
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
