"""`sikm stats`: the counts the office reported, computed in the database."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from sikm_mailbot.domain.vocabulary import OPEN_STATUSES, Status
from sikm_mailbot.domain.workdays import JAKARTA, to_jakarta
from sikm_mailbot.store.models import Application


def office_stats(session: Session, now: datetime) -> dict[str, Any]:
    """Counts per state, today's intake (Jakarta day) and files past the target.

    ``in_review`` is the office's "penelitian": received or under review; incomplete
    files are counted apart because they wait for the applicant, not the office.
    """
    rows = session.exec(select(Application.status, func.count()).group_by(Application.status)).all()
    by_status = {s.value: 0 for s in Status}
    by_status.update({status: n for status, n in rows})
    local = to_jakarta(now)
    start = datetime.combine(local.date(), time(0), JAKARTA)
    today = session.exec(
        select(func.count())
        .select_from(Application)
        .where(Application.created_at >= start, Application.created_at < start + timedelta(days=1))
    ).one()
    overdue = session.exec(
        select(func.count())
        .select_from(Application)
        .where(
            Application.status.in_([s.value for s in OPEN_STATUSES]),
            Application.due_at.is_not(None),
            Application.due_at < now,
        )
    ).one()
    return {
        "date": local.date().isoformat(),
        "received": sum(by_status.values()),
        "incomplete": by_status["incomplete"],
        "in_review": by_status["received"] + by_status["under_review"],
        "awaiting_guarantor": by_status["awaiting_guarantor"],
        "rejected": by_status["rejected"],
        "issued": by_status["issued"],
        "cancelled": by_status["cancelled"],
        "today_intake": today,
        "overdue": overdue,
        "by_status": by_status,
    }


def stats_report(engine: Engine, now: datetime) -> dict[str, Any]:
    """`sikm stats`: :func:`office_stats` in a session of its own."""
    with Session(engine) as session:
        return office_stats(session, now)
