#!/usr/bin/env python3
"""Surge: N application mails in a real Dovecot, read by the intake, against the floor.

    .venv/bin/python bench/surge.py            # 2,000 mails (and 500 for the memory check)
    .venv/bin/python bench/surge.py --quick    # 10 and 40 mails, < 1 minute
    .venv/bin/python bench/surge.py --n 5000 --sizes 1000,5000

For each size, a fresh mailbox gets the mails (Maildir fast path), then two child
processes run one after the other on it:

* floor: a plain imapclient loop (BODY.PEEK[] in batches of 20) that parses each
  mail (stdlib email) and opens every PDF, reading its page text (pypdfium2) and
  AcroForm fields (pdfminer), in-process, with no store, no sandbox, no replies;
* ours: the real intake (sikm_mailbot.intake.driver.Intake + ReadingPipeline over
  ImapSource) until every mail is recorded, read, assessed, stored, answered in
  the outbox and moved to Processed.

Each runs in its own process so its peak RSS (ru_maxrss) is its own; the sandbox
worker's peak is sampled from /proc while it runs. Result: bench/results/surge.json.
"""

from __future__ import annotations

import argparse
import json
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

BATCH = 20


# ---------------------------------------------------------------- the floor


def _pdf_fields(data: bytes) -> int:
    """Open a PDF the plain way: page text with pypdfium2, form fields with pdfminer."""
    import io

    import pypdfium2 as pdfium
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfparser import PDFParser
    from pdfminer.pdftypes import resolve1

    doc = pdfium.PdfDocument(data)
    chars = 0
    for index in range(len(doc)):
        page = doc[index]
        textpage = page.get_textpage()
        chars += len(textpage.get_text_bounded())
        textpage.close()
        page.close()
    doc.close()
    pdoc = PDFDocument(PDFParser(io.BytesIO(data)))
    acro = resolve1(pdoc.catalog.get("AcroForm"))
    fields = 0
    if isinstance(acro, dict):
        stack = list(resolve1(acro.get("Fields")) or [])
        while stack:
            node = resolve1(stack.pop())
            if isinstance(node, dict):
                fields += int(node.get("V") is not None)
                stack.extend(resolve1(node.get("Kids")) or [])
    return chars + fields


def run_floor(host: str, port: int, user: str, password: str) -> dict[str, Any]:
    """Fetch every INBOX message with plain imapclient and parse it; no store, no replies."""
    import email
    import email.policy

    from imapclient import IMAPClient

    with c.PeakMemory():
        started = time.perf_counter()
        client = IMAPClient(host, port, ssl=False, timeout=60)
        client.login(user, password)
        client.select_folder("INBOX", readonly=True)
        uids = sorted(client.search("ALL"))
        parsed = pdfs = 0
        for i in range(0, len(uids), BATCH):
            data = client.fetch(uids[i : i + BATCH], [b"BODY.PEEK[]"])
            for uid in uids[i : i + BATCH]:
                msg = email.message_from_bytes(data[uid][b"BODY[]"], policy=email.policy.default)
                for part in msg.iter_attachments():
                    payload = part.get_content()
                    if part.get_content_type() == "application/pdf":
                        _pdf_fields(payload)
                        pdfs += 1
                parsed += 1
            del data
        client.logout()
        elapsed = time.perf_counter() - started
    return {
        "messages": parsed,
        "pdfs": pdfs,
        "seconds": elapsed,
        "peak_rss_mib": c.PeakMemory.self_peak_mib(),
    }


# ---------------------------------------------------------------- ours


def run_ours(site: Path) -> dict[str, Any]:
    """The real intake over IMAP until every mail is answered; per-message times."""
    from datetime import datetime

    from sqlalchemy import func
    from sqlmodel import Session, select

    from sikm_mailbot.config import load_settings
    from sikm_mailbot.domain.workdays import JAKARTA
    from sikm_mailbot.intake.driver import Intake
    from sikm_mailbot.store.models import Application, LedgerEntry, OutboxMessage
    from sikm_mailbot.wiring import App, make_source, source_key

    settings = load_settings(site / "config.toml")
    moment = datetime(2020, 5, 20, 9, 0, tzinfo=JAKARTA)  # the corpus' "today"
    app = App(settings, now=lambda: moment)
    per_message: list[float] = []
    started_at: dict[str, float] = {}

    class TimedIntake(Intake):
        """Per message: from its record to its move (reading overlaps the one before)."""

        def _record(self, ref, raw, report, reader):  # type: ignore[no-untyped-def]
            started_at[ref.uid] = time.perf_counter()
            return super()._record(ref, raw, report, reader)

        def _complete(self, taken, report):  # type: ignore[no-untyped-def]
            super()._complete(taken, report)
            per_message.append(time.perf_counter() - started_at.pop(taken.ref.uid))

    with c.PeakMemory() as mem:
        started = time.perf_counter()
        engine = app.engine  # migrations at start are part of the cost
        intake = TimedIntake(
            engine,
            app.files,
            make_source(settings),
            source_key(settings),
            pipeline=app.pipeline(),
            max_message_bytes=settings.inbox.max_message_bytes,
        )
        polls = 0
        outcomes: dict[str, int] = {}
        while True:
            report = intake.poll()
            polls += 1
            for k, v in report.outcomes.items():
                outcomes[k] = outcomes.get(k, 0) + v
            if report.fetched == 0 and report.resumed == 0 and report.failed == 0:
                break
        intake.source.close()
        elapsed = time.perf_counter() - started
    with Session(engine) as s:
        ledger = s.exec(select(func.count()).select_from(LedgerEntry)).one()
        done = s.exec(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.moved == True)  # noqa: E712
        ).one()
        replies = s.exec(
            select(OutboxMessage.kind, func.count()).group_by(OutboxMessage.kind)
        ).all()
        statuses = s.exec(
            select(Application.status, func.count()).group_by(Application.status)
        ).all()
    return {
        "messages": ledger,
        "moved": done,
        "polls": polls,
        "outcomes": outcomes,
        "replies": dict(replies),
        "statuses": dict(statuses),
        "seconds": elapsed,
        "per_message_p50": c.pct(per_message, 50),
        "per_message_p95": c.pct(per_message, 95),
        "peak_rss_mib": c.PeakMemory.self_peak_mib(),
        "sandbox_peak_rss_mib": mem.child_peak_mib,
    }


