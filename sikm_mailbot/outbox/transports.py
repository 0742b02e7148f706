"""Transports: how a queued mail leaves — an .eml file (the default) or SMTP.

Envelope sender = the office address, not the null path ``<>``. RFC 3834 suggests
a null envelope for automatic responses so a failed response cannot bounce into a
loop; here the replies carry what the citizen must act on, so the office needs the
bounces (they become ``delivery_failed`` events via intake), and a null sender
breaks SPF alignment and DMARC at many receivers. Loops are prevented instead by
never answering bounces or automatic mail (triage), the headers the queue sets and
the rate limit.
"""

from __future__ import annotations

import contextlib
import os
import re
import smtplib
import ssl
import tempfile
from email import policy
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol

from sikm_mailbot.config import OutboxSettings
from sikm_mailbot.errors import DeliveryError as BaseDeliveryError
from sikm_mailbot.store import disk
from sikm_mailbot.store.models import OutboxMessage


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
    so a reader never sees half a message; a disk that refuses the write (full,
    read-only) raises StorageError, the temp file removed.
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
            # A full or read-only disk is not this message's fault: StorageError ends
            # the flush with the message still queued and no attempt counted.
            found = disk.from_os_error(exc, self.path)
            if found is not None:
                raise found from exc
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
