"""`sikm mail`: incoming mail as the ledger recorded it, and its raw bytes.

The officer's window on the intake: what came in, where each message ended and
why (quarantined mail is found here), and the stored original for a closer look.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from sikm_mailbot.errors import RefusedError
from sikm_mailbot.store.files import FileStore
from sikm_mailbot.store.models import LedgerEntry


def mail_row(entry: LedgerEntry) -> dict[str, Any]:
    """One ledger row as `sikm mail --json` prints it."""
    return {
        "ledger_id": entry.id,
        "received_at": str(entry.received_at),
        "from": entry.from_addr,
        "subject": entry.subject,
        "size": entry.size,
        "stage": entry.stage,
        "outcome": entry.outcome,
        "reason": entry.reason,
        "error": entry.error,
        "application_id": entry.application_id,
    }


def list_mail(
    engine: Engine, *, outcome: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """The newest ``limit`` recorded messages, newest first, optionally of one outcome."""
    query = select(LedgerEntry).order_by(LedgerEntry.id.desc()).limit(limit)
    if outcome:
        query = query.where(LedgerEntry.outcome == outcome)
    with Session(engine) as session:
        return [mail_row(entry) for entry in session.exec(query)]


def raw_mail(engine: Engine, files: FileStore, ledger_id: int) -> bytes:
    """The stored original of one recorded message; RefusedError when none is stored."""
    entry = None
    if 0 < ledger_id < 2**63:  # larger ids cannot exist and overflow the driver
        with Session(engine) as session:
            entry = session.get(LedgerEntry, ledger_id)
    if entry is None or not entry.sha256:
        raise RefusedError(f"no stored mail with ledger id {ledger_id}")
    return files.get(entry.sha256)
