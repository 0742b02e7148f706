"""An officer's decisions, one transaction each: what `approve`, `reject`,
`request-docs` and `cancel` call.

A decision is a small typed value (:class:`Approve`, :class:`Reject`,
:class:`RequestDocs`, :class:`Cancel`); :func:`decide` runs the one explicit
:class:`~sikm_mailbot.desk.decisions.Desk` method it names in its own transaction
(all of it or nothing: status, audit event, queued mail, permit) and returns the
application as it is afterwards. Refusals and bad requests are raised as the desk
raises them (``Refused``, ``InvalidRequest``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from sikm_mailbot.desk.decisions import Desk, officer_name
from sikm_mailbot.desk.queries import show_application
from sikm_mailbot.store.db import session_scope


@dataclass(frozen=True)
class Approve:
    """Issue the signed permit and mail it."""


@dataclass(frozen=True)
class Reject:
    """Reject with a reason code (``other`` needs a note); the applicant is told."""

    reason: str
    note: str = ""


@dataclass(frozen=True)
class RequestDocs:
    """Ask the applicant for these document kinds (back to incomplete)."""

    missing: list[str] = field(default_factory=list)
    note: str = ""


@dataclass(frozen=True)
class Cancel:
    """Cancel an open application (a note is required); the applicant is told."""

    note: str


Decision = Approve | Reject | RequestDocs | Cancel


@dataclass(frozen=True)
class Decided:
    """The application after a decision, and the permit number when one was issued."""

    doc: dict[str, Any]
    permit_number: str | None = None


def decide(
    engine: Engine,
    desk: Desk,
    app_id: str,
    decision: Decision,
    *,
    now: datetime,
    officer: str | None = None,
) -> Decided:
    """Run ``decision`` on ``app_id`` in one transaction; the application afterwards.

    ``officer`` as in ``officer_name`` (--officer, $SIKM_OFFICER, the OS user).
    """
    who = officer_name(officer)
    number = None
    with session_scope(engine) as s:
        match decision:
            case Approve():
                number = desk.approve(s, app_id, officer=who, now=now).number
            case Reject(reason=reason, note=note):
                desk.reject(s, app_id, reason=reason, note=note, officer=who, now=now)
            case RequestDocs(missing=missing, note=note):
                desk.request_docs(s, app_id, missing=missing, note=note, officer=who, now=now)
            case Cancel(note=note):
                desk.cancel(s, app_id, note=note, officer=who, now=now)
    return Decided(show_application(engine, app_id, now), number)
