"""Revoked permits: revoking one, and the list the trust list carries to checkpoints.

A revocation is a row update plus an audit event, in one transaction; checkpoint
devices learn of it when the trust list is exported again (`sikm keys export`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from sikm_mailbot.errors import InvalidRequest, RefusedError
from sikm_mailbot.store.audit import record_event
from sikm_mailbot.store.db import session_scope
from sikm_mailbot.store.models import Permit


def revocations(session: Session) -> list[dict[str, Any]]:
    """The revoked permits, as the trust list carries them."""
    rows = session.exec(
        select(Permit).where(Permit.revoked_at.is_not(None))  # type: ignore[union-attr]
    ).all()
    return [
        {
            "permit": p.number,
            "reason": p.revoke_reason,
            "revoked_at": p.revoked_at.isoformat() if p.revoked_at else None,
        }
        for p in rows
    ]


def list_revocations(engine: Engine) -> list[dict[str, Any]]:
    """:func:`revocations` in a session of its own."""
    with Session(engine) as session:
        return revocations(session)


def revoke(
    engine: Engine, number: str, *, reason: str, now: datetime, officer: str | None = None
) -> str:
    """Revoke permit ``number`` (verify refuses it from now on); returns its number.

    ``officer`` as in ``officer_name``. InvalidRequest for an empty reason;
    RefusedError when there is no such permit or it was revoked already.
    """
    from sikm_mailbot.desk.decisions import officer_name

    reason, number, who = reason.strip(), number.strip(), officer_name(officer)
    if not reason:
        raise InvalidRequest("the reason must not be empty", field="reason")
    with session_scope(engine) as session:
        row = session.get(Permit, number) or session.get(Permit, number.upper())
        if row is None:
            raise RefusedError(f"no permit {number}")
        if row.revoked_at is not None:
            raise RefusedError(f"permit {row.number} was already revoked by {row.revoked_by}")
        row.revoked_at, row.revoked_by, row.revoke_reason = now, who, reason
        session.add(row)
        record_event(
            session,
            row.application_id,
            "permit_revoked",
            at=now,
            actor=who,
            detail=reason,
            data={"permit": row.number},
        )
        return row.number
