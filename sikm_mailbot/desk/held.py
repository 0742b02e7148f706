"""Held mail: an officer accepts it as the applicant's follow-up (`sikm accept-mail`).

Intake holds mail that refers to an application without being bound to it (see
:mod:`sikm_mailbot.intake.facts`): a stranger quoting a tracking number, a forged
From, a reply to our mail to someone else. Nothing of it reached the file. When
the officer knows it is genuine (they phoned the applicant, say), accepting it
reads the stored raw mail again and applies it exactly as a bound follow-up, in
one transaction: files and values join the file, it is assessed again, and the
applicant gets the usual reply at the file's bound address — never at the held
mail's own From.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from sikm_mailbot.config import Settings
from sikm_mailbot.desk.decisions import officer_name
from sikm_mailbot.desk.lifecycle import Refused
from sikm_mailbot.desk.queries import show_application
from sikm_mailbot.domain.vocabulary import OPEN_STATUSES
from sikm_mailbot.intake.detect import Kind, Verdict
from sikm_mailbot.intake.facts import Facts
from sikm_mailbot.intake.handlers.common import InMail
from sikm_mailbot.intake.handlers.follow_up import HELD_FLAG, merge
from sikm_mailbot.intake.pipeline import reading_limits
from sikm_mailbot.mail.extract import read_message
from sikm_mailbot.store.audit import record_event
from sikm_mailbot.store.db import session_scope
from sikm_mailbot.store.files import FileStore
from sikm_mailbot.store.models import Application, LedgerEntry

HELD = "held"  # the ledger outcome of held mail


@dataclass(frozen=True)
class Accepted:
    """What accepting did: the mail, its application afterwards, its new outcome."""

    ledger_id: int
    application_id: str
    outcome: str
    application: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "ledger_id": self.ledger_id,
            "application_id": self.application_id,
            "outcome": self.outcome,
            "application": self.application,
        }


def _held_entry(session: Session, ledger_id: int) -> tuple[LedgerEntry, Application]:
    """The held mail and its open application; Refused when it is not (or no longer) held,
    or when the application is decided (a decided file takes no new mail)."""
    entry = session.get(LedgerEntry, ledger_id) if 0 < ledger_id < 2**63 else None
    if entry is None:
        raise Refused(f"no incoming mail with ledger id {ledger_id}")
    if entry.outcome != HELD or not entry.application_id:
        raise Refused(
            f"mail {ledger_id} is not held (its outcome is {entry.outcome or 'none'}); "
            "only held mail can be accepted"
        )
    app = session.get(Application, entry.application_id)
    if app is None:  # pragma: no cover - the foreign key keeps it
        raise Refused(f"mail {ledger_id}: application {entry.application_id} is gone")
    if app.status not in OPEN_STATUSES:
        raise Refused(
            f"mail {ledger_id}: application {app.id} is {app.status}; a decided file takes no mail"
        )
    return entry, app


def accept_mail(
    engine: Engine,
    files: FileStore,
    settings: Settings,
    ledger_id: int,
    *,
    officer: str | None,
    now: datetime,
) -> Accepted:
    """Apply held mail ``ledger_id`` to its application as the applicant's follow-up.

    ``officer`` as in ``officer_name`` (--officer, $SIKM_OFFICER, the OS user).
    Refused (exit 1) when the mail is unknown, not held, or its stored copy is gone.
    """
    officer = officer_name(officer)
    with Session(engine) as session:
        entry, _ = _held_entry(session, ledger_id)
        sha256 = entry.sha256
    try:
        raw = files.get(sha256)
    except (OSError, KeyError, ValueError) as exc:
        raise Refused(f"mail {ledger_id}: its stored copy cannot be read ({exc})") from exc
    read = read_message(raw, reading_limits(settings))  # sandboxed, outside the transaction
    with session_scope(engine) as session:
        entry, app = _held_entry(session, ledger_id)  # again: another officer may have won
        facts = Facts(own_addresses=(settings.office.address,), referred=app, binding="officer")
        mail = InMail(session, entry, read, facts, settings, files, now)
        record_event(
            session,
            app.id,
            "mail_accepted",
            actor=officer,
            ledger_id=entry.id,
            at=now,
            detail=f"held mail from <{read.from_addr}> accepted as the applicant's follow-up",
        )
        outcome = merge(mail, Verdict(Kind.follow_up, app))
        entry.outcome = outcome.outcome
        entry.reason = f"held, then accepted by {officer}"
        session.add(entry)
        if not _still_held(session, app.id, entry.id):
            app.flags = [f for f in app.flags if f != HELD_FLAG]
            session.add(app)
        app_id = app.id
    return Accepted(ledger_id, app_id, outcome.outcome, show_application(engine, app_id, now))


def _still_held(session: Session, app_id: str, accepted: int) -> bool:
    """Whether other held mail waits for this application."""
    rows = session.exec(
        select(LedgerEntry.id).where(
            LedgerEntry.application_id == app_id,
            LedgerEntry.outcome == HELD,
            LedgerEntry.id != accepted,
        )
    )
    return rows.first() is not None
