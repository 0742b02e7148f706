"""A copy of each reply in the office mailbox's Sent folder (optional)."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Callable

from imapclient import IMAPClient, SocketTimeout

from sikm_mailbot.config import Settings


def sent_folder_appender(settings: Settings) -> Callable[[bytes], None] | None:
    """A function that appends a sent mail to ``outbox.sent_folder`` over IMAP, or None.

    Needs the inbox to be IMAP (the same account). One short connection per flush
    batch would be cheaper, but replies are few per minute and a fresh connection
    cannot be left half-broken.
    """
    folder = settings.outbox.sent_folder
    inbox = settings.inbox
    if not folder or inbox.kind != "imap":
        return None

    def append(raw: bytes) -> None:
        context = None
        if inbox.security != "none":
            context = ssl.create_default_context(
                cafile=str(settings.path(inbox.ca_file)) if inbox.ca_file else None
            )
            if not inbox.verify_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        port = inbox.port or (993 if inbox.security == "ssl" else 143)
        timeout = SocketTimeout(connect=inbox.timeout, read=inbox.timeout)
        client = IMAPClient(
            inbox.host, port, ssl=inbox.security == "ssl", ssl_context=context, timeout=timeout
        )
        try:
            if inbox.security == "starttls":
                client.starttls(context)
            client.login(inbox.username, inbox.password)
            if not client.folder_exists(folder):
                client.create_folder(folder)
            client.append(folder, raw, flags=[b"\\Seen"])
        finally:
            with contextlib.suppress(Exception):  # the copy is best effort
                client.logout()

    return append
