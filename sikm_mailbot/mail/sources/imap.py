"""Read the permit desk's inbox over IMAP (imapclient), surviving dropped connections.

Every public call runs through :meth:`ImapSource._call`, which reconnects with
exponential backoff when the connection drops (server restart, network cut,
idle timeout) and retries the operation, then gives up with a
:class:`~sikm_mailbot.mail.sources.base.SourceError` that says what to check.

Reading never marks mail as seen (``BODY.PEEK[]``); messages leave the inbox
only through :meth:`ImapSource.finish`, and only while the folder's
UIDVALIDITY still matches the one the UID was read under. The steps that take
several round trips (connecting with TLS, the crash-safe move, IDLE) are in
:mod:`.imap_commands`.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import (
    IMAPClientAbortError,
    IMAPClientError,
    LoginError,
)

from .base import Destination, MessageRef, SourceError
from .imap_commands import (
    MOVING_FLAG,
    ConnectionDropped,
    Security,
    ensure_folder,
    error_text,
    idle_until,
    move_message,
    open_client,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Longest single IDLE before it is renewed (RFC 2177 asks for < 29 minutes;
#: NAT boxes drop quiet connections much sooner).
IDLE_RENEW_SECONDS = 600.0
#: Cap on the wait between reconnect attempts.
MAX_BACKOFF_SECONDS = 30.0
#: A fetch batch also stops growing at this many bytes (imaplib keeps a whole
#: response in memory).
MAX_BATCH_BYTES = 32 * 1024 * 1024


class ImapSource:
    """The inbox folder of one IMAP account, as a mail source."""

    kind = "imap"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        password: str,
        folder: str = "INBOX",
        security: Security = "ssl",
        verify_tls: bool = True,
        ca_file: str | None = None,
        processed_folder: str = "Processed",
        quarantine_folder: str = "Quarantine",
        batch_size: int = 20,
        timeout: float = 30.0,
        max_reconnects: int = 5,
        backoff_base: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if security not in ("ssl", "starttls", "none"):
            raise ValueError(f"security must be 'ssl', 'starttls' or 'none', not {security!r}")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.folder = folder
        self.security: Security = security
        self.verify_tls = verify_tls
        self.ca_file = ca_file
        self.folders: dict[Destination, str] = {
            "processed": processed_folder,
            "quarantine": quarantine_folder,
        }
        self.batch_size = batch_size
        self.timeout = timeout
        self.max_reconnects = max_reconnects
        self.backoff_base = backoff_base
        self._sleep = sleep
        self._client: IMAPClient | None = None
        self._uidvalidity = 0
        self._selected_on: IMAPClient | None = None  # the connection that last selected
        self._ready_folders: set[str] = set()
        self.reconnects = 0  # reconnect attempts so far, for stats and tests

    def __repr__(self) -> str:
        return f"ImapSource({self.username}@{self.host}:{self.port}/{self.folder})"

    # -- public API --------------------------------------------------------------------------

    def open(self) -> None:
        """Connect, log in and select the folder (read-write); idempotent."""
        if self._client is None:
            self._call("open", lambda c: None)

    def close(self) -> None:
        """Log out and drop the connection; never raises."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception as e:  # already dead, or the server is rude: nothing to do
            log.debug("IMAP logout from %s failed (%s); closing socket", self.host, e)
            with contextlib.suppress(Exception):
                client.shutdown()

    def __enter__(self) -> ImapSource:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def uidvalidity(self) -> int:
        """The folder's current UIDVALIDITY (selects the folder, or syncs it with NOOP)."""
        return self._call("uidvalidity", self._refresh)

    def list_new(self, after_uid: int = 0) -> list[MessageRef]:
        """Messages with UID > ``after_uid``, oldest first, with RFC822.SIZE; no bodies."""
        after_uid = max(0, int(after_uid))

        def op(c: IMAPClient) -> list[MessageRef]:
            validity = self._refresh(c)
            # `UID n:*` always matches the highest UID, even when it is below n.
            uids = sorted(u for u in c.search(["UID", f"{after_uid + 1}:*"]) if u > after_uid)
            refs: list[MessageRef] = []
            for i in range(0, len(uids), max(self.batch_size, 500)):
                chunk = uids[i : i + max(self.batch_size, 500)]
                for uid, data in c.fetch(chunk, [b"RFC822.SIZE"]).items():
                    if uid in chunk:  # ignore unsolicited FETCH responses
                        refs.append(MessageRef(str(uid), int(data[b"RFC822.SIZE"]), validity))
            return sorted(refs, key=lambda r: int(r.uid))

        refs = self._call("list_new", op)
        log.debug(
            "IMAP %s/%s: %d new message(s) after UID %d",
            self.host,
            self.folder,
            len(refs),
            after_uid,
        )
        return refs

    def fetch(self, refs: Sequence[MessageRef]) -> Iterator[tuple[MessageRef, bytes]]:
        """Yield ``(ref, raw bytes)`` for ``refs`` in batches, never setting ``\\Seen``.

        Messages gone from the folder are skipped, and so are refs read under an
        older UIDVALIDITY (their UIDs may now name other messages).
        """
        for batch in self._batches(refs):

            def op(
                c: IMAPClient, batch: list[MessageRef] = batch
            ) -> list[tuple[MessageRef, bytes]]:
                current = self._uidvalidity
                wanted = [r for r in batch if r.uidvalidity == current]
                if len(wanted) < len(batch):
                    log.warning(
                        "IMAP %s/%s: skipping %d message(s) read under UIDVALIDITY %s, now %s",
                        self.host,
                        self.folder,
                        len(batch) - len(wanted),
                        batch[0].uidvalidity,
                        current,
                    )
                if not wanted:
                    return []
                data = c.fetch([int(r.uid) for r in wanted], [b"BODY.PEEK[]"])
                out = []
                for r in wanted:
                    body = data.get(int(r.uid), {}).get(b"BODY[]")
                    if body is None:
                        log.info(
                            "IMAP %s/%s: UID %s is gone, not fetched", self.host, self.folder, r.uid
                        )
                        continue
                    out.append((r, bytes(body)))
                return out

            yield from self._call("fetch", op)

    def finish(self, ref: MessageRef, dest: Destination) -> None:
        """Move ``ref`` to the processed or quarantine folder.

        Does nothing when the message is already gone, or when the folder's
        UIDVALIDITY changed since ``ref`` was listed (the UID could now name
        another message).
        """
        if dest not in self.folders:
            raise ValueError(f"unknown destination {dest!r}")
        target = self.folders[dest]

        def op(c: IMAPClient) -> None:
            current = self._selected(c)
            if ref.uidvalidity != current:
                log.warning(
                    "IMAP %s/%s: not moving UID %s: UIDVALIDITY is %s, ref has %s",
                    self.host,
                    self.folder,
                    ref.uid,
                    current,
                    ref.uidvalidity,
                )
                return
            ensure_folder(c, target, self._ready_folders)
            uid = int(ref.uid)
            if not c.search(["UID", str(uid)]):
                log.info("IMAP %s/%s: UID %s already gone", self.host, self.folder, uid)
                return
            try:
                move_message(c, uid, target, self.folder)
            except IMAPClientError as e:
                if "TRYCREATE" not in error_text(e).upper():
                    raise
                # The folder vanished since we last looked (deleted by a person).
                self._ready_folders.discard(target)
                ensure_folder(c, target, self._ready_folders)
                move_message(c, uid, target, self.folder)
            log.debug("IMAP %s/%s: UID %s moved to %s", self.host, self.folder, uid, target)

        self._call("finish", op)

    def wait_for_mail(self, timeout: float) -> bool:
        """IDLE up to ``timeout`` seconds (at most 10 minutes); True when new mail arrived.

        Returns False at once when the server has no IDLE. Returns True after a
        reconnect, since an announcement may have been lost while disconnected.
        """
        deadline = time.monotonic() + max(0.0, min(timeout, IDLE_RENEW_SECONDS))
        reconnects_before = self.reconnects

        def op(c: IMAPClient) -> bool:
            if self.reconnects != reconnects_before:
                return True
            if not c.has_capability("IDLE"):
                return False
            return idle_until(c, deadline, on_error=self._drop)

        return self._call("wait_for_mail", op)

    # -- connection handling -----------------------------------------------------------------

    def _connect(self) -> IMAPClient:
        """A logged-in client with the folder selected; LoginError passes through."""
        client = open_client(
            self.host,
            self.port,
            security=self.security,
            verify_tls=self.verify_tls,
            ca_file=self.ca_file,
            timeout=self.timeout,
        )
        try:
            client.login(self.username, self._password)
            self._client = client
            self._ready_folders.clear()
            try:
                self._select(client)
            except IMAPClientAbortError:
                raise
            except IMAPClientError as e:  # the server answered NO: not a connection problem
                raise SourceError(
                    f"cannot open IMAP folder {self.folder!r} on {self.host}:{self.port} "
                    f"as {self.username!r}: {error_text(e)}; check the folder name in the config"
                ) from e
        except BaseException:
            self._client = None
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        log.info(
            "IMAP connected to %s:%s as %s, folder %s (UIDVALIDITY %s)",
            self.host,
            self.port,
            self.username,
            self.folder,
            self._uidvalidity,
        )
        return client

    def _selected(self, c: IMAPClient) -> int:
        """The UIDVALIDITY the folder was selected with on this connection (SELECT if not yet).

        Saves a SELECT round trip per moved message. Safe: a server that changes a
        selected folder's UIDVALIDITY must end the session (RFC 3501 2.3.1.1), and a
        new connection always selects afresh.
        """
        if self._selected_on is c and self._uidvalidity:
            return self._uidvalidity
        return self._select(c)

    def _refresh(self, c: IMAPClient) -> int:
        """Make new mail visible: NOOP on the connection that selected the folder, else SELECT.

        A re-SELECT closes and reopens the folder, which costs the server time in
        proportion to the messages in it (14 ms at 10,000, 40 ms at 50,000 here); NOOP asks it to
        sync and report new messages, at a cost that does not grow with the folder.
        """
        if self._selected_on is c and self._uidvalidity:
            c.noop()
            return self._uidvalidity
        return self._select(c)

    def _select(self, c: IMAPClient) -> int:
        self._selected_on = None
        info = c.select_folder(self.folder, readonly=False)
        validity = int(info.get(b"UIDVALIDITY", 0))
        if self._uidvalidity and validity != self._uidvalidity:
            log.warning(
                "IMAP %s/%s: UIDVALIDITY changed from %s to %s",
                self.host,
                self.folder,
                self._uidvalidity,
                validity,
            )
        self._uidvalidity = validity
        self._selected_on = c
        return validity

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.shutdown()

    def _connection_dead(self) -> bool:
        """After an IMAP error: is the connection still usable? (NOOP answers.)"""
        if self._client is None:
            return True
        try:
            self._client.noop()
            return False
        except (IMAPClientError, OSError):
            return True

    def _call(self, what: str, op: Callable[[IMAPClient], T]) -> T:
        """Run ``op`` on a live connection, reconnecting and retrying when it drops."""
        failures = 0
        while True:
            try:
                client = self._client or self._connect()
                return op(client)
            except LoginError as e:
                self._drop()
                raise SourceError(
                    f"IMAP login to {self.host}:{self.port} as user {self.username!r} was "
                    f"refused ({error_text(e)}); check the username and password in the config"
                ) from e
            except ssl.SSLCertVerificationError as e:
                self._drop()
                raise SourceError(
                    f"TLS certificate of {self.host}:{self.port} could not be verified "
                    f"({e.verify_message}); set ca_file to the server's CA certificate"
                ) from e
            except (IMAPClientAbortError, ConnectionDropped, OSError) as e:
                error: BaseException = e
            except IMAPClientError as e:
                if not self._connection_dead():
                    raise SourceError(
                        f"IMAP {what} on {self.host}:{self.port} folder {self.folder!r} "
                        f"failed: {error_text(e)}"
                    ) from e
                error = e
            self._drop()
            failures += 1
            if failures > self.max_reconnects:
                raise SourceError(
                    f"lost the IMAP connection to {self.host}:{self.port} (folder "
                    f"{self.folder!r}) during {what} and could not get it back after "
                    f"{self.max_reconnects} reconnect attempt(s); last error: "
                    f"{type(error).__name__}: {error_text(error)}. Check that the server is up "
                    f"and reachable, then run again"
                ) from error
            delay = min(MAX_BACKOFF_SECONDS, self.backoff_base * 2 ** (failures - 1))
            log.warning(
                "IMAP %s/%s: connection lost during %s (%s: %s); reconnect %d/%d in %.1f s",
                self.host,
                self.folder,
                what,
                type(error).__name__,
                error_text(error),
                failures,
                self.max_reconnects,
                delay,
            )
            self._sleep(delay)
            self.reconnects += 1

    def _batches(self, refs: Sequence[MessageRef]) -> Iterator[list[MessageRef]]:
        batch: list[MessageRef] = []
        size = 0
        for ref in refs:
            if batch and (len(batch) >= self.batch_size or size + ref.size > MAX_BATCH_BYTES):
                yield batch
                batch, size = [], 0
            batch.append(ref)
            size += ref.size
        if batch:
            yield batch


__all__ = ["IDLE_RENEW_SECONDS", "MOVING_FLAG", "ImapSource"]
