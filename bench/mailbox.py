#!/usr/bin/env python3
"""Mailbox: idle-poll cost and new-mail-to-acknowledgement delay as the mailbox grows.

    .venv/bin/python bench/mailbox.py             # 0, 10,000 and 50,000 processed mails
    .venv/bin/python bench/mailbox.py --quick     # 0 and 300, fewer trials, < 1 minute
    .venv/bin/python bench/mailbox.py --sizes 0,100000

For each size N, two mailboxes on a private Dovecot, each with a store that has
recorded the N mails (ledger rows + UID watermark at the top, as the bot leaves it):

* moved — the normal case: the intake MOVES what it has read, so INBOX is empty
  (UIDNEXT = N+1) and ``Processed`` holds the N mails;
* kept — N mails still in INBOX below the watermark (a MOVE that kept failing,
  or an administrator copying mail back).

Idle poll: ``Intake.poll()`` with nothing new, on a connection kept open between
polls as the daemon does: timed on a direct connection, and run again through
tests.dovecot.FlakyProxy to count the bytes each way. Delay: the real daemon
(``sikm run`` as a subprocess) on the "moved" mailbox; a new application mail
is APPENDed and the time until its acknowledgement is queued in the outbox table
is measured, with IDLE (poll interval 600 s, so only
IDLE can wake it) and with polling only (``idle = false``, poll interval 2 s).
Filler mails are small (bodies are never fetched by an idle poll). Result:
bench/results/mailbox.json.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# The repo root instead of bench/ itself: bench/queue.py must not shadow stdlib queue.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from bench import _common as c  # noqa: E402

POLL_INTERVAL_POLLING = 2.0
ACK_WAIT_S = 180  # generous: a loaded machine reads photographed documents slowly


def filler(n: int, tag: str) -> list[bytes]:
    """``n`` small, distinct mails (the processed history)."""
    head = (
        "From: Warga <warga{i}@example.com>\r\nTo: sikm@sikm.example.org\r\n"
        "Subject: Permohonan SIKM {i}\r\nDate: Tue, 19 May 2020 08:00:00 +0700\r\n"
        "Message-ID: <{tag}-{i}@mail.example.com>\r\n\r\n"
    )
    body = "Selamat pagi, berikut permohonan saya. Terima kasih.\r\n" * 20
    return [(head.format(i=i, tag=tag) + body).encode() for i in range(n)]


def _move_all(box: Any, folder: str) -> None:
    """UID MOVE everything in INBOX to ``folder`` (one command)."""
    with box.client() as cl:
        if not cl.folder_exists(folder):
            cl.create_folder(folder)
        cl.select_folder("INBOX")
        uids = cl.search("ALL")
        if uids:  # a range: a list of 50,000 UIDs is too long a command for Dovecot
            cl.move(f"{min(uids)}:{max(uids)}", folder)


def record_history(site: Path, n: int, uidvalidity: int) -> str:
    """Store state after the bot read N mails: N ledger rows (moved) + watermark at N."""
    from sqlalchemy import insert

    from sikm_mailbot.config import load_settings
    from sikm_mailbot.store.db import open_store
    from sikm_mailbot.store.models import LedgerEntry, SourceState, utcnow
    from sikm_mailbot.wiring import source_key

    settings = load_settings(site / "config.toml")
    (site / "var").mkdir(mode=0o700, exist_ok=True)
    engine = open_store(settings.database_url)
    key = source_key(settings)
    now = utcnow()
    rows = [
        {
            "source": "imap",
            "folder": "INBOX",
            "uidvalidity": uidvalidity,
            "uid": str(i),
            "message_id": f"<h{i}@mail.example.com>",
            "dedupe_key": f"m:{i:064x}",
            "sha256": f"{i:064x}",
            "size": 1500,
            "from_addr": f"warga{i}@example.com",
            "subject": f"Permohonan SIKM {i}",
            "received_at": now,
            "stage": "done",
            "outcome": "application",
            "reason": "",
            "error": "",
            "attempts": 1,
            "moved": True,
            "application_id": None,
            "updated_at": now,
        }
        for i in range(1, n + 1)
    ]
    with engine.begin() as conn:
        for i in range(0, len(rows), 5000):
            conn.execute(insert(LedgerEntry.__table__), rows[i : i + 5000])
        if n:
            conn.execute(
                insert(SourceState.__table__),
                [{"source_key": key, "uidvalidity": uidvalidity, "last_uid": n, "updated_at": now}],
            )
    engine.dispose()
    return key


def idle_polls(site: Path, proxy: Any, polls: int) -> dict[str, Any]:
    """First (connecting) poll, then ``polls`` idle polls on the open connection."""
    from sikm_mailbot.config import load_settings
    from sikm_mailbot.intake.driver import Intake
    from sikm_mailbot.wiring import App, make_source, source_key

    settings = load_settings(site / "config.toml")
    app = App(settings)
    intake = Intake(
        app.engine, app.files, make_source(settings), source_key(settings), pipeline=app.pipeline()
    )
    proxy.reset_counters()
    t0 = time.perf_counter()
    first = intake.poll()
    first_s = time.perf_counter() - t0
    first_down = proxy.bytes_down
    times, down, up = [], [], []
    for _ in range(polls):
        proxy.reset_counters()
        t0 = time.perf_counter()
        report = intake.poll()
        times.append(time.perf_counter() - t0)
        down.append(proxy.bytes_down)
        up.append(proxy.bytes_up)
        assert report.fetched == 0 and report.new == 0, report.as_dict()
    intake.source.close()
    app.engine.dispose()
    assert first.fetched == 0, first.as_dict()
    return {
        "first_poll_s": first_s,
        "first_poll_bytes_down": first_down,
        "poll_s": c.median(times),
        "poll_s_max": max(times),
        "bytes_down": int(c.median(down)),
        "bytes_up": int(c.median(up)),
    }


def _outbox_count(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
    except sqlite3.Error:
        return -1


def _unmoved(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM ledger WHERE moved = 0").fetchone()[0]
    except sqlite3.Error:
        return -1


def ack_delays(site: Path, box: Any, mails: list[bytes], idle: bool) -> dict[str, Any]:
    """Run `sikm run`, APPEND each mail, time until its acknowledgement is queued."""
    cfg = site / "config.toml"
    base = cfg.read_text().split("\n# mode\n")[0]
    mode = f"idle = {'true' if idle else 'false'}\n"
    interval = 600.0 if idle else POLL_INTERVAL_POLLING
    cfg.write_text(
        base.replace("[inbox]\n", f"[inbox]\n{mode}", 1)
        + f"\n# mode\n[intake]\npoll_interval = {interval}\n"
    )
    db = site / "var" / "sikm.db"
    log = open(site / "daemon.log", "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [*c.SIKM, "--config", str(cfg), "run"], cwd=site, stdout=log, stderr=log
    )
    delays = []
    try:
        # Ready = the first poll has run (it takes the lease and writes the watermark).
        time.sleep(3.0 if idle else POLL_INTERVAL_POLLING + 1.0)
        for raw in mails:
            before = _outbox_count(db)
            box.append(raw)
            t0 = time.perf_counter()
            while _outbox_count(db) <= before:
                if time.perf_counter() - t0 > ACK_WAIT_S or proc.poll() is not None:
                    log.flush()
                    tail = (site / "daemon.log").read_text(errors="replace")[-3000:]
                    raise SystemExit(f"no acknowledgement within {ACK_WAIT_S} s; log:\n{tail}")
                time.sleep(0.01)
            delays.append(time.perf_counter() - t0)
            # Let the poll finish (the mail moved out) before the next mail: an IDLE
            # wake-up that lands while a poll runs is lost (see bench/README.md).
            while _unmoved(db) != 0 and time.perf_counter() - t0 < 60:
                time.sleep(0.05)
            time.sleep(0.5 if idle else 0.7 * POLL_INTERVAL_POLLING)  # vary the poll phase
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        cfg.write_text(base)
    return {
        "trials": len(delays),
        "median_s": c.median(delays),
        "max_s": max(delays),
        "min_s": min(delays),
        "all_s": delays,
    }


def measure(
    server: Any, size: int, polls: int, trials: int, apps: list[bytes], tmp: Path
) -> dict[str, Any]:
    """Both mailbox shapes at one size."""
    from tests.dovecot import FlakyProxy

    out: dict[str, Any] = {"n": size}
    stamp = f"{os.getpid()}x{int(time.time())}"
    for shape in ("moved", "kept"):
        box = c.mailbox(server, f"mb{size}{shape}{stamp}")
        box.create_folder("INBOX")
        t0 = time.perf_counter()
        if size:
            box.write_maildir(filler(size, f"{shape}{size}"))
            box.uids("INBOX")  # Dovecot indexes the new files (assigns UIDs) at SELECT
            if shape == "moved":
                _move_all(box, "Processed")
        setup_s = time.perf_counter() - t0
        validity = box.uidvalidity("INBOX")
        # Time on a direct connection; bytes through the counting proxy (its relaying
        # adds ~45 ms per round trip on loopback, Nagle + delayed ACK, so it is not
        # timed). Each site has its own store holding the same history.
        proxy = FlakyProxy(box.host, box.port)
        site, counted = tmp / f"{shape}{size}", tmp / f"{shape}{size}-proxy"
        site.mkdir()
        counted.mkdir()
        c.imap_config(site, box.host, box.port, box.user, box.password)
        c.imap_config(counted, proxy.host, proxy.port, box.user, box.password)
        record_history(site, size, validity)
        record_history(counted, size, validity)
        timed = idle_polls(site, proxy, polls)
        volume = idle_polls(counted, proxy, polls)
        res = {
            "setup_s": setup_s,
            **timed,
            "bytes_down": volume["bytes_down"],
            "bytes_up": volume["bytes_up"],
            "first_poll_bytes_down": volume["first_poll_bytes_down"],
        }
        if shape == "moved":
            res["ack_idle"] = ack_delays(site, box, apps[:trials], idle=True)
            res["ack_polling"] = ack_delays(site, box, apps[trials : 2 * trials], idle=False)
        proxy.close()
        out[shape] = res
        print(
            f"  n={size} {shape}: poll {res['poll_s'] * 1000:.1f} ms, {res['bytes_down']} B down",
            flush=True,
        )
    return out


def main(argv: list[str] | None = None) -> int:
    """Build the mailboxes, measure, print and save the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sizes", default="0,10000,50000", help="processed mails (default 0,10000,50000)"
    )
    ap.add_argument("--polls", type=int, default=10, help="idle polls per mailbox (median)")
    ap.add_argument("--trials", type=int, default=5, help="new mails per delay mode (median)")
    ap.add_argument("--quick", action="store_true", help="smoke run: sizes 0,300; 3 polls, 2 mails")
    ap.add_argument("--no-save", action="store_true", help="do not write bench/results")
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.polls, args.trials = "0,300", 3, 2
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    from bench import corpus

    apps = corpus.build_mails(2 * args.trials * len(sizes) + 1, run=f"mb{os.getpid()}")
    runs = []
    with c.dovecot_server() as server, tempfile.TemporaryDirectory(prefix="sikm-bench-mb-") as t:
        for k, size in enumerate(sizes):
            mine = apps[2 * args.trials * k : 2 * args.trials * (k + 1)]
            runs.append(measure(server, size, args.polls, args.trials, mine, Path(t)))
    rows = []
    for r in runs:
        m, k = r["moved"], r["kept"]
        rows.append(
            [
                r["n"],
                m["poll_s"] * 1000,
                m["bytes_down"],
                m["bytes_up"],
                k["poll_s"] * 1000,
                k["bytes_down"],
                k["bytes_up"],
                m["ack_idle"]["median_s"],
                m["ack_idle"]["max_s"],
                m["ack_polling"]["median_s"],
                m["ack_polling"]["max_s"],
            ]
        )
    print(
        c.table(
            [
                "N",
                "moved poll ms",
                "B down",
                "B up",
                "kept poll ms",
                "B down",
                "B up",
                "ack IDLE s",
                "max",
                f"ack poll({POLL_INTERVAL_POLLING:g}s) s",
                "max",
            ],
            rows,
        )
    )
    if not args.no_save:
        path = c.write_result(
            "mailbox", {"runs": runs, "polls": args.polls, "trials": args.trials}, quick=args.quick
        )
        print(f"saved {path.relative_to(c.ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
