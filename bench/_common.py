"""Shared helpers for the bench scripts: paths, a private Dovecot, memory, tables, results.

Benchmarks are scripts, never timed tests. Each script imports this module first; it
puts the checkout on ``sys.path`` so ``sikm_mailbot``, ``tests.dovecot`` and
``fixtures.build_fixtures`` import from a fresh clone without installing anything else.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results"
SIKM = [sys.executable, "-m", "sikm_mailbot.cli"]


# ---------------------------------------------------------------- Dovecot


@contextlib.contextmanager
def dovecot_server() -> Iterator[Any]:
    """A private Dovecot (tests.dovecot.DovecotServer) for the length of the block.

    Needs root and the Debian ``dovecot-imapd`` package, like the IMAP tests.
    """
    from tests.dovecot import DOVECOT_BIN, DovecotServer

    if not Path(DOVECOT_BIN).exists():
        raise SystemExit("bench: Dovecot not installed (apt-get install dovecot-imapd)")
    if os.geteuid() != 0:
        raise SystemExit("bench: the private Dovecot runs as root (static userdb uid=nobody)")
    # Not under a 0700 parent: Dovecot's mail processes run as nobody.
    base = Path(tempfile.mkdtemp(prefix="sikm-bench-dovecot-"))
    server = DovecotServer(base)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def mailbox(server: Any, user: str) -> Any:
    """A tests.dovecot.Dovecot handle for ``user`` on ``server``."""
    from tests.dovecot import Dovecot

    return Dovecot(server, user=user)


def imap_config(
    site: Path, host: str, port: int, user: str, password: str, extra: str = ""
) -> Path:
    """Write ``site/config.toml`` for an IMAP inbox (no TLS, loopback) and return its path."""
    cfg = site / "config.toml"
    cfg.write_text(
        "[inbox]\nkind = 'imap'\n"
        f"host = '{host}'\nport = {port}\nsecurity = 'none'\n"
        f"username = '{user}'\npassword = '{password}'\ntimeout = 30\n"
        f"{extra}\n[logging]\nlevel = 'WARNING'\nfile = 'var/sikm.log'\n"
    )
    return cfg


# ---------------------------------------------------------------- memory


def _hwm_kib(pid: int | str) -> int:
    """VmHWM (peak resident set) of a process in KiB; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # field 4 (after the parenthesised name) is the parent pid
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry.name))
    return out


class PeakMemory:
    """Peak RSS of this process (ru_maxrss) and of its live children (sampled VmHWM).

    The sandbox worker that parses PDFs and images is a long-lived child; it is
    recycled every 200 jobs, so its peak is sampled while it runs, not at exit.
    """

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self.child_peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sample()
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        for child in _children(os.getpid()):
            self.child_peak_kib = max(self.child_peak_kib, _hwm_kib(child))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    @staticmethod
    def self_peak_mib() -> float:
        """Peak RSS of this process in MiB: VmHWM, else ru_maxrss.

        VmHWM, not ru_maxrss: Linux carries a parent's high-water mark across
        fork+exec into the child's ru_maxrss, so a worker started by a driver that
        holds the whole corpus would report the driver's peak.
        """
        hwm = _hwm_kib("self")
        return (hwm or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024

    @property
    def child_peak_mib(self) -> float:
        """The largest child's peak RSS in MiB."""
        return self.child_peak_kib / 1024


# ---------------------------------------------------------------- numbers and output


def pct(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank) of ``values``; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def median(values: Sequence[float]) -> float:
    """The median; 0 when empty."""
    return statistics.median(values) if values else 0.0


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned text table."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [
        "  ".join(
            c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": _git_head(),
    }


def _git_head() -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except OSError:
        return ""


def write_result(name: str, data: dict[str, Any], quick: bool) -> Path:
    """Write bench/results/NAME.json (NAME-quick.json for a quick run); return the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}{'-quick' if quick else ''}.json"
    doc = {
        "bench": name,
        "quick": quick,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        **data,
    }
    path.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
    return path
