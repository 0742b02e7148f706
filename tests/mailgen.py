"""Small builders of test mail (invented people, reserved domains)."""

from __future__ import annotations

import email.policy
import itertools
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

_counter = itertools.count(1)


def simple_mail(
    subject: str = "Permohonan SIKM",
    sender: str = "warga@example.com",
    body: str = "Selamat pagi, berikut permohonan saya.",
    message_id: str | None = None,
    attachments: list[tuple[str, str, bytes]] = (),
    in_reply_to: str = "",
    headers: list[tuple[str, str]] = (),
) -> bytes:
    """A plain mail as a phone client would send it.

    ``in_reply_to`` makes it a reply (In-Reply-To and References); ``headers`` come
    first, on top, as a receiving MTA would add them (e.g. Authentication-Results).
    """
    n = next(_counter)
    msg = EmailMessage()
    for name, value in headers:
        msg[name] = value
    msg["From"] = f"Warga {n} <{sender}>"
    msg["To"] = "sikm@sikm.example.org"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2020, 5, 20, 9, 0, n % 60, tzinfo=UTC))
    msg["Message-ID"] = message_id or f"<test-{n}-{id(msg)}@example.com>"
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(body)
    for name, ctype, data in attachments:
        maintype, subtype = ctype.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes(policy=email.policy.SMTP)


def drop_into_maildir(inbox: Path, raw: bytes, name: str | None = None) -> Path:
    """Deliver ``raw`` into ``inbox/new`` the way an MDA does (tmp, then rename)."""
    for sub in ("cur", "new", "tmp"):
        (inbox / sub).mkdir(parents=True, exist_ok=True)
    name = name or f"{datetime.now().timestamp():.6f}.{next(_counter)}.test"
    tmp = inbox / "tmp" / name
    tmp.write_bytes(raw)
    final = inbox / "new" / name
    tmp.rename(final)
    return final
