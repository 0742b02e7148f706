"""The flush: deliver every queued mail that is due, with retries and backoff."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from sikm_mailbot.config import OutboxSettings
from sikm_mailbot.outbox.transports import (
    PermanentDeliveryError,
    TemporaryDeliveryError,
    Transport,
)
from sikm_mailbot.store.audit import record_event
from sikm_mailbot.store.models import OutboxMessage, utcnow

log = logging.getLogger(__name__)

MAX_RETRY_DELAY = timedelta(hours=6)


@dataclass
class FlushReport:
    """What one flush did; ``remaining`` = messages still queued (due later or not tried)."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    remaining: int = 0

    def as_dict(self) -> dict[str, int]:
        """JSON-ready form."""
        return {
            "sent": self.sent,
            "retried": self.retried,
            "failed": self.failed,
            "remaining": self.remaining,
        }


def retry_delay(settings: OutboxSettings, attempts: int) -> timedelta:
    """Wait before attempt ``attempts + 1``: base * 2**(attempts-1), at most 6 hours."""
    seconds = settings.retry_base_seconds * 2 ** max(attempts - 1, 0)
    return min(timedelta(seconds=seconds), MAX_RETRY_DELAY)


def _fail(session: Session, msg: OutboxMessage, reason: str, at: datetime) -> None:
    msg.status = "failed"
    msg.last_error = reason
    record_event(
        session,
        msg.application_id,
        "delivery_failed",
        ledger_id=msg.ledger_id,
        at=at,
        detail=f"{msg.kind} mail could not be delivered: {reason}",
        data={"message_id": msg.message_id, "attempts": msg.attempts},
    )


def flush(
    session_factory: Callable[[], Session],
    settings: OutboxSettings,
    transport: Transport,
    now: Callable[[], datetime] = utcnow,
    imap_sent: Callable[[bytes], None] | None = None,
    *,
    limit: int | None = None,
) -> FlushReport:
    """Deliver every queued message that is due, oldest first; commit after each one.

    Success → ``sent`` with ``sent_at`` and a ``mail_sent`` event, then
    ``imap_sent(raw)`` (a copy for the Sent folder; its errors are logged, never
    fatal). Temporary failure → ``attempts + 1`` and a later ``next_attempt_at``
    (exponential, capped), or ``failed`` once ``max_attempts`` is reached.
    Permanent failure (5xx) → ``failed`` with the server's words and a
    ``delivery_failed`` event on the application. A failure of the transport itself
    (cannot connect, login refused) ends the batch: the others wait their turn.

    Crash safety: a message whose ``sent`` state was committed is never sent again.
    A crash after the server accepted a message but before the commit sends it again
    on the next flush — with the same Message-ID, so it is recognisable as a
    duplicate by the recipient's mail client and in our logs.
    """
    report = FlushReport()
    started = now()
    with session_factory() as session:
        stmt = (
            select(OutboxMessage.id)
            .where(OutboxMessage.status == "queued", OutboxMessage.next_attempt_at <= started)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.created_at, OutboxMessage.id)
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        ids = list(session.exec(stmt).all())
    try:
        for msg_id in ids:
            with session_factory() as session:
                msg = session.get(OutboxMessage, msg_id)
                if msg is None or msg.status != "queued":
                    continue  # another flusher got it
                stop = _deliver_one(session, msg, settings, transport, now, report)
                raw = msg.raw if msg.status == "sent" else None
                session.commit()
            if raw is not None and imap_sent is not None:
                try:
                    imap_sent(raw)
                except Exception as exc:  # the mail went out; the copy is extra
                    log.warning("could not keep a copy in the Sent folder: %s", exc)
            if stop:
                break
    finally:
        transport.close()
    with session_factory() as session:
        count = select(func.count()).where(OutboxMessage.status == "queued")
        report.remaining = int(session.exec(count).one())
    return report


def _redact(text: str) -> str:
    """Server words for the operator log, without mail addresses (personal data);
    the full words stay in the database for officers."""
    return re.sub(r"[^\s<>\"':;,]+@", "…@", text)


def _deliver_one(
    session: Session,
    msg: OutboxMessage,
    settings: OutboxSettings,
    transport: Transport,
    now: Callable[[], datetime],
    report: FlushReport,
) -> bool:
    """Try one message and record the outcome; True = stop the batch."""
    try:
        transport.send(msg)
    except PermanentDeliveryError as exc:
        msg.attempts += 1
        _fail(session, msg, exc.reason, now())
        report.failed += 1
        log.warning("outbox %s: permanent failure: %s", msg.id, _redact(exc.reason))
        return False
    except TemporaryDeliveryError as exc:
        at = now()
        msg.attempts += 1
        msg.last_error = exc.reason
        if msg.attempts >= settings.max_attempts:
            _fail(session, msg, f"gave up after {msg.attempts} attempts: {exc.reason}", at)
            report.failed += 1
        else:
            msg.next_attempt_at = at + retry_delay(settings, msg.attempts)
            report.retried += 1
        log.info("outbox %s: temporary failure: %s", msg.id, _redact(exc.reason))
        return exc.connection
    at = now()
    msg.attempts += 1
    msg.status = "sent"
    msg.sent_at = at
    msg.last_error = ""
    record_event(
        session,
        msg.application_id,
        "mail_sent",
        ledger_id=msg.ledger_id,
        at=at,
        detail=msg.kind,
        data={"message_id": msg.message_id},
    )
    report.sent += 1
    return False
