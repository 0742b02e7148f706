"""A child process that parses untrusted PDFs and images under resource limits.

The parent (`Sandbox`) runs `python -m sikm_mailbot.sandbox MEMORY CPU`
and talks to it over its stdin/stdout with length-prefixed frames: a JSON
request header, the file bytes, then a JSON reply. JSON, not pickle, so a
subverted child cannot run code in the parent.

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
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sikm_mailbot.mail.extract.model import Limits


_LEN = struct.Struct(">I")
MAX_REPLY_BYTES = 16 * 1024 * 1024
RECYCLE_AFTER_JOBS = 200  # bound slow leaks in the long-lived worker


class _Timeout(Exception):
    pass


class _ChildGone(Exception):
    pass


class Sandbox:
    """A reusable, resource-limited worker process for untrusted parsing.

    `run()` never raises: it returns the child's JSON reply, or
    `{"ok": False, "error": reason}` when the child timed out, died or hit a
    limit. Thread-safe (jobs are serialised). Use as a context manager or call
    `close()`.
    """

    def __init__(self, limits: Limits | None = None) -> None:
        if limits is None:
            from sikm_mailbot.mail.extract.model import Limits

            limits = Limits()
        self.limits = limits
        self._proc: subprocess.Popen[bytes] | None = None
        self._jobs = 0
        self._lock = threading.Lock()
        self.starts = 0  # how many workers were started (for tests and stats)

    # -- lifecycle

    def _start(self) -> subprocess.Popen[bytes]:
        root = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if "PYTHONPATH" in env else "")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sikm_mailbot.sandbox",
                str(self.limits.child_memory_bytes),
                str(self.limits.child_cpu_seconds),
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
        self, op: str, data: bytes, *, timeout: float | None = None, **options: Any
    ) -> dict[str, Any]:
        """Run job `op` ("pdf", "image", "ping", …) on `data` in the worker.

        `timeout` shortens the wall-clock limit for this job (never lengthens it).
        """
        with self._lock:
            proc = self._proc
            if proc is None or proc.poll() is not None or self._jobs >= RECYCLE_AFTER_JOBS:
                self._stop(kill=True)
                try:
                    proc = self._start()
                except OSError as exc:
                    return {"ok": False, "error": f"sandbox could not start ({exc.strerror})"}
            limit = self.limits.child_timeout
            timeout = limit if timeout is None else max(0.0, min(limit, timeout))
            deadline = time.monotonic() + timeout
            header = json.dumps({"op": op, **options}).encode()
            try:
                self._send(proc, _LEN.pack(len(header)) + header + _LEN.pack(len(data)), deadline)
                self._send(proc, data, deadline)
                reply = self._recv(proc, deadline)
            except _Timeout:
                self._stop(kill=True)
                return {"ok": False, "error": f"timed out after {timeout:g} s"}
            except (_ChildGone, OSError):
                return {"ok": False, "error": _death_reason(self._stop(kill=True))}
            self._jobs += 1
            try:
                result = json.loads(reply)
            except ValueError:
                self._stop(kill=True)
                return {"ok": False, "error": "sandbox sent a malformed reply"}
            if not isinstance(result, dict):
                self._stop(kill=True)
                return {"ok": False, "error": "sandbox sent a malformed reply"}
            if result.pop("exit", False):
                self._stop(kill=False)
            return result

    @staticmethod
    def _send(proc: subprocess.Popen[bytes], payload: bytes, deadline: float) -> None:
        assert proc.stdin is not None
        fd = proc.stdin.fileno()
        view = memoryview(payload)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Timeout
            _, writable, _ = select.select([], [fd], [], remaining)
            if not writable:
                raise _Timeout
            try:
                sent = os.write(fd, view[: 1 << 16])
            except BlockingIOError:
                continue
            except (BrokenPipeError, ConnectionResetError) as exc:
                raise _ChildGone from exc
            view = view[sent:]

    @staticmethod
    def _recv(proc: subprocess.Popen[bytes], deadline: float) -> bytes:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()

        def exact(n: int) -> bytes:
            buf = bytearray()
            while len(buf) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _Timeout
                readable, _, _ = select.select([fd], [], [], remaining)
                if not readable:
                    raise _Timeout
                try:
                    chunk = os.read(fd, min(n - len(buf), 1 << 20))
                except BlockingIOError:
                    continue
                if not chunk:
                    raise _ChildGone
                buf += chunk
            return bytes(buf)

        (size,) = _LEN.unpack(exact(_LEN.size))
        if size > MAX_REPLY_BYTES:
            raise _ChildGone
        return exact(size)


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

_shared: dict[Limits, Sandbox] = {}
_shared_lock = threading.Lock()


def shared_sandbox(limits: Limits) -> Sandbox:
    """The process-wide worker for these limits (started lazily, closed at exit)."""
    with _shared_lock:
        box = _shared.get(limits)
        if box is None:
            box = _shared[limits] = Sandbox(limits)
        return box


@atexit.register
def close_shared_sandboxes() -> None:
    """Stop every shared worker (also runs at interpreter exit)."""
    with _shared_lock:
        boxes = list(_shared.values())
        _shared.clear()
    for box in boxes:
        box.close()


# ---------------------------------------------------------------- the child


class _CpuLimit(BaseException):
    """Raised in the child by SIGXCPU (BaseException: parsers' `except Exception` miss it)."""


def _read_frame(fd: int) -> bytes | None:
    def exact(n: int) -> bytes | None:
        buf = bytearray()
        while len(buf) < n:
            chunk = os.read(fd, min(n - len(buf), 1 << 20))
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    head = exact(_LEN.size)
    if head is None:
        return None
    return exact(_LEN.unpack(head)[0])


def _clean(obj: Any) -> Any:
    """Strings safe for JSON/UTF-8/databases: no NULs, no lone surrogates."""
    if isinstance(obj, str):
        return obj.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    if isinstance(obj, dict):
        return {_clean(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def _dispatch(header: dict[str, Any], data: bytes) -> dict[str, Any]:
    op = header.get("op")
    if op == "pdf":
        from sikm_mailbot.mail.extract.form_pdf import read_pdf

        return read_pdf(data, int(header.get("max_pages", 20)))
    if op == "image":
        from sikm_mailbot.mail.extract.images import read_image

        return read_image(data, int(header.get("max_pixels", 40_000_000)))
    if op == "ping":
        return {"ok": True, "pid": os.getpid()}
    if op == "test_burn_cpu":  # for the limit tests
        while True:
            pass
    if op == "test_alloc":  # for the limit tests
        hog = bytearray(int(header.get("bytes", 0)))
        return {"ok": True, "size": len(hog)}
    return {"ok": False, "error": f"unknown job {op!r}"}


def _child_main(argv: list[str]) -> None:
    import logging
    import resource

    memory, cpu = int(argv[0]), int(argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    # Keep the protocol on private descriptors; a library printing to stdout must
    # not corrupt a frame.
    proto_in, proto_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    sys.stdout = sys.stderr
    logging.disable(logging.CRITICAL)

    def on_xcpu(signum: int, frame: object) -> None:
        raise _CpuLimit

    signal.signal(signal.SIGXCPU, on_xcpu)
    # Import the parsers once, before the first job, so jobs are fast.
    import pdfminer.pdfdocument  # noqa: F401
    import PIL.Image
    import pypdfium2  # noqa: F401
    from PIL import JpegImagePlugin, PngImagePlugin, WebPImagePlugin  # noqa: F401

    PIL.Image.init()

    from sikm_mailbot.mail.extract import form_pdf, images  # noqa: F401

    while True:
        frame = _read_frame(proto_in)
        data = _read_frame(proto_in) if frame is not None else None
        if frame is None or data is None:
            return
        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = int(usage.ru_utime + usage.ru_stime) + cpu + 1
        resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.RLIM_INFINITY))
        try:
            result = _dispatch(json.loads(frame), data)
        except MemoryError:
            result = {"ok": False, "error": "memory limit exceeded", "exit": True}
        except _CpuLimit:
            result = {"ok": False, "error": "CPU time limit exceeded", "exit": True}
        except RecursionError:
            result = {"ok": False, "error": "structure nested too deeply", "exit": True}
        except Exception as exc:  # noqa: BLE001
            result = {"ok": False, "error": f"parser failed ({type(exc).__name__})"}
        finally:
            resource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY,) * 2)
        del data
        reply = json.dumps(_clean(result), ensure_ascii=False).encode("utf-8", "replace")
        os.write(proto_out, _LEN.pack(len(reply)))
        view = memoryview(reply)
        while view:
            view = view[os.write(proto_out, view) :]
        if result.get("exit"):
            os._exit(0)


if __name__ == "__main__":
    _child_main(sys.argv[1:])
