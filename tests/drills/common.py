"""Shared parts of the fault drills: seeds, tagged mail, sites, the CLI as a process, checks.

Every drill draws its randomness from :func:`drill_seed`, printed at the start, so a
failing run can be replayed exactly with ``SIKM_DRILL_SEED=<seed> pytest -m drill``.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterable
from pathlib import Path

from tests.dovecot import Dovecot

SEED_ENV = "SIKM_DRILL_SEED"
DEFAULT_SEED = 20200520
NOW = "2020-05-20T09:00:00+07:00"  # the fixtures' "today" (09:00 WIB)
REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures" / "emails"

# Sites, logs and captured output the drills leave behind; the privacy drill scans them.
EVIDENCE: list[Path] = []

_DRILL_ID = re.compile(rb"X-Drill-Id: ([A-Za-z0-9._-]+)")
_MSGID_LINE = re.compile(rb"(?im)^Message-ID:[^\r\n]*(\r?\n[ \t][^\r\n]*)*")


def drill_seed(name: str) -> int:
    """The seed for one drill: $SIKM_DRILL_SEED (default 20200520) mixed with its name."""
    base = int(os.environ.get(SEED_ENV, DEFAULT_SEED))
    seed = base ^ zlib.crc32(name.encode())
    print(f"[drill {name}] {SEED_ENV}={base} (drill seed {seed})")
    return seed


def realmail() -> list[Path]:
    """The shared real-world mail: ../shared/realmail beside the repository (as in CI)."""
    for folder in (REPO.parent / "shared" / "realmail", Path("/work/shared/realmail")):
        if folder.is_dir():
            return sorted(folder.glob("*.eml"))
    return []


# --------------------------------------------------------------------------- tagged mail


def _header_end(raw: bytes) -> int:
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    return min(ends) if ends else len(raw)


def tag(raw: bytes, drill_id: str, message_id: str | None = None) -> bytes:
    """``raw`` with ``X-Drill-Id`` as its first header and a fresh Message-ID.

    The drill id lets a check map every ledger row and every IMAP copy back to the
    message the drill sent; the Message-ID (replaced in the top header block only,
    never in forwarded parts) makes each copy a distinct message for the ledger.
    """
    nl = b"\r\n" if b"\r\n" in raw[:2000] else b"\n"
    mid = (message_id or f"<{drill_id}@drill.example.com>").encode()
    end = _header_end(raw)
    head, body = raw[:end], raw[end:]
    head, n = _MSGID_LINE.subn(lambda _m: b"Message-ID: " + mid, head, count=1)
    first = b"X-Drill-Id: " + drill_id.encode() + nl
    if n == 0:
        first += b"Message-ID: " + mid + nl
    return first + head + body


def drill_id_of(raw: bytes) -> str | None:
    """The drill id a tagged message carries (None for mail the drill did not send)."""
    found = _DRILL_ID.search(raw[:4000])
    return found.group(1).decode() if found else None


def drill_ids_in(box: Dovecot, folder: str) -> list[str]:
    """Drill ids of every message in an IMAP folder (headers only, read-only)."""
    with box.client() as c:
        if not c.folder_exists(folder):
            return []
        c.select_folder(folder, readonly=True)
        uids = c.search("ALL")
        if not uids:
            return []
        key = b"BODY[HEADER.FIELDS (X-DRILL-ID)]"
        data = c.fetch(uids, [b"BODY.PEEK[HEADER.FIELDS (X-DRILL-ID)]"])
        return [drill_id_of(d.get(key, b"")) or f"?uid{u}" for u, d in data.items()]


# --------------------------------------------------------------------------- sites


def imap_config(
    site: Path,
    box: Dovecot,
    *,
    host: str | None = None,
    port: int | None = None,
    inbox_extra: str = "",
    outbox: str = "kind = 'files'\n",
    extra: str = "",
) -> Path:
    """A config.toml for an office reading ``box`` over IMAP, DEBUG log to var/sikm.log."""
    site.mkdir(parents=True, exist_ok=True)
    cfg = site / "config.toml"
    cfg.write_text(
        "[inbox]\nkind = 'imap'\n"
        f"host = '{host or box.host}'\nport = {port or box.port}\nsecurity = 'none'\n"
        f"username = '{box.user}'\npassword = '{box.password}'\ntimeout = 5\nidle = false\n"
        f"{inbox_extra}"
        "[intake]\npoll_interval = 1\n"
        f"[outbox]\nreplies_per_hour = 1000\nsend_interval = 1\n{outbox}"
        "[logging]\nlevel = 'DEBUG'\nfile = 'var/sikm.log'\n"
        f"{extra}"
    )
    EVIDENCE.append(site)
    return cfg


def sikm_env(now: str = NOW) -> dict[str, str]:
    """Environment for the CLI as a process: the fixed clock, no stray config."""
    env = dict(os.environ)
    env["SIKM_NOW"] = now
    env.pop("SIKM_IMAP_PASSWORD", None)
    env.pop("SIKM_SMTP_PASSWORD", None)
    return env


def sikm(site: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run ``python -m sikm_mailbot.cli ARGS`` in ``site``; stderr is kept as evidence."""
    proc = subprocess.run(
        [sys.executable, "-m", "sikm_mailbot.cli", *args],
        cwd=site,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=sikm_env(),
    )
    with (site / "drill-stderr.log").open("a", encoding="utf-8") as fh:
        fh.write(proc.stderr)
    return proc


