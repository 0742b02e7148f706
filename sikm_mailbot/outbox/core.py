"""The outbox: replies are queued in the same transaction as the change that caused
them, then delivered by :func:`flush` with retries.

Choices (RFC 3834 and LIBRARY-NOTES.md "Mail loops"):

* Every mail carries ``Auto-Submitted: auto-replied`` when it answers a citizen's
  mail (``auto-generated`` for mails no incoming mail caused, e.g. a permit an
  officer issued), ``X-Auto-Response-Suppress: All`` (asks Exchange/Outlook not to
  send out-of-office or other automatic replies) and ``X-Loop: <office address>``
  (so our own mail coming back is recognised by :mod:`triage`).
* No ``Precedence`` header: RFC 3834 says not to rely on it, and ``bulk`` marks
  a personal, transactional mail as mass mail to spam filters.
* Exactly one recipient per mail, and a per-recipient cap
  (``OutboxSettings.replies_per_hour``) on mails that answer incoming mail.
  Decision mails (permit, rejection, cancelled) are never capped: an officer
  caused them, they cannot loop, and the citizen must get them.
* Envelope sender = the office address, not the null path ``<>``. RFC 3834
  suggests a null envelope for automatic responses so a failed response cannot
  bounce into a loop; here the replies carry what the citizen must act on, so the
  office needs the bounces (they become ``delivery_failed`` events via intake),
  and a null sender breaks SPF alignment and DMARC at many receivers. Loops are
  prevented instead by never answering bounces or automatic mail (triage), the
  headers above and the rate limit.
* The stored ``raw`` bytes are exactly what goes on the wire (7-bit, CRLF): text
  parts are quoted-printable, attachments base64, so no 8BITMIME is needed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import smtplib
import ssl
import tempfile
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import func
from sqlmodel import Session, select

from sikm_mailbot.config import OfficeSettings, OutboxSettings
from sikm_mailbot.errors import DeliveryError as BaseDeliveryError
from sikm_mailbot.outbox.compose import render
from sikm_mailbot.store.audit import record_event
from sikm_mailbot.store.models import OutboxMessage, utcnow

log = logging.getLogger(__name__)

MAX_REFERENCES = 10  # RFC 5322 lets us trim; keep the first id and the newest ones
MAX_RETRY_DELAY = timedelta(hours=6)
# Decisions and the guarantor check are never held back: they cannot loop (they answer
# no incoming mail), and a company guarantor may vouch for many applicants in an hour.
UNCAPPED_KINDS = frozenset(
    {"permit", "rejection", "cancelled", "guarantor_request", "guarantor_reminder"}
)
_MSGID = re.compile(r"<[^<>\s@]+@[^<>\s@]+>")
_WIRE = policy.SMTP.clone(max_line_length=78)


# --------------------------------------------------------------------------- queue


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


def _recent_count(session: Session, to_addr: str, since: datetime) -> int:
    stmt = select(func.count()).where(
        func.lower(OutboxMessage.to_addr) == to_addr.lower(),
        OutboxMessage.created_at >= since,
    )
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
    attachments: Sequence[tuple[str, str, bytes]] = (),
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
    for filename, mime_type, data in attachments:
        maintype, _, subtype = (mime_type or "application/octet-stream").partition("/")
        msg.add_attachment(
            data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=filename,
        )
    return msg


def queue_reply(
    session: Session,
    *,
    kind: str,
    to_addr: str,
    context: dict[str, Any],
    office: OfficeSettings,
    settings: OutboxSettings,
    in_reply_to: str = "",
    references: Sequence[str] = (),
    application_id: str | None = None,
    ledger_id: int | None = None,
    attachments: Sequence[tuple[str, str, bytes]] = (),
    now: datetime | None = None,
    actor: str = "bot",
    template_dir: Path | None = None,
) -> OutboxMessage | None:
    """Render and queue one reply; add it and a ``mail_out`` event to ``session``.

    Does NOT commit: the caller commits in the same transaction as the state change
    that caused the reply, so a crash leaves both or neither. The Message-ID is
    fixed here. ``in_reply_to`` is the citizen's Message-ID and ``references`` their
    References; both are untrusted and only well-formed ids are kept.

    Returns None, with a ``reply_suppressed`` event, when ``to_addr`` is not exactly
    one valid address or when ``settings.replies_per_hour`` mails to that address
    were queued in the last hour (decision mails excepted, see module doc). Raises
    :class:`replies.ReplyError` for an unknown kind or a broken template.
    """
    now = now or utcnow()
    rendered = render(kind, context, office, template_dir=template_dir)
    addr = _single_address(to_addr)

    def suppressed(detail: str) -> None:
        record_event(
            session,
            application_id,
            "reply_suppressed",
            ledger_id=ledger_id,
            at=now,
            actor=actor,
            detail=detail,
            data={"kind": kind},
        )

    if addr is None:
        suppressed(f"{kind}: no single valid recipient address")
        return None
    if kind not in UNCAPPED_KINDS:
        recent = _recent_count(session, addr, now - timedelta(hours=1))
        if recent >= settings.replies_per_hour:
            suppressed(
                f"rate limit: {recent} mails to this address in the last hour "
                f"(limit {settings.replies_per_hour}); {kind} not sent"
            )
            return None

    message_id = new_message_id(office)
    msg = build_message(
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        office=office,
        to_addr=addr,
        message_id=message_id,
        date=now,
        in_reply_to=in_reply_to,
        references=references,
        attachments=attachments,
    )
    row = OutboxMessage(
        message_id=message_id,
        application_id=application_id,
        ledger_id=ledger_id,
        kind=kind,
        to_addr=addr,
        subject=rendered.subject,
        raw=msg.as_bytes(policy=_WIRE),
        status="queued",
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    record_event(
        session,
        application_id,
        "mail_out",
        ledger_id=ledger_id,
        at=now,
        actor=actor,
        detail=kind,
        data={"message_id": message_id, "attachments": [a[0] for a in attachments]},
    )
    return row


# --------------------------------------------------------------------------- transports


class DeliveryError(BaseDeliveryError):
    """Delivery of one message failed; ``reason`` is what the server or system said."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TemporaryDeliveryError(DeliveryError):
    """Try again later (4xx, network trouble). ``connection`` = the transport itself
    failed (cannot connect, TLS, login), so the rest of the batch waits too."""

    def __init__(self, reason: str, *, connection: bool = False) -> None:
        super().__init__(reason)
        self.connection = connection


