"""Real SMTP servers on loopback for tests (a pytest plugin; fixtures below).

* ``smtp_server`` — aiosmtpd, accepts everything and records it.
* ``flaky_smtp_server`` — answers ``421`` at DATA for the first 2 messages, then accepts.
* ``greylisting_smtp_server`` — answers ``451`` at RCPT for the first 2 tries, then accepts.
* ``rejecting_smtp_server`` — answers ``550 5.1.1`` at RCPT (unknown user).
* ``dropping_smtp_server`` — a raw socket server: takes the whole DATA, records it,
  then closes the connection without the final reply (first time only).
* ``tls_smtp_server`` — STARTTLS required, AUTH LOGIN/PLAIN required, with a
  self-signed certificate made here (``tls_smtp_server.ca_file`` trusts it).

Each server has ``host``, ``port`` and ``messages`` (a list of :class:`Received`).
Use from a test module with ``from tests.smtp_server import smtp_server  # noqa: F401``
until the root conftest lists this plugin.
"""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.certs import write_self_signed

HOST = "127.0.0.1"
USERNAME = "sikm-bot"
PASSWORD = "correct horse battery staple"


def free_port() -> int:
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Received:
    """One message as the server took it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message_id(self) -> str:
        """The Message-ID header of the received bytes."""
        return str(message_from_bytes(self.data, policy=policy.default)["Message-ID"])


class RecordingHandler:
    """aiosmtpd handler: optionally refuses the first ``fail_times`` tries, then records."""

    def __init__(self, fail_times: int = 0, reply: str = "", stage: str = "data") -> None:
        self.fail_times = fail_times
        self.reply = reply
        self.stage = stage
        self.tries = 0
        self.messages: list[Received] = []

    def _maybe_fail(self, stage: str) -> str | None:
        if stage != self.stage or not self.reply:
            return None
        self.tries += 1
        if self.fail_times < 0 or self.tries <= self.fail_times:
            return self.reply
        return None

    async def handle_RCPT(  # noqa: N802 - aiosmtpd hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list
    ) -> str:
        failure = self._maybe_fail("rcpt")
        if failure:
            return failure
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        failure = self._maybe_fail("data")
        if failure:
            return failure
        data = envelope.original_content or envelope.content
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(data)))
        return "250 2.0.0 Message accepted"


@dataclass
class Server:
    """A running test server."""

    host: str
    port: int
    handler: Any
    ca_file: Path | None = None
    username: str = ""
    password: str = ""
    stop: Any = field(default=None, repr=False)

    @property
    def messages(self) -> list[Received]:
        """Everything the server accepted (or, for the dropping server, took in full)."""
        return self.handler.messages


def _start_aiosmtpd(handler: RecordingHandler, **smtp_kwargs: Any) -> Server:
    port = free_port()
    controller = Controller(
        handler, hostname=HOST, port=port, server_hostname="mx.example.net", **smtp_kwargs
    )
    controller.start()
    return Server(HOST, port, handler, stop=controller.stop)


@pytest.fixture
def smtp_server() -> Iterator[Server]:
    """Accepts and records every message."""
    server = _start_aiosmtpd(RecordingHandler())
    yield server
    server.stop()


@pytest.fixture
def flaky_smtp_server() -> Iterator[Server]:
    """421 (closing the channel) at DATA for the first 2 messages, then accepts."""
    handler = RecordingHandler(2, "421 4.3.2 Service shutting down, try later", "data")
    server = _start_aiosmtpd(handler)
    yield server
    server.stop()


@pytest.fixture
def greylisting_smtp_server() -> Iterator[Server]:
    """451 at RCPT for the first 2 tries (greylisting), then accepts."""
    handler = RecordingHandler(2, "451 4.7.1 Greylisted, please try again later", "rcpt")
    server = _start_aiosmtpd(handler)
    yield server
    server.stop()


@pytest.fixture
def rejecting_smtp_server() -> Iterator[Server]:
    """550 at RCPT for every recipient."""
    handler = RecordingHandler(-1, "550 5.1.1 Recipient address rejected: User unknown", "rcpt")
    server = _start_aiosmtpd(handler)
    yield server
    server.stop()


# ------------------------------------------------------------------ dropping server


class _DroppingTCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, drops: int) -> None:
        super().__init__((HOST, 0), _DropHandler)
        self.drops_left = drops
        self.messages: list[Received] = []
        self.lock = threading.Lock()


class _DropHandler(socketserver.StreamRequestHandler):
    """Minimal SMTP: enough for smtplib; drops after DATA while drops remain."""

    server: _DroppingTCPServer

    def _say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        self._say("220 drop.example.net ESMTP")
        mail_from, rcpts = "", []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self._say("250 drop.example.net")
            elif verb == b"MAIL":
                mail_from, rcpts = line.decode().split(":", 1)[1].strip().strip("<>"), []
                self._say("250 OK")
            elif verb == b"RCPT":
                rcpts.append(line.decode().split(":", 1)[1].strip().strip("<>"))
                self._say("250 OK")
            elif verb == b"DATA":
                self._say("354 End data with <CR><LF>.<CR><LF>")
                chunks = []
                while True:
                    data_line = self.rfile.readline()
                    if not data_line or data_line == b".\r\n":
                        break
                    chunks.append(data_line[1:] if data_line.startswith(b"..") else data_line)
                with self.server.lock:
                    self.server.messages.append(Received(mail_from, rcpts, b"".join(chunks)))
                    drop = self.server.drops_left > 0
                    if drop:
                        self.server.drops_left -= 1
                if drop:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self._say("250 OK queued")
            elif verb == b"QUIT":
                self._say("221 Bye")
                return
            elif verb in (b"RSET", b"NOOP"):
                self._say("250 OK")
            else:
                self._say("502 Command not implemented")


@pytest.fixture
def dropping_smtp_server() -> Iterator[Server]:
    """Takes the first message's DATA in full, then hangs up without the final reply."""
    srv = _DroppingTCPServer(drops=1)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        srv.shutdown()
        srv.server_close()

    server = Server(HOST, srv.server_address[1], srv, stop=stop)
    yield server
    server.stop()


# ------------------------------------------------------------------ STARTTLS + AUTH


def make_self_signed(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1/localhost: (cert.pem, key.pem)."""
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    write_self_signed(cert_path, key_path)
    return cert_path, key_path


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USERNAME.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def tls_smtp_server(tmp_path: Path) -> Iterator[Server]:
    """STARTTLS required before anything, then AUTH (LOGIN/PLAIN) required to send."""
    cert, key = make_self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    handler = RecordingHandler()
    server = _start_aiosmtpd(
        handler,
        tls_context=ctx,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=_authenticator,
    )
    server.ca_file, server.username, server.password = cert, USERNAME, PASSWORD
    yield server
    server.stop()
