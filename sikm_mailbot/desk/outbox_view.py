"""`sikm outbox`: outgoing mail as queued, sent or failed, and a failed mail requeued."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from sikm_mailbot.desk.decisions import officer_name
from sikm_mailbot.errors import InvalidRequest, RefusedError
from sikm_mailbot.outbox.queue import retry_failed
from sikm_mailbot.store.db import session_scope
from sikm_mailbot.store.models import OutboxMessage

OUTBOX_STATUSES = ("queued", "sent", "failed")


def outbox_row(msg: OutboxMessage) -> dict[str, Any]:
    """One outgoing mail as `sikm outbox --json` prints it."""
    return {
        "message_id": msg.message_id,
        "application_id": msg.application_id,
        "kind": msg.kind,
        "to": msg.to_addr,
        "status": msg.status,
        "attempts": msg.attempts,
        "last_error": msg.last_error,
        "created_at": str(msg.created_at),
        "sent_at": str(msg.sent_at) if msg.sent_at else None,
    }


def list_outbox(
    engine: Engine, *, status: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """The newest ``limit`` outgoing mails, newest first; InvalidRequest for a bad status."""
    if status and status not in OUTBOX_STATUSES:
        raise InvalidRequest(f"unknown status {status!r}; one of: {', '.join(OUTBOX_STATUSES)}")
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status:
        query = query.where(OutboxMessage.status == status)
    with Session(engine) as session:
        return [outbox_row(msg) for msg in session.exec(query)]


def requeue_failed(
    engine: Engine, message_id: str, *, now: datetime, officer: str | None = None
) -> None:
    """Queue a failed mail again, recorded in its application's history as the
    officer's act (``officer`` as in ``officer_name``).

    RefusedError when no failed mail has that Message-ID.
    """
    message_id, who = message_id.strip(), officer_name(officer)
    with session_scope(engine) as session:
        if retry_failed(session, message_id, now=now, actor=who) is None:
            raise RefusedError(f"no failed mail {message_id}")
