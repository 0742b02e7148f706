"""The one resource-limited child process that parses untrusted files.

Attachment reading (``mail/extract``) and permit verification (``permits/verify``)
hand untrusted bytes to a named job (``sandbox_child.JOBS``: "read_pdf",
"read_image", "verify_pdf", "verify_image") and get JSON back. The parent
(:class:`Sandbox`) runs ``python -m sikm_mailbot.sandbox_child MEMORY CPU`` and
talks to it over its stdin/stdout with length-prefixed frames: a JSON request
header, the file bytes, then a JSON reply. JSON, not pickle, so a subverted child
cannot run code in the parent.

Isolation: the child sets RLIMIT_AS once (memory) and, before each job, a
RLIMIT_CPU soft limit of "CPU used so far + the per-job budget" (SIGXCPU ends
the job); the parent enforces a wall-clock timeout and kills a child that
overruns. One worker is reused for many jobs (imports cost ~0.2 s, a job a few
ms); a worker that died, timed out or hit a limit is replaced on the next job.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

_LEN = struct.Struct(">I")
MAX_REPLY_BYTES = 16 * 1024 * 1024
RECYCLE_AFTER_JOBS = 200  # bound slow leaks in the long-lived worker


@dataclass(frozen=True)
class ChildLimits:
    """What one job in the child may use: memory, CPU time, and wall-clock time."""

    memory_bytes: int = 768 * 1024 * 1024  # RLIMIT_AS of the whole worker
    cpu_seconds: int = 15  # per job
    timeout: float = 20.0  # wall clock per job, enforced by the parent


class HasChildLimits(Protocol):
    """Anything that carries child limits (``mail.extract.Limits`` does)."""

    @property
    def child(self) -> ChildLimits: ...


def child_limits(limits: ChildLimits | HasChildLimits | None) -> ChildLimits:
    """The ChildLimits in ``limits`` (the defaults for None)."""
    if limits is None:
        return ChildLimits()
    return limits if isinstance(limits, ChildLimits) else limits.child


# ---------------------------------------------------------------- framing (both sides)
# The child reads and writes blocking descriptors (no deadline); the parent uses
# non-blocking ones with a deadline, so a stuck child cannot stall it.


class _Timeout(Exception):
    pass


class _ChildGone(Exception):
    pass


def _wait(fd: int, *, write: bool, deadline: float | None) -> None:
    """Block until ``fd`` is ready, or raise _Timeout at ``deadline`` (None: no wait)."""
    if deadline is None:
        return
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _Timeout
    if write:
        ready = select.select([], [fd], [], remaining)[1]
    else:
        ready = select.select([fd], [], [], remaining)[0]
    if not ready:
        raise _Timeout


def read_exact(fd: int, n: int, deadline: float | None = None) -> bytes | None:
    """``n`` bytes from ``fd``, or None at end of file. A deadline needs a non-blocking fd."""
    buf = bytearray()
    while len(buf) < n:
        _wait(fd, write=False, deadline=deadline)
        try:
            chunk = os.read(fd, min(n - len(buf), 1 << 20))
        except BlockingIOError:
            continue
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def read_frame(fd: int, limit: int | None = None, deadline: float | None = None) -> bytes | None:
    """One length-prefixed frame, or None at end of file or when over ``limit`` bytes."""
    head = read_exact(fd, _LEN.size, deadline)
    if head is None:
        return None
    (size,) = _LEN.unpack(head)
    if limit is not None and size > limit:
        return None
    return read_exact(fd, size, deadline)


def write_all(fd: int, payload: bytes, deadline: float | None = None) -> None:
    """Write all of ``payload``; a deadline needs a non-blocking fd."""
    view = memoryview(payload)
    while view:
        _wait(fd, write=True, deadline=deadline)
        try:
            view = view[os.write(fd, view[: 1 << 16]) :]
        except BlockingIOError:
            continue


def frame(payload: bytes) -> bytes:
    """``payload`` with its 4-byte big-endian length in front."""
    return _LEN.pack(len(payload)) + payload


# ---------------------------------------------------------------- the parent


class Sandbox:
    """A reusable, resource-limited worker process for untrusted parsing.

    `run()` never raises: it returns the child's JSON reply, or
    `{"ok": False, "error": reason}` when the child timed out, died or hit a
    limit. Thread-safe (jobs are serialised). Use as a context manager or call
    `close()`. ``limits`` is a ChildLimits, or anything with a ``child``
    attribute holding one (such as ``mail.extract.Limits``).
    """

    def __init__(self, limits: ChildLimits | HasChildLimits | None = None) -> None:
        self.limits = child_limits(limits)
        self._proc: subprocess.Popen[bytes] | None = None
        self._jobs = 0
        self._lock = threading.Lock()
        self.starts = 0  # how many workers were started (for tests and stats)

    # -- lifecycle

    def _start(self) -> subprocess.Popen[bytes]:
        # The checkout (or site-packages) first on the path, so the child finds this package.
        root = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        limits = self.limits
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sikm_mailbot.sandbox_child",
                str(limits.memory_bytes),
                str(limits.cpu_seconds),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
        assert proc.stdin is not None and proc.stdout is not None
        os.set_blocking(proc.stdin.fileno(), False)
        os.set_blocking(proc.stdout.fileno(), False)
        self._proc = proc
        self._jobs = 0
        self.starts += 1
        return proc

    def _stop(self, kill: bool) -> int | None:
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        try:
            if kill:
                proc.kill()
            else:
                assert proc.stdin is not None
                proc.stdin.close()
            return proc.wait(timeout=5)
        except Exception:  # noqa: BLE001 - best effort; never leave it running
            proc.kill()
            return proc.wait()
        finally:
            for stream in (proc.stdin, proc.stdout):
                try:
                    if stream is not None:
                        stream.close()
                except OSError:
                    pass

    def close(self) -> None:
        """Stop the worker (it is restarted by the next `run`)."""
        with self._lock:
            self._stop(kill=False)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        """The current worker's pid, if one is running."""
        return self._proc.pid if self._proc is not None else None

    # -- jobs

    def run(
        self, job: str, data: bytes, *, timeout: float | None = None, **options: Any
    ) -> dict[str, Any]:
        """Run ``job`` (a ``sandbox_child.JOBS`` name) on ``data`` in the worker.

        ``options`` (JSON-ready) are the job function's keyword arguments.
        ``timeout`` shortens the wall-clock limit for this job (never lengthens it).
        """
        with self._lock:
            proc = self._proc
            if proc is None or proc.poll() is not None or self._jobs >= RECYCLE_AFTER_JOBS:
                self._stop(kill=True)
                try:
                    proc = self._start()
                except OSError as exc:
                    return {"ok": False, "error": f"sandbox could not start ({exc.strerror})"}
            limit = self.limits.timeout
            timeout = limit if timeout is None else max(0.0, min(limit, timeout))
            deadline = time.monotonic() + timeout
            header = json.dumps({"job": job, "options": options}).encode()
            assert proc.stdin is not None and proc.stdout is not None
            try:
                write_all(proc.stdin.fileno(), frame(header) + _LEN.pack(len(data)), deadline)
                write_all(proc.stdin.fileno(), data, deadline)
                reply = read_frame(proc.stdout.fileno(), MAX_REPLY_BYTES, deadline)
                if reply is None:
                    raise _ChildGone
            except _Timeout:
                self._stop(kill=True)
                return {"ok": False, "error": f"timed out after {timeout:g} s"}
            except (_ChildGone, OSError):  # BrokenPipeError and friends: it died mid-job
                return {"ok": False, "error": _death_reason(self._stop(kill=True))}
            self._jobs += 1
            return self._reply(reply)

    def _reply(self, reply: bytes) -> dict[str, Any]:
        try:
            result = json.loads(reply)
        except ValueError:
            result = None
        if not isinstance(result, dict):
            self._stop(kill=True)
            return {"ok": False, "error": "sandbox sent a malformed reply"}
        if result.pop("exit", False):
            self._stop(kill=False)
        return result


