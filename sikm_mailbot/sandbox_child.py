"""The sandbox's child side: the named jobs it may run, and its request loop.

Started by :class:`sikm_mailbot.sandbox.Sandbox` as ``python -m
sikm_mailbot.sandbox_child MEMORY CPU``. It sets RLIMIT_AS once, then for each
request (a frame with the JSON header ``{"job", "options"}`` and a frame with
the file bytes) sets a fresh RLIMIT_CPU budget, runs the job and writes one JSON
reply frame. A reply with ``"exit": true`` (a limit was hit) is its last.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
from collections.abc import Mapping
from typing import Any

from sikm_mailbot.sandbox import frame, read_frame, write_all

#: The jobs the child may run: name → "module:function". The function takes the
#: file bytes and the job's options as keyword arguments and returns a JSON-ready
#: dict with "ok". A job's module is imported when the job first runs, so neither
#: side of the sandbox imports mail/extract or permits up front (no import cycles).
JOBS: dict[str, str] = {
    "read_pdf": "sikm_mailbot.mail.extract.form_pdf:read_pdf",
    "read_image": "sikm_mailbot.mail.extract.images:read_image",
    "read_office": "sikm_mailbot.mail.extract.office:read_office",
    "verify_pdf": "sikm_mailbot.permits.inspect:inspect_pdf",
    "verify_image": "sikm_mailbot.permits.inspect:inspect_image",
    "ping": "sikm_mailbot.sandbox_child:ping",
    "test_burn_cpu": "sikm_mailbot.sandbox_child:burn_cpu",  # for the limit tests
    "test_alloc": "sikm_mailbot.sandbox_child:allocate",  # for the limit tests
}


def run_job(job: str, data: bytes, options: Mapping[str, Any]) -> dict[str, Any]:
    """Run ``job`` in this process: what the child does for each request.

    Call it directly only for input you trust (benchmarks): it runs without
    limits and raises whatever the job raises.
    """
    target = JOBS.get(job)
    if target is None:
        return {"ok": False, "error": f"unknown job {job!r}"}
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)(data, **options)


def ping(data: bytes) -> dict[str, Any]:
    """Job: the worker's pid (is it alive, is it the same one)."""
    return {"ok": True, "pid": os.getpid()}


def burn_cpu(data: bytes) -> dict[str, Any]:
    """Job for the limit tests: loop until a limit ends it."""
    while True:
        pass


def allocate(data: bytes, size: int = 0) -> dict[str, Any]:
    """Job for the limit tests: hold ``size`` bytes."""
    hog = bytearray(int(size))
    return {"ok": True, "size": len(hog)}


class _CpuLimit(BaseException):
    """Raised by SIGXCPU (BaseException: parsers' `except Exception` miss it)."""


def _clean(obj: Any) -> Any:
    """Strings safe for JSON/UTF-8/databases: no NULs, no lone surrogates."""
    if isinstance(obj, str):
        return obj.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    if isinstance(obj, dict):
        return {_clean(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def _run_limited(header: bytes, data: bytes, cpu: int) -> dict[str, Any]:
    """One request under a fresh CPU budget; limits and failures become error replies."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(usage.ru_utime + usage.ru_stime) + cpu + 1
    resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.RLIM_INFINITY))
    try:
        request = json.loads(header)
        return run_job(str(request["job"]), data, request.get("options") or {})
    except MemoryError:
        return {"ok": False, "error": "memory limit exceeded", "exit": True}
    except _CpuLimit:
        return {"ok": False, "error": "CPU time limit exceeded", "exit": True}
    except RecursionError:
        return {"ok": False, "error": "structure nested too deeply", "exit": True}
    except Exception as exc:  # noqa: BLE001 - untrusted input: any failure is a reply
        return {"ok": False, "error": f"parser failed ({type(exc).__name__})"}
    finally:
        resource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY,) * 2)


def main(argv: list[str]) -> None:
    """The child: ``argv`` is ``[MEMORY_BYTES, CPU_SECONDS_PER_JOB]``."""
    import logging
    import resource

    memory, cpu = int(argv[0]), int(argv[1])
    # One thread per numeric library (numpy's OpenBLAS, OpenCV, OpenMP): each extra
    # thread reserves stacks and malloc arenas against RLIMIT_AS, and one parse should
    # not take every core from the daemon. Set before any job imports them.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "OMP_THREAD_LIMIT"):
        os.environ[name] = "1"
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
    while True:
        header = read_frame(proto_in)
        data = read_frame(proto_in) if header is not None else None
        if header is None or data is None:
            return
        result = _run_limited(header, data, cpu)
        del data
        reply = json.dumps(_clean(result), ensure_ascii=False).encode("utf-8", "replace")
        write_all(proto_out, frame(reply))
        if result.get("exit"):
            os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