class PermanentDeliveryError(DeliveryError):
    """The server refused the message for good (5xx): do not retry."""


class Transport(Protocol):
    """Delivers stored messages; raises a :class:`DeliveryError` subclass on failure."""

    def send(self, message: OutboxMessage) -> None:
        """Deliver ``message.raw`` to ``message.to_addr``."""

    def close(self) -> None:
        """Release connections; never raises."""


def _safe_name(message_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", message_id.strip("<>"))[:120]


class FileTransport:
    """Writes each message as ``<created time>-<Message-ID>.eml`` (mode 0600, dir 0700).

    Idempotent: the name comes from fixed values of the message, so sending again
    finds the file and writes nothing. Writes go to a temp file then ``os.replace``,
    so a reader never sees half a message.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def filename(self, message: OutboxMessage) -> str:
        """The file name a message is (or will be) stored under."""
        created = message.created_at.strftime("%Y%m%dT%H%M%S")
        return f"{created}-{_safe_name(message.message_id)}.eml"

    def send(self, message: OutboxMessage) -> None:
        """Write the message file unless it is already there."""
        try:
            self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(self.path, 0o700)
            target = self.path / self.filename(message)
            if target.exists():
                return
            fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".tmp-", suffix=".eml")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(message.raw)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.chmod(tmp, 0o600)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise TemporaryDeliveryError(f"cannot write to {self.path}: {exc}") from exc

    def close(self) -> None:
        """Remove temp files a killed writer left behind; never raises.

        A SIGKILL between ``mkstemp`` and ``os.replace`` leaves a ``.tmp-*.eml``
        holding a citizen's reply. Only one process sends at a time (the outbox
        lease), so at the end of a flush every temp file is stale.
        """
        with contextlib.suppress(OSError):
            for stale in self.path.glob(".tmp-*.eml"):
                stale.unlink(missing_ok=True)


def _reply_text(code: int, msg: bytes | str) -> str:
    text = msg.decode("utf-8", "replace") if isinstance(msg, bytes) else str(msg)
    return f"{code} {' '.join(text.split())}".strip()


def _classify(code: int, reason: str) -> DeliveryError:
    if 500 <= code < 600:
        return PermanentDeliveryError(reason)
    return TemporaryDeliveryError(reason, connection=code == 421)


class SmtpTransport:
    """Sends through an SMTP server: SSL or STARTTLS (verified by default), optional login.

    One connection is reused for a batch and reopened after any error. The envelope
    sender is ``envelope_from`` or, when empty, the address in the message's From
    (the office address; see the module doc for why it is not ``<>``). The stored
    bytes are sent unchanged to the one recipient.
    """

    def __init__(
        self,
        settings: OutboxSettings,
        *,
        envelope_from: str = "",
        local_hostname: str | None = None,
    ) -> None:
        self.settings = settings
        self.envelope_from = envelope_from
        self.local_hostname = local_hostname
        self._smtp: smtplib.SMTP | None = None

    def _tls_context(self) -> ssl.SSLContext:
        s = self.settings
        ctx = ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)
        if not s.verify_tls:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def _port(self) -> int:
        s = self.settings
        if s.port:
            return s.port
        return {"ssl": 465, "starttls": 587}.get(s.security, 25)

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            if s.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host,
                    self._port(),
                    local_hostname=self.local_hostname,
                    timeout=s.timeout,
                    context=self._tls_context(),
                )
            else:
                smtp = smtplib.SMTP(
                    s.host, self._port(), local_hostname=self.local_hostname, timeout=s.timeout
                )
                if s.security == "starttls":
                    smtp.ehlo()
                    smtp.starttls(context=self._tls_context())
                    smtp.ehlo()
            if s.username:
                smtp.login(s.username, s.password)
        except smtplib.SMTPAuthenticationError as exc:
            raise TemporaryDeliveryError(
                f"SMTP login refused: {_reply_text(exc.smtp_code, exc.smtp_error)}",
                connection=True,
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise TemporaryDeliveryError(
                f"SMTP server lacks a required feature: {exc}", connection=True
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:  # ssl.SSLError is an OSError
            raise TemporaryDeliveryError(
                f"cannot connect to {s.host}:{self._port()}: {exc or type(exc).__name__}",
                connection=True,
            ) from exc
        return smtp

    def _sender(self, message: OutboxMessage) -> str:
        if self.envelope_from:
            return self.envelope_from
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(message.raw)
        return parseaddr(headers.get("From", ""))[1]

    def send(self, message: OutboxMessage) -> None:
        """Send one message; map every failure to a temporary or permanent error."""
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            refused = self._smtp.sendmail(self._sender(message), [message.to_addr], message.raw)
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            code, text = next(iter(exc.recipients.values()), (550, b"recipient refused"))
            raise _classify(code, _reply_text(code, text)) from exc
        except smtplib.SMTPResponseException as exc:  # sender refused, data error, 4xx/5xx
            self.close()
            raise _classify(exc.smtp_code, _reply_text(exc.smtp_code, exc.smtp_error)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            # Disconnected (maybe after DATA was accepted but before the final reply):
            # we cannot know whether it was delivered, so retry; the fixed Message-ID
            # lets the recipient (and our tests) recognise a duplicate.
            self.close()
            raise TemporaryDeliveryError(
                f"connection lost: {exc or type(exc).__name__}", connection=True
            ) from exc
        if refused:  # one recipient only, so a partial refusal cannot happen; be safe
            code, text = next(iter(refused.values()))
            raise _classify(code, _reply_text(code, text))

    def close(self) -> None:
        """Say QUIT when possible and drop the connection."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except Exception:  # closing must never fail
            with contextlib.suppress(Exception):
                smtp.close()


# --------------------------------------------------------------------------- flush


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