def _death_reason(returncode: int | None) -> str:
    """A human reason for a worker that died mid-job."""
    if returncode is None:
        return "parser process failed"
    if returncode < 0:
        sig = -returncode
        if sig in (signal.SIGXCPU, signal.SIGKILL):
            return "CPU time limit exceeded"
        if sig in (signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS):
            return f"parser crashed ({signal.Signals(sig).name}), probably the memory limit"
        try:
            return f"parser killed by {signal.Signals(sig).name}"
        except ValueError:
            return f"parser killed by signal {sig}"
    return f"parser exited unexpectedly (status {returncode})"


# ---------------------------------------------------------------- shared workers

_shared: dict[ChildLimits, Sandbox] = {}
_shared_lock = threading.Lock()


def shared_sandbox(limits: ChildLimits | HasChildLimits | None = None) -> Sandbox:
    """The process-wide worker for these limits (started lazily, closed at exit)."""
    key = child_limits(limits)
    with _shared_lock:
        box = _shared.get(key)
        if box is None:
            box = _shared[key] = Sandbox(key)
        return box


@atexit.register
def close_shared_sandboxes() -> None:
    """Stop every shared worker (also runs at interpreter exit)."""
    with _shared_lock:
        boxes = list(_shared.values())
        _shared.clear()
    for box in boxes:
        box.close()
