"""The audit trail: every state change and every mail in or out is one appended event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from sikm_mailbot.store.models import Event

BOT = "bot"


def record_event(
    session: Session,
    application_id: str | None,
    action: str,
    *,
    actor: str = BOT,
    detail: str = "",
    from_status: str | None = None,
    to_status: str | None = None,
    ledger_id: int | None = None,
    at: datetime | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    """Append one event (no commit: it belongs to the caller's transaction)."""
    event = Event(
        application_id=application_id,
        ledger_id=ledger_id,
        actor=actor,
        action=action,
        detail=detail,
        from_status=from_status,
        to_status=to_status,
        data=data or {},
    )
    if at is not None:
        event.at = at
    session.add(event)
    return event
