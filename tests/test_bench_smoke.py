"""The bench scripts still run (tiny sizes, quick modes); they measure nothing here.

Speed is measured by the scripts under bench/, never by timed tests: this only
keeps them from rotting. The Dovecot-based ones skip (fail under CI=true) like the
IMAP tests when Dovecot or root is missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOVECOT = Path("/usr/sbin/dovecot")


def _run(script: str, *args: str, timeout: float = 240) -> str:
    res = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--no-save", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


def _need_dovecot() -> None:
    if DOVECOT.exists() and os.geteuid() == 0:
        return
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail("Dovecot (as root) is needed for the bench smoke test in CI")
    pytest.skip("Dovecot (as root) not available")


def test_queue_bench_runs() -> None:
    out = _run("queue.py", "--n", "60", "--runs", "1")
    assert "60 applications" in out
    assert "stats --json" in out and "show ID --json" in out


def test_surge_bench_runs() -> None:
    _need_dovecot()
    out = _run("surge.py", "--n", "3", "--sizes", "3")
    assert "ours/floor" in out
    assert "'application': 3" in out


def test_mailbox_bench_runs() -> None:
    _need_dovecot()
    out = _run("mailbox.py", "--sizes", "20", "--polls", "1", "--trials", "1")
    assert "ack IDLE s" in out
    assert out.strip().splitlines()[-1].lstrip().startswith("20 ")