class Worker:
    """``sikm poll`` or ``sikm run`` as a child process, its stderr read line by line.

    ``outcomes`` counts the per-message "outcome=" log lines, so a drill can kill the
    worker after a chosen amount of progress rather than after a wall-clock delay
    (which would hit different stages on a slower machine).
    """

    def __init__(self, site: Path, command: str) -> None:
        self.site = site
        self.outcomes = 0
        self.last_outcome = time.monotonic()
        self._log = (site / "drill-stderr.log").open("a", encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sikm_mailbot.cli", command],
            cwd=site,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=sikm_env(),
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._log.write(line)
            if " outcome=" in line:
                self.outcomes += 1
                self.last_outcome = time.monotonic()

    def wait_progress(self, outcomes: int, *, quiet: float = 3.0, limit: float = 60.0) -> None:
        """Until ``outcomes`` messages are done, the process exits, or none was done for
        ``quiet`` seconds (after a start-up grace): a daemon with an empty inbox."""
        start = time.monotonic()
        while self.proc.poll() is None and self.outcomes < outcomes:
            now = time.monotonic()
            if now - start > limit or (now - start > 5.0 and now - self.last_outcome > quiet):
                return
            time.sleep(0.005)

    def kill(self) -> bool:
        """SIGKILL now; True when the process was still running (a real kill)."""
        alive = self.proc.poll() is None
        if alive:
            self.proc.kill()
        self.proc.wait(timeout=30)
        self._reader.join(timeout=10)
        self._log.close()
        return alive

    def wait(self, timeout: float = 120) -> int:
        """Let it finish; its exit status."""
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        self._log.close()
        return code


# --------------------------------------------------------------------------- checks


def check_sqlite(db: Path) -> None:
    """``PRAGMA integrity_check`` is ok and ``PRAGMA foreign_key_check`` finds nothing."""
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        bad = con.execute("PRAGMA foreign_key_check").fetchall()
        assert bad == [], f"foreign key violations: {bad[:10]}"
    finally:
        con.close()


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; 0.0 for no values."""
    data = sorted(values)
    if not data:
        return 0.0
    k = max(0, min(len(data) - 1, round(q / 100 * (len(data) - 1))))
    return data[k]


def rss_kib(pid: int | None = None) -> int:
    """Resident set size of a process (default: this one) in KiB, from /proc."""
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
