"""The lifecycle of an application: its states, the moves between them, and the one
function that makes a move.

A move is a compare-and-swap on (status, version): two officers deciding the same
application at once — one wins, the other is refused, never both. The audit event
is appended in the same transaction; the caller commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session

from sikm_mailbot.domain.vocabulary import Status
from sikm_mailbot.errors import RefusedError
from sikm_mailbot.store.audit import record_event
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


class Refused(RefusedError):
    """The change is not allowed now; the message says why (exit 1 at the CLI)."""


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

    ``values`` are other columns set in the same UPDATE (e.g. ``decided_at``).
    Refused when the lifecycle does not allow the move, or when someone else
    changed the application since it was read (its version moved on).
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


def decide(
    session: Session,
    app: Application,
    to: str,
    *,
    actor: str,
    now: datetime,
    reason: str,
    detail: str,
    note: str | None = None,
    ledger_id: int | None = None,
) -> None:
    """A final move (issued, rejected, cancelled), recording who decided, when and why."""
    values: dict[str, Any] = {"decided_at": now, "decided_by": actor, "decision_reason": reason}
    if note is not None:
        values["decision_note"] = note
    transition(session, app, to, actor=actor, now=now, detail=detail, ledger_id=ledger_id, **values)