# ---------------------------------------------------------------- driver


def _child(args: list[str]) -> dict[str, Any]:
    res = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False
    )
    if res.returncode != 0:
        raise SystemExit(f"surge worker {args[:2]} failed:\n{res.stderr[-4000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def measure(server: Any, mails: list[bytes], size: int) -> dict[str, Any]:
    """Floor and ours on one fresh mailbox holding the first ``size`` mails."""
    box = c.mailbox(server, f"surge{size}x{int(time.time())}")
    box.write_maildir(mails[:size])
    floor = _child(["--worker", "floor", box.host, str(box.port), box.user, box.password])
    with tempfile.TemporaryDirectory(prefix="sikm-bench-surge-") as tmp:
        site = Path(tmp)
        c.imap_config(
            site, box.host, box.port, box.user, box.password, "idle = false\nbatch_size = 20\n"
        )
        ours = _child(["--worker", "ours", str(site)])
    assert floor["messages"] == size, floor
    if ours["messages"] != size or ours["moved"] != size:
        raise SystemExit(f"surge: the intake did not finish every mail: {ours}")
    answered = sum(ours["replies"].values())
    if answered != size:
        raise SystemExit(f"surge: {answered} replies for {size} mails: {ours}")
    return {
        "n": size,
        "mail_mb": round(sum(len(m) for m in mails[:size]) / 1e6, 1),
        "floor": floor,
        "ours": ours,
        "ratio": ours["seconds"] / floor["seconds"],
    }


def main(argv: list[str] | None = None) -> int:
    """Build the corpus, run floor and ours at each size, print and save the table."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        kind, rest = argv[1], argv[2:]
        out = (
            run_floor(rest[0], int(rest[1]), rest[2], rest[3])
            if kind == "floor"
            else run_ours(Path(rest[0]))
        )
        print(json.dumps(out))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="mails in the surge (default 2000)")
    ap.add_argument("--sizes", default="", help="comma-separated sizes (default N/4,N)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 10 and 40 mails")
    ap.add_argument("--no-save", action="store_true", help="do not write bench/results")
    args = ap.parse_args(argv)
    n = 40 if args.quick and args.n == 2000 else args.n
    sizes = [int(s) for s in args.sizes.split(",") if s] or [max(1, n // 4), n]
    from bench import corpus

    t0 = time.perf_counter()
    mails = corpus.build_mails(max(sizes))
    print(
        f"corpus: {len(mails)} mails, {sum(map(len, mails)) / 1e6:.1f} MB "
        f"(built in {time.perf_counter() - t0:.1f} s)",
        flush=True,
    )
    runs = []
    with c.dovecot_server() as server:
        for size in sizes:
            runs.append(measure(server, mails, size))
            print(f"  n={size} done", flush=True)
    rows = []
    for r in runs:
        o, f = r["ours"], r["floor"]
        rows.append(
            [
                r["n"],
                r["mail_mb"],
                f["seconds"],
                o["seconds"],
                f"{r['ratio']:.2f}x",
                r["n"] / o["seconds"],
                o["per_message_p50"] * 1000,
                o["per_message_p95"] * 1000,
                f["peak_rss_mib"],
                o["peak_rss_mib"],
                o["sandbox_peak_rss_mib"],
            ]
        )
    print(
        c.table(
            [
                "N",
                "MB",
                "floor s",
                "ours s",
                "ours/floor",
                "msg/s",
                "p50 ms",
                "p95 ms",
                "floor RSS MiB",
                "ours RSS MiB",
                "sandbox RSS MiB",
            ],
            rows,
        )
    )
    last = runs[-1]["ours"]
    print(
        f"outcomes at N={runs[-1]['n']}: {last['outcomes']}; replies {last['replies']}; "
        f"statuses {last['statuses']}"
    )
    if not args.no_save:
        path = c.write_result("surge", {"runs": runs}, quick=args.quick)
        print(f"saved {path.relative_to(c.ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
