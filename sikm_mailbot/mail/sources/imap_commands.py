"""IMAP steps that take more than one round trip: connecting, a crash-safe move, IDLE.

Apart from :func:`open_client`, they work on a logged-in ``IMAPClient`` with the
inbox selected;
:class:`~sikm_mailbot.mail.sources.imap.ImapSource` supplies it and reconnects
when they raise.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import time
from collections.abc import Callable, Sequence
from typing import Literal

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import CapabilityError, IMAPClientError

from .base import SourceError

log = logging.getLogger(__name__)

# Set on a message while the COPY + delete fallback moves it (see move_message).
MOVING_FLAG = b"$SikmMoving"


Security = Literal["ssl", "starttls", "none"]


class ConnectionDropped(Exception):
    """The connection turned out to be dead (EOF seen in IDLE)."""


def open_client(
    host: str,
    port: int,
    *,
    security: Security,
    verify_tls: bool,
    ca_file: str | None,
    timeout: float,
) -> IMAPClient:
    """A connection to ``host:port``, TLS per ``security``, not yet logged in.

    Raises SourceError when STARTTLS is asked for and the server does not offer it.
    """
    ctx = _ssl_context(verify_tls, ca_file) if security != "none" else None
    client = IMAPClient(
        host,
        port,
        ssl=security == "ssl",
        ssl_context=ctx,
        timeout=SocketTimeout(connect=timeout, read=timeout),
    )
    if security == "starttls":
        try:
            client.starttls(ctx)
        except BaseException as e:
            with contextlib.suppress(Exception):
                client.shutdown()
            if isinstance(e, CapabilityError):
                raise SourceError(
                    f"IMAP server {host}:{port} does not offer STARTTLS; "
                    f"use security 'ssl' (usually port 993)"
                ) from e
            raise
    return client


def _ssl_context(verify_tls: bool, ca_file: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca_file)
    if not verify_tls:  # test servers with self-signed certificates only
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def ensure_folder(c: IMAPClient, name: str, ready: set[str]) -> None:
    """Create folder ``name`` unless it exists; ``ready`` caches the names known to exist."""
    if name in ready:
        return
    if not c.folder_exists(name):
        try:
            c.create_folder(name)
            log.info("IMAP %s: created folder %s", c.host, name)
        except IMAPClientError:
            if not c.folder_exists(name):  # not a create race: a real failure
                raise
    ready.add(name)


def move_message(c: IMAPClient, uid: int, target: str, home: str) -> None:
    """Move ``uid`` from folder ``home`` to ``target``: UID MOVE, or where the server
    has no MOVE, COPY + \\Deleted + expunge.

    The fallback is not atomic: a connection lost after COPY ran but before the
    delete would copy again on the retry. So the message is marked with a private
    keyword before the COPY, and a marked message is first looked for in the
    target (by Message-ID) and copied only when it is not there yet.
    """
    if c.has_capability("MOVE"):
        c.move([uid], target)
        return
    marked = MOVING_FLAG in c.get_flags([uid]).get(uid, ())
    if not (marked and _already_in(c, uid, target, home)):
        with contextlib.suppress(IMAPClientError):  # servers without keywords: no guard
            c.add_flags([uid], [MOVING_FLAG], silent=True)
        c.copy([uid], target)
    c.delete_messages([uid], silent=True)
    if c.has_capability("UIDPLUS"):
        c.uid_expunge([uid])
    else:  # expunges every \Deleted message; only this bot deletes here
        c.expunge()


def _already_in(c: IMAPClient, uid: int, target: str, home: str) -> bool:
    """Whether a copy of ``uid`` (same Message-ID and size) is already in ``target``."""
    got = c.fetch([uid], ["RFC822.SIZE", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]).get(uid, {})
    header = got.get(b"BODY[HEADER.FIELDS (MESSAGE-ID)]", b"").decode("ascii", "replace")
    message_id = header.partition(":")[2].strip()
    if not message_id:
        return False  # nothing to recognise it by: copying again is the lesser harm
    try:
        c.select_folder(target, readonly=True)
        found = c.search(["HEADER", "Message-ID", message_id])
        sizes = c.fetch(found, ["RFC822.SIZE"]) if found else {}
        return any(v.get(b"RFC822.SIZE") == got.get(b"RFC822.SIZE") for v in sizes.values())
    finally:
        c.select_folder(home, readonly=False)


def idle_until(c: IMAPClient, deadline: float, on_error: Callable[[], None]) -> bool:
    """IDLE until new mail is announced or the monotonic ``deadline``; True when it was.

    ``on_error`` runs before any error inside IDLE propagates (the caller drops the
    connection: it cannot be used half-way through IDLE). imapclient's
    ``idle_check`` swallows EOF and returns [] early: that raises ConnectionDropped.
    """
    c.idle()
    news = False
    try:
        while not news:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            started = time.monotonic()
            responses = c.idle_check(timeout=remaining)
            if not responses and time.monotonic() - started < remaining - 0.05:
                raise ConnectionDropped("connection closed during IDLE")
            news = _announces_mail(responses)
    except BaseException:
        on_error()
        raise
    _, done_responses = c.idle_done()
    return news or _announces_mail(done_responses)


def _announces_mail(responses: Sequence[object]) -> bool:
    """True if IDLE responses include EXISTS or RECENT (``(n, b'EXISTS')``)."""
    return any(
        isinstance(r, tuple) and len(r) >= 2 and r[1] in (b"EXISTS", b"RECENT") for r in responses
    )


def error_text(e: BaseException) -> str:
    """An exception's message as text (imaplib puts bytes in args)."""
    if e.args and isinstance(e.args[0], bytes):
        return e.args[0].decode(errors="replace")
    text = str(e) or type(e).__name__
    if text.startswith(("b'", 'b"')) and text[-1:] == text[1]:  # LoginError(str(bytes))
        text = text[2:-1]
    return text
