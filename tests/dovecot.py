"""A real Dovecot IMAP server for tests, plus a TCP proxy that can cut connections.

Loaded as a pytest plugin (``pytest_plugins = ["tests.dovecot"]``). It provides:

* ``dovecot`` (session scope): one Dovecot process on a free loopback port, with
  its own configuration, sockets, logs and mail in a private temp directory.
* ``imap_inbox`` (function scope): a handle on the same server for a brand-new
  user, so each test starts with an empty INBOX and no other folders.

The static passdb accepts *any* user name with the one test password, and the
static userdb gives every user ``uid=nobody`` and a Maildir of its own under
the mail root, so a fresh user is just a fresh name.

Without Dovecot (or without root) the fixtures skip, except under ``CI=true``
where they fail: a CI run must never pass by skipping the IMAP tests.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import itertools
import os
import pwd
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.certs import write_self_signed

DOVECOT_BIN = "/usr/sbin/dovecot"
DOVEADM_BIN = "/usr/bin/doveadm"
PASSWORD = "test-secret-123"
START_TIMEOUT = 15.0

_CONFIG = """\
# Private Dovecot for the sikm-mailbot test-suite (generated; see tests/dovecot.py).
protocols = imap
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/state
instance_name = sikm-test-{port}
log_path = {base}/dovecot.log
info_log_path = {base}/dovecot.log
# TLS on the imaps port (and STARTTLS on imap) with a certificate made per run.
ssl = yes
ssl_cert = <{base}/cert.pem
ssl_key = <{base}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
# No 2 s delay after a refused login, no penalty for repeated failures.
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
mail_location = maildir:{mail}/%u
mail_fsync = never
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={mail}/%u
}}
# A second address offering no MOVE, for the COPY + EXPUNGE fallback.
local 127.0.0.2 {{
  protocol imap {{
    imap_capability = IMAP4rev1 LITERAL+ IDLE UIDPLUS NAMESPACE
  }}
}}
# A third: bare IMAP4rev1 (no MOVE, UIDPLUS or IDLE).
local 127.0.0.3 {{
  protocol imap {{
    imap_capability = IMAP4rev1 LITERAL+ NAMESPACE
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imap_nomove {{
    address = 127.0.0.2
    port = {port}
  }}
  inet_listener imap_bare {{
    address = 127.0.0.3
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
# No anvil penalty socket: no growing delays after the refused-login tests.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _unavailable(reason: str) -> None:
    """Skip locally, fail loudly in CI."""
    if _in_ci():
        pytest.fail(f"Dovecot test server unavailable in CI: {reason}", pytrace=False)
    pytest.skip(f"Dovecot test server unavailable: {reason}")


def _die_with_parent() -> None:
    """In the child before exec: ask Linux for SIGTERM when the test process dies.

    A killed pytest (timeout, Ctrl-C twice) runs no finalizer; without this the
    server would live on, orphaned.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class _PortTaken(RuntimeError):
    """Dovecot could not bind its port (taken between free_port() and start)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` different TCP ports on 127.0.0.1, free a moment ago.

    The sockets stay bound until all are chosen: two one-at-a-time calls can be
    handed the same port, and Dovecot refuses a config with a duplicate listener.
    """
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


class DovecotServer:
    """One Dovecot process with a private config in ``base`` (started by ``start``)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.host = "127.0.0.1"
        self.host_without_move = "127.0.0.2"  # IDLE and UIDPLUS, no MOVE
        self.host_bare = "127.0.0.3"  # plain IMAP4rev1: no MOVE, UIDPLUS or IDLE
        self.port, self.tls_port = free_ports(2)
        self.mail_root = base / "mail"
        self.config = base / "dovecot.conf"
        self.log = base / "dovecot.log"
        self.ca_file = base / "cert.pem"  # self-signed: it is its own CA
        self._proc: subprocess.Popen[bytes] | None = None
        nobody = pwd.getpwnam("nobody")
        self._uid, self._gid = nobody.pw_uid, nobody.pw_gid

    def start(self) -> None:
        """Start Dovecot; retry with fresh ports if another process took ours meanwhile."""
        for attempt in range(3):
            try:
                self._start_once()
                return
            except _PortTaken:
                if attempt == 2:
                    raise RuntimeError(f"no free port for dovecot:\n{self.log_text()}") from None
                self.port, self.tls_port = free_ports(2)

    def _start_once(self) -> None:
        """Write the config, start Dovecot in the foreground, wait for its greeting."""
        for sub in ("run", "state", "mail"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o755)
        os.chmod(self.base / "run", 0o755)
        os.chown(self.mail_root, self._uid, self._gid)
        write_self_signed(self.ca_file, self.base / "key.pem", "sikm-test-imap.example.net")
        self.config.write_text(
            _CONFIG.format(
                base=self.base,
                mail=self.mail_root,
                port=self.port,
                tls_port=self.tls_port,
                password=PASSWORD,
            )
        )
        self._proc = subprocess.Popen(
            [DOVECOT_BIN, "-F", "-c", str(self.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + START_TIMEOUT
        last_error = "no attempt"
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                out = self._proc.stdout.read().decode(errors="replace") if self._proc.stdout else ""
                if "Address already in use" in out:
                    raise _PortTaken(out)
                raise RuntimeError(
                    f"dovecot exited with {self._proc.returncode} during start.\n"
                    f"output:\n{out}\nlog:\n{self.log_text()}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=1.0) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return
                    last_error = "no IMAP greeting"
            except OSError as e:
                last_error = str(e)
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"dovecot did not accept IMAP connections on {self.host}:{self.port} within "
            f"{START_TIMEOUT:.0f} s ({last_error}).\nlog:\n{self.log_text()}"
        )

    def log_text(self) -> str:
        """Dovecot's log so far (for error messages)."""
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return "(no log file)"

    def doveadm(self, *args: str) -> str:
        """Run ``doveadm -c CONFIG args…`` and return its stdout; raise with stderr on failure."""
        res = subprocess.run(
            [DOVEADM_BIN, "-c", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if res.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)} failed: {res.stderr.strip()}")
        return res.stdout

    def stop(self) -> None:
        """Stop Dovecot (SIGTERM, then SIGKILL if it lingers). Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        # SIGTERM to the master is what `doveadm stop` sends, without its wait.
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()

    @property
    def running(self) -> bool:
        """True while the Dovecot master process is alive."""
        return self._proc is not None and self._proc.poll() is None


@dataclasses.dataclass
class Dovecot:
    """A handle on the test server for one user: connection details and mailbox helpers."""

    server: DovecotServer
    user: str
    password: str = PASSWORD

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def tls_port(self) -> int:
        """The imaps (implicit TLS) port; STARTTLS works on ``port``."""
        return self.server.tls_port

    @property
    def ca_file(self) -> str:
        """PEM of the server's self-signed certificate, to trust it."""
        return str(self.server.ca_file)

    @property
    def host_without_move(self) -> str:
        """Same server and mail, but the capability list lacks MOVE."""
        return self.server.host_without_move

    @property
    def host_bare(self) -> str:
        """Same server and mail, capabilities cut to plain IMAP4rev1 (no IDLE/UIDPLUS)."""
        return self.server.host_bare

    @property
    def mail_root(self) -> Path:
        """The directory holding every user's Maildir."""
        return self.server.mail_root

    @property
    def maildir(self) -> Path:
        """This user's Maildir (INBOX is its cur/new/tmp; folder X is ``.X``)."""
        return self.server.mail_root / self.user

    def with_user(self, user: str) -> Dovecot:
        """The same server, another user (created on first login)."""
        return dataclasses.replace(self, user=user)

    def client(self) -> IMAPClient:
        """A fresh logged-in IMAPClient (plain text, loopback); caller logs out."""
        c = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        c.login(self.user, self.password)
        return c

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        """APPEND one message over a separate connection (creating the folder if needed)."""
        with self.client() as c:
            if not c.folder_exists(folder):
                c.create_folder(folder)
            c.append(folder, raw)

    def uids(self, folder: str = "INBOX") -> list[int]:
        """The UIDs in ``folder``, ascending ([] if the folder does not exist)."""
        with self.client() as c:
            if not c.folder_exists(folder):
                return []
            c.select_folder(folder, readonly=True)
            return sorted(c.search("ALL"))

    def folder_messages(self, folder: str = "INBOX") -> list[bytes]:
        """Raw bytes of every message in ``folder``, by UID (read-only, not marked seen)."""
        with self.client() as c:
            if not c.folder_exists(folder):
                return []
            c.select_folder(folder, readonly=True)
            uids = sorted(c.search("ALL"))
            data = c.fetch(uids, [b"BODY.PEEK[]"]) if uids else {}
            return [data[u][b"BODY[]"] for u in uids]

    def flags(self, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        """UID → flags for every message in ``folder`` (read-only)."""
        with self.client() as c:
            c.select_folder(folder, readonly=True)
            uids = c.search("ALL")
            if not uids:
                return {}
            return {u: d[b"FLAGS"] for u, d in c.fetch(uids, [b"FLAGS"]).items()}

    def uidvalidity(self, folder: str = "INBOX") -> int:
        """The folder's UIDVALIDITY, read with STATUS."""
        with self.client() as c:
            return int(c.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])

    def create_folder(self, folder: str) -> None:
        """Create ``folder`` if it does not exist."""
        with self.client() as c:
            if not c.folder_exists(folder):
                c.create_folder(folder)

    def delete_folder(self, folder: str) -> None:
        """Delete ``folder`` with its messages; absent is fine."""
        with self.client() as c:
            if c.folder_exists(folder):
                c.delete_folder(folder)

    def reset_inbox(self) -> int:
        """Recreate INBOX empty, with a new UIDVALIDITY and UIDs starting again at 1.

        Like a mailbox rebuilt by an administrator: old UIDs now name other
        messages. Open sessions of the user are kicked first. Returns the new
        UIDVALIDITY.
        """
        old = self.uidvalidity()
        self.kick()
        root = self.maildir
        for sub in ("cur", "new", "tmp"):
            for f in (root / sub).iterdir():
                f.unlink()
        for f in root.iterdir():
            if f.is_file() and f.name.startswith("dovecot"):
                f.unlink()  # uidlist + indexes: Dovecot restarts numbering
        new = old + 1
        self.server.doveadm(
            "mailbox", "update", "-u", self.user, "--uid-validity", str(new), "INBOX"
        )
        return new

    def kick(self) -> None:
        """Disconnect every IMAP session of this user (server side); none open is fine."""
        res = subprocess.run(
            [DOVEADM_BIN, "-c", str(self.server.config), "kick", self.user],
            capture_output=True,
            text=True,
            timeout=30,
        )
        # Exit code 68 (EX_NOUSER) just means "no users kicked".
        if res.returncode not in (0, 68):
            raise RuntimeError(f"doveadm kick {self.user} failed: {res.stderr.strip()}")

    def write_maildir(self, messages: list[bytes]) -> None:
        """Drop messages straight into the INBOX Maildir's ``cur/`` as uid nobody.

        Much faster than APPEND for thousands of messages; Dovecot indexes them
        (assigning UIDs) at the next SELECT. Creates the Maildir if needed.
        """
        uid, gid = self.server._uid, self.server._gid
        root = self.maildir
        for sub in ("", "cur", "new", "tmp"):
            d = root / sub
            d.mkdir(exist_ok=True)
            os.chown(d, uid, gid)
        stamp = int(time.time())
        cur = root / "cur"
        paths = []
        for i, raw in enumerate(messages):
            path = cur / f"{stamp}.M{i}P{os.getpid()}.sikmtest,S={len(raw)}:2,"
            path.write_bytes(raw)
            paths.append(path)
        for path in paths:  # chown in a second pass: measured ~10x faster here than interleaved
            os.chown(path, uid, gid)

    def stop(self) -> None:
        """Stop the whole server (every user)."""
        self.server.stop()


class FlakyProxy:
    """A loopback TCP proxy in front of a server that can cut connections on demand.

    Counts bytes each way and keeps the client→server transcript, so a test can
    check which IMAP commands were sent and how much data came back.
    ``cut()`` closes every live connection now; ``cut_after(n)`` closes the next
    connection that carries ``n`` more server→client bytes (one shot).
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host = "127.0.0.1"
        self.port = self._listener.getsockname()[1]
        self.bytes_down = 0
        self.bytes_up = 0
        self.upstream = bytearray()
        self.accepted = 0
        self.cuts = 0
        self._budget: int | None = None
        self._lock = threading.Lock()
        self._live: set[tuple[socket.socket, socket.socket]] = set()
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def reset_counters(self) -> None:
        """Zero the byte counters and the transcript."""
        with self._lock:
            self.bytes_down = self.bytes_up = 0
            self.upstream.clear()

    def cut(self) -> None:
        """Close every live connection at once (both sides see EOF)."""
        with self._lock:
            pairs = list(self._live)
        for pair in pairs:
            self._kill(pair)

    def cut_after(self, nbytes: int) -> None:
        """Cut the connection that next passes ``nbytes`` server→client bytes (one shot)."""
        with self._lock:
            self._budget = nbytes

    def close(self) -> None:
        """Stop accepting and cut everything."""
        self._closed = True
        self._listener.close()
        self.cut()

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
            pair = (client, server)
            with self._lock:
                self._live.add(pair)
                self.accepted += 1
            threading.Thread(target=self._pump, args=(pair,), daemon=True).start()

    def _kill(self, pair: tuple[socket.socket, socket.socket]) -> None:
        with self._lock:
            if pair not in self._live:
                return
            self._live.discard(pair)
            self.cuts += 1
        for s in pair:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def _pump(self, pair: tuple[socket.socket, socket.socket]) -> None:
        client, server = pair
        sel = selectors.DefaultSelector()
        try:
            sel.register(client, selectors.EVENT_READ, server)
            sel.register(server, selectors.EVENT_READ, client)
            while pair in self._live:
                for key, _ in sel.select(timeout=0.5):
                    src: socket.socket = key.fileobj  # type: ignore[assignment]
                    dst: socket.socket = key.data
                    try:
                        chunk = src.recv(65536)
                    except OSError:
                        chunk = b""
                    if not chunk:
                        self._kill(pair)
                        return
                    cut_now = False
                    with self._lock:
                        if src is server:
                            if self._budget is not None:
                                if len(chunk) >= self._budget:
                                    chunk, cut_now = chunk[: self._budget], True
                                    self._budget = None
                                else:
                                    self._budget -= len(chunk)
                            self.bytes_down += len(chunk)
                        else:
                            self.bytes_up += len(chunk)
                            self.upstream += chunk
                    try:
                        dst.sendall(chunk)
                    except OSError:
                        self._kill(pair)
                        return
                    if cut_now:
                        self._kill(pair)
                        return
        except (OSError, ValueError):
            self._kill(pair)
        finally:
            sel.close()


_user_counter = itertools.count(1)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """A Dovecot server for the whole session, as a handle for user ``bot``."""
    if not (Path(DOVECOT_BIN).exists() and Path(DOVEADM_BIN).exists()):
        _unavailable(f"{DOVECOT_BIN} not found (apt-get install dovecot-imapd)")
    if os.geteuid() != 0:
        _unavailable("the test server runs as root (static userdb uid=nobody)")
    # Not under pytest's tmp dir: its 0700 parents would keep uid nobody out.
    base = Path(tempfile.mkdtemp(prefix="sikm-dovecot-"))
    server = DovecotServer(base)
    try:
        server.start()
    except RuntimeError as e:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(str(e), pytrace=False)
    try:
        yield Dovecot(server, user="bot")
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def imap_inbox(dovecot: Dovecot) -> Dovecot:
    """A never-used user on the session server: empty INBOX, no other folders."""
    return dovecot.with_user(f"user{os.getpid()}x{next(_user_counter)}")


@pytest.fixture
def flaky_proxy(dovecot: Dovecot) -> Iterator[FlakyProxy]:
    """A FlakyProxy in front of the session Dovecot."""
    proxy = FlakyProxy(dovecot.host, dovecot.port)
    try:
        yield proxy
    finally:
        proxy.close()
