"""The queue: one rendered mail becomes one outbox row, in the caller's transaction.

Choices (RFC 3834 and LIBRARY-NOTES.md "Mail loops"):

* Every mail carries ``Auto-Submitted: auto-replied`` when it answers a citizen's
  mail (``auto-generated`` for mails no incoming mail caused, e.g. a permit an
  officer issued), ``X-Auto-Response-Suppress: All`` (asks Exchange/Outlook not to
  send out-of-office or other automatic replies) and ``X-Loop: <office address>``
  (so our own mail coming back is recognised by :mod:`triage`).
* No ``Precedence`` header: RFC 3834 says not to rely on it, and ``bulk`` marks
  a personal, transactional mail as mass mail to spam filters.
* Exactly one recipient per mail, and a per-recipient cap
  (``OutboxSettings.replies_per_hour``) on mails that answer incoming mail; the
  guarantor's request and reminder have their own per-address daily cap
  (``guarantor_mails_per_day``). Decision mails (permit, rejection, cancelled)
  are never capped: an officer caused them, they cannot loop, and the citizen
  must get them.
* The stored ``raw`` bytes are exactly what goes on the wire (7-bit, CRLF): text
  parts are quoted-printable, attachments base64, so no 8BITMIME is needed. The
  Message-ID is fixed here, so a resend after a crash is recognisable.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from typing import TYPE_CHECKING

from sqlalchemy import func
from sqlmodel import Session, select

from sikm_mailbot.config import OfficeSettings, Settings
from sikm_mailbot.outbox.compose import RenderedReply
from sikm_mailbot.store.audit import record_event
from sikm_mailbot.store.models import OutboxMessage, utcnow

if TYPE_CHECKING:
    from sikm_mailbot.outbox.notify import Notice, OutgoingFile

MAX_REFERENCES = 10  # RFC 5322 lets us trim; keep the first id and the newest ones
# Decisions are never held back: an officer caused them, they cannot loop, and the
# citizen must get them.
UNCAPPED_KINDS = frozenset(
    {"permit", "rejection", "cancelled"}
    | {"address_changed"}  # an officer's edit told the old address: it must arrive
)
# Mail to a third party whom any applicant may name: capped per address and day
# (``outbox.guarantor_mails_per_day``), so twenty forged applications cannot turn
# the office into a mail cannon aimed at one person.
GUARANTOR_KINDS = frozenset({"guarantor_request", "guarantor_reminder"})
_MSGID = re.compile(r"<[^<>\s@]+@[^<>\s@]+>")
_WIRE = policy.SMTP.clone(max_line_length=78)


def new_message_id(office: OfficeSettings) -> str:
    """A fresh, globally unique Message-ID: ``<uuid4hex@message_id_domain>``."""
    return f"<{uuid.uuid4().hex}@{office.message_id_domain}>"


def _single_address(to_addr: str) -> str | None:
    """The one bare address in ``to_addr``, domain lower-cased; None when not exactly one."""
    if not to_addr or any(c in to_addr for c in "\r\n,;"):
        return None
    _, addr = parseaddr(to_addr)
    if addr.count("@") != 1 or any(c.isspace() for c in addr):
        return None
    local, domain = addr.split("@")
    if not local or "." not in domain or domain.startswith(".") or domain.endswith("."):
        return None
    return f"{local}@{domain.lower()}"


def _msg_ids(values: Iterable[str]) -> list[str]:
    """Valid ``<id@host>`` tokens from untrusted header text, in order, without repeats."""
    found: list[str] = []
    for value in values:
        found.extend(_MSGID.findall(value or ""))
    return list(dict.fromkeys(found))


def _references(references: Sequence[str], in_reply_to: str) -> list[str]:
    ids = _msg_ids([*references, in_reply_to])
    if len(ids) > MAX_REFERENCES:
        ids = [ids[0], *ids[-(MAX_REFERENCES - 1) :]]
    return ids


def _recent_count(
    session: Session, to_addr: str, since: datetime, kinds: Iterable[str] = ()
) -> int:
    """Mails queued to ``to_addr`` since ``since`` (only of ``kinds`` when given)."""
    stmt = select(func.count()).where(
        func.lower(OutboxMessage.to_addr) == to_addr.lower(),
        OutboxMessage.created_at >= since,
    )
    if kinds:
        stmt = stmt.where(OutboxMessage.kind.in_(list(kinds)))
    return int(session.exec(stmt).one())


def build_message(
    *,
    subject: str,
    text: str,
    html: str,
    office: OfficeSettings,
    to_addr: str,
    message_id: str,
    date: datetime,
    in_reply_to: str = "",
    references: Sequence[str] = (),
    attachments: Sequence[OutgoingFile] = (),
) -> EmailMessage:
    """The full MIME message: text+HTML alternatives, attachments → multipart/mixed."""
    msg = EmailMessage(policy=_WIRE)
    msg["From"] = formataddr((office.name, office.address))
    msg["To"] = to_addr
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    parent = _msg_ids([in_reply_to])
    if parent:
        msg["In-Reply-To"] = parent[0]
    refs = _references(references, in_reply_to)
    if refs:
        msg["References"] = " ".join(refs)
    msg["Auto-Submitted"] = "auto-replied" if parent else "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Loop"] = office.address
    msg["Content-Language"] = "id, en"
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    for file in attachments:
        maintype, _, subtype = (file.mime_type or "application/octet-stream").partition("/")
        msg.add_attachment(
            file.data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=file.filename,
        )
    return msg


def enqueue(
    session: Session,
    notice: Notice,
    rendered: RenderedReply,
    settings: Settings,
    *,
    now: datetime | None = None,
) -> OutboxMessage | None:
    """Queue ``rendered`` as ``notice`` says; add the row and a ``mail_out`` event.

    Does NOT commit: the caller commits in the same transaction as the change that
    caused the mail, so a crash leaves both or neither. In-Reply-To and References
    come from ``notice.thread``; both are untrusted and only well-formed ids are kept.

    Returns None, with a ``reply_suppressed`` event, when ``notice.to`` is not exactly
    one valid address, or when ``replies_per_hour`` mails to that address were
    queued in the last hour (decision mails excepted, see the module doc).
    """
    now = now or utcnow()
    kind, outbox = notice.kind, settings.outbox
    application_id = notice.application.id if notice.application else None
    addr = _single_address(notice.to)

    def audit(action: str, detail: str, data: dict[str, object]) -> None:
        record_event(
            session,
            application_id,
            action,
            ledger_id=notice.ledger_id,
            at=now,
            actor=notice.actor,
            detail=detail,
            data=data,
        )

    def suppressed(detail: str) -> None:
        audit("reply_suppressed", detail, {"kind": kind})

    if addr is None:
        suppressed(f"{kind}: no single valid recipient address")
        return None
    if kind in GUARANTOR_KINDS:
        recent = _recent_count(session, addr, now - timedelta(days=1), GUARANTOR_KINDS)
        if recent >= outbox.guarantor_mails_per_day:
            suppressed(
                f"rate limit: {recent} guarantor mails to this address in the last 24 hours "
                f"(limit {outbox.guarantor_mails_per_day}); {kind} not sent"
            )
            return None
    elif kind not in UNCAPPED_KINDS:
        recent = _recent_count(session, addr, now - timedelta(hours=1))
        if recent >= outbox.replies_per_hour:
            suppressed(
                f"rate limit: {recent} mails to this address in the last hour "
                f"(limit {outbox.replies_per_hour}); {kind} not sent"
            )
            return None

    message_id = new_message_id(settings.office)
    msg = build_message(
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        office=settings.office,
        to_addr=addr,
        message_id=message_id,
        date=now,
        in_reply_to=notice.thread.in_reply_to,
        references=notice.thread.references,
        attachments=notice.attachments,
    )
    row = OutboxMessage(
        message_id=message_id,
        application_id=application_id,
        ledger_id=notice.ledger_id,
        kind=kind,
        to_addr=addr,
        subject=rendered.subject,
        raw=msg.as_bytes(policy=_WIRE),
        status="queued",
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    files = [f.filename for f in notice.attachments]
    audit("mail_out", kind, {"message_id": message_id, "attachments": files})
    return row


def retry_failed(
    session: Session, message_id: str, *, now: datetime | None = None, actor: str = "officer"
) -> OutboxMessage | None:
    """Put a failed message back in the queue (officer's choice); None when not found
    or not failed. Adds a ``mail_requeued`` event; the caller commits."""
    msg = session.exec(select(OutboxMessage).where(OutboxMessage.message_id == message_id)).first()
    if msg is None or msg.status != "failed":
        return None
    now = now or utcnow()
    msg.status = "queued"
    msg.attempts = 0
    msg.next_attempt_at = now
    record_event(
        session,
        msg.application_id,
        "mail_requeued",
        ledger_id=msg.ledger_id,
        at=now,
        actor=actor,
        detail=f"{msg.kind}: was failed ({msg.last_error})",
        data={"message_id": msg.message_id},
    )
    return msg
