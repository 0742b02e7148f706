"""The sandbox child: limits hold, the parent survives, workers are reused and replaced."""

from __future__ import annotations

import resource
import time

from sikm_mailbot.mail.extract import Limits, Sandbox
from sikm_mailbot.mail.extract.attachments import read_attachment
from tests.test_extract_samples import bomb_pdf, text_pdf


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_worker_is_reused_across_jobs() -> None:
    with Sandbox(Limits()) as box:
        first = box.run("ping", b"")
        for _ in range(5):
            assert box.run("read_pdf", text_pdf(["SURAT TUGAS"]), max_pages=5)["ok"]
        assert box.run("ping", b"")["pid"] == first["pid"]
        assert box.starts == 1


def test_pdf_bomb_is_unreadable_within_limits_and_parent_unaffected() -> None:
    limits = Limits(child_memory_bytes=512 * 1024 * 1024, child_timeout=20)
    data = bomb_pdf(1100)
    rss_before = _rss_mib()
    with Sandbox(limits) as box:
        start = time.monotonic()
        att = read_attachment(data, "formulir.pdf", "application/pdf", "", limits, box)
        elapsed = time.monotonic() - start
        assert att.problem == "attachment_unreadable"
        assert "memory" in att.reason or "timed out" in att.reason
        assert elapsed < limits.child_timeout + 2
        # the crashed worker is replaced and the next file reads normally
        ok = read_attachment(text_pdf(["SURAT TUGAS"]), "t.pdf", "", "", limits, box)
        assert ok.problem is None and ok.kind == "work_letter"
        assert box.starts == 2
    assert _rss_mib() - rss_before < 64  # the 1 GiB never touched the parent


def test_wall_clock_timeout_kills_the_child() -> None:
    with Sandbox(Limits(child_timeout=0.5, child_cpu_seconds=60)) as box:
        box.run("ping", b"")
        start = time.monotonic()
        result = box.run("test_burn_cpu", b"")
        assert time.monotonic() - start < 2
        assert result == {"ok": False, "error": "timed out after 0.5 s"}
        assert box.run("ping", b"")["ok"]
        assert box.starts == 2


def test_cpu_limit_ends_the_job() -> None:
    with Sandbox(Limits(child_timeout=10, child_cpu_seconds=1)) as box:
        box.run("ping", b"")
        start = time.monotonic()
        result = box.run("test_burn_cpu", b"")
        assert time.monotonic() - start < 5
        assert result == {"ok": False, "error": "CPU time limit exceeded"}
        assert box.run("ping", b"")["ok"]


def test_memory_limit_is_a_typed_error() -> None:
    with Sandbox(Limits(child_memory_bytes=400 * 1024 * 1024)) as box:
        assert box.run("test_alloc", b"", size=10 * 1024 * 1024)["ok"]
        result = box.run("test_alloc", b"", size=600 * 1024 * 1024)
        assert result == {"ok": False, "error": "memory limit exceeded"}
        assert box.run("ping", b"")["ok"]


def test_dead_worker_is_replaced() -> None:
    import os
    import signal

    with Sandbox(Limits()) as box:
        pid = box.run("ping", b"")["pid"]
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
        assert box.run("ping", b"")["pid"] != pid
