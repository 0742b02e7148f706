"""Network faults on loopback: a proxy that cuts at a chosen IMAP command, silent SMTP servers.

* :class:`CommandCutProxy` sits in front of Dovecot and, when the client sends a
  command matching a pattern, either cuts the connection before the server sees it
  (``before``) or lets the server run it and cuts before the answer reaches the
  client (``after``) — the two halves of "the connection died during MOVE".
* :class:`StallingSmtp` accepts TCP and then goes silent: at once (``silent``: no
  greeting ever) or after taking the whole message (``after_data``: no final reply).
"""

from __future__ import annotations

import contextlib
import re
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field


@dataclass
class _Rule:
    pattern: re.Pattern[bytes]
    when: str  # "before" | "after"
    times: int


@dataclass
class _Conn:
    client: socket.socket
    server: socket.socket
    mute_down: bool = False  # swallow server→client data (the answer is "lost")
    alive: bool = True


class CommandCutProxy:
    """A loopback TCP proxy that cuts a connection when the client sends a given command."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host = "127.0.0.1"
        self.port = self._listener.getsockname()[1]
        self.cuts: list[str] = []  # "before:UID MOVE", … in the order they happened
        self.upstream = bytearray()  # everything the client sent
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._conns: list[_Conn] = []
        self._closed = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def arm(self, pattern: str, when: str = "before", times: int = 1) -> None:
        """Cut the next ``times`` connections whose client sends ``pattern`` (a regex)."""
        assert when in ("before", "after")
        with self._lock:
            self._rules.append(_Rule(re.compile(pattern.encode(), re.IGNORECASE), when, times))

    def close(self) -> None:
        """Stop accepting and close every connection."""
        self._closed = True
        self._listener.close()
        for conn in list(self._conns):
            self._kill(conn)

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            conn = _Conn(client, server)
            with self._lock:
                self._conns.append(conn)
            threading.Thread(target=self._pump, args=(conn,), daemon=True).start()

    def _kill(self, conn: _Conn) -> None:
        conn.alive = False
        for s in (conn.client, conn.server):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()

    def _match(self, chunk: bytes) -> _Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.times > 0 and rule.pattern.search(chunk):
                    rule.times -= 1
                    self.cuts.append(f"{rule.when}:{rule.pattern.pattern.decode()}")
                    return rule
        return None

    def _pump(self, conn: _Conn) -> None:
        sel = selectors.DefaultSelector()
        sel.register(conn.client, selectors.EVENT_READ, "up")
        sel.register(conn.server, selectors.EVENT_READ, "down")
        try:
            while conn.alive:
                for key, _ in sel.select(timeout=0.5):
                    src: socket.socket = key.fileobj  # type: ignore[assignment]
                    try:
                        chunk = src.recv(65536)
                    except OSError:
                        chunk = b""
                    if not chunk:
                        self._kill(conn)
                        return
                    if key.data == "down":
                        if not conn.mute_down:
                            conn.client.sendall(chunk)
                        continue
                    self.upstream += chunk
                    rule = self._match(chunk)
                    if rule is not None and rule.when == "before":
                        self._kill(conn)
                        return
                    conn.server.sendall(chunk)
                    if rule is not None:  # "after": the server acts, the client never hears
                        conn.mute_down = True
                        threading.Timer(0.5, self._kill, args=(conn,)).start()
        except OSError:
            self._kill(conn)
        finally:
            sel.close()


@dataclass
class StallingSmtp:
    """An SMTP "server" that stops answering: ``silent`` (no greeting) or ``after_data``.

    ``after_data`` speaks just enough SMTP for smtplib, takes the whole message, keeps
    it in ``messages``, and never sends the final reply.
    """

    mode: str = "silent"
    messages: list[bytes] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host = "127.0.0.1"
        self.port = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def close(self) -> None:
        """Stop and drop every held connection."""
        self._closed = True
        self._listener.close()
        for s in self._held:
            with contextlib.suppress(OSError):
                s.close()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            self._held.append(sock)  # never closed by us until close(): the peer must time out
            if self.mode == "after_data":
                threading.Thread(target=self._converse, args=(sock,), daemon=True).start()

    def _converse(self, sock: socket.socket) -> None:
        f = sock.makefile("rb")

        def say(line: str) -> None:
            sock.sendall(line.encode() + b"\r\n")

        try:
            say("220 stall.example.net ESMTP")
            while True:
                line = f.readline()
                if not line:
                    return
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    say("250 stall.example.net")
                elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                    say("250 OK")
                elif verb == b"DATA":
                    say("354 go ahead")
                    body = bytearray()
                    for data_line in iter(f.readline, b""):
                        if data_line == b".\r\n":
                            break
                        body += data_line
                    self.messages.append(bytes(body))
                    time.sleep(3600)  # the final "250" never comes
                    return
                else:
                    say("221 bye")
                    return
        except OSError:
            return
