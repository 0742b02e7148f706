#!/usr/bin/env python3
"""Queue: the officer's commands as whole processes against a store of 100,000 applications.

    .venv/bin/python bench/queue.py               # 100,000 applications, 5 runs per command
    .venv/bin/python bench/queue.py --quick       # 2,000 applications, 3 runs
    .venv/bin/python bench/queue.py --n 250000 --keep /tmp/bigstore

The store is made by the real migrations, then filled with SQLAlchemy Core bulk
inserts: applications of invented people in a mix of states like the office's
2020 figures (mostly rejected or issued, some open), with their ledger rows,
attachments, audit events and queued/sent replies. Each command runs as
``python -m sikm_mailbot.cli --config … CMD`` (interpreter start, imports, config,
store check, query, output) and the median wall time is reported.
Result: bench/results/queue.json.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# The repo root instead of bench/ itself: bench/queue.py must not shadow stdlib queue.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from bench import _common as c  # noqa: E402

# Share of each state, after the office's week-end figures (most files rejected or issued).
STATUS_MIX = [
    ("rejected", 0.55),
    ("issued", 0.20),
    ("incomplete", 0.12),
    ("awaiting_guarantor", 0.08),
    ("under_review", 0.03),
    ("cancelled", 0.015),
    ("received", 0.005),
]
FIRST = [
    "Agus",
    "Budi",
    "Citra",
    "Dewi",
    "Eko",
    "Fitri",
    "Gilang",
    "Hendra",
    "Indah",
    "Joko",
    "Kiki",
    "Lestari",
    "Maya",
    "Nur",
    "Oka",
    "Putri",
    "Rudi",
    "Siti",
    "Teguh",
    "Yulia",
]
LAST = [
    "Santoso",
    "Rahmawati",
    "Hartono",
    "Gunawan",
    "Wibowo",
    "Lestari",
    "Pratama",
    "Hidayat",
    "Saputra",
    "Siregar",
    "Nasution",
    "Kusuma",
    "Wijaya",
    "Halim",
]
CATS = ["resident_out", "nonresident_in", "dki_ktp_outside", "urgent"]
KINDS = ["form", "statement", "ktp", "photo", "rtrw_letter", "work_letter"]
CHUNK = 5000


def _statuses(n: int, rng: random.Random) -> list[str]:
    names = [s for s, _ in STATUS_MIX]
    return rng.choices(names, weights=[w for _, w in STATUS_MIX], k=n)


def populate(url: str, n: int, seed: int = 7) -> dict[str, int]:
    """Fill a migrated store with ``n`` applications and their rows; return row counts."""
    from sqlalchemy import insert

    from sikm_mailbot.store.db import open_store
    from sikm_mailbot.store.models import (
        Application,
        Attachment,
        Counter,
        Event,
        LedgerEntry,
        OutboxMessage,
    )

    rng = random.Random(seed)
    engine = open_store(url)
    now = datetime.now(UTC)
    statuses = _statuses(n, rng)
    counts = {"application": 0, "ledger": 0, "attachment": 0, "event": 0, "outbox": 0}
    reply_raw = (
        b"From: SIKM <sikm@sikm.example.org>\r\nSubject: Permohonan SIKM\r\n\r\n"
        + b"Terima kasih. Permohonan Anda sudah kami terima.\r\n" * 30
    )
    with engine.begin() as conn:
        for start in range(0, n, CHUNK):
            apps, ledger, atts, events, outbox = [], [], [], [], []
            for i in range(start, min(n, start + CHUNK)):
                app_id = f"SIKM-2020-{i + 1:06d}"
                status = statuses[i]
                first, last = rng.choice(FIRST), rng.choice(LAST)
                name = f"{first} {last}".upper()
                born = f"{rng.randrange(1, 28):02d}0{rng.randrange(1, 9)}{rng.randrange(60, 99)}"
                nik = f"3174{rng.randrange(1, 99):02d}{born}{rng.randrange(1, 9999):04d}"
                email = f"{first.lower()}.{last.lower()}{i}@example.com"
                category = CATS[i % 4]
                # Oldest first: spread over the last 90 days (age is against the real clock).
                created = now - timedelta(days=90) + timedelta(seconds=90 * 86400 * i / n)
                open_ = status in ("received", "incomplete", "under_review", "awaiting_guarantor")
                fields = {
                    "nama": name,
                    "nik": nik,
                    "tempat_lahir": "JAKARTA",
                    "tanggal_lahir": "1985-03-14",
                    "jenis_kelamin": "L",
                    "alamat": f"Jl. Kemang Raya No. {i % 99}, Jakarta Selatan",
                    "nomor_hp": f"+62812{rng.randrange(10**7, 10**8)}",
                    "email": email,
                    "pekerjaan": "KARYAWAN SWASTA",
                    "kategori": category,
                    "jenis_perjalanan": "single",
                    "kota_asal": "JAKARTA SELATAN",
                    "kota_tujuan": "SURABAYA",
                    "tanggal_berangkat": "2020-05-22",
                    "tanggal_kembali": "2020-05-29",
                    "keperluan": "Tugas kantor audit gudang distribusi cabang Surabaya",
                }
                missing = ["rtrw_letter"] if status == "incomplete" else []
                problems = (
                    [
                        {
                            "field": "nomor_hp",
                            "code": "phone_invalid",
                            "message_id": "Nomor HP tidak valid.",
                            "message_en": "The phone number is not valid.",
                        }
                    ]
                    if status in ("incomplete", "rejected") and i % 3 == 0
                    else []
                )
                apps.append(
                    {
                        "id": app_id,
                        "status": status,
                        "category": category,
                        "trip_type": "single",
                        "applicant_email": email,
                        "sender_email": email,
                        "name": name,
                        "nik_last4": nik[-4:],
                        "guarantor_email": "",
                        "fields": fields,
                        "field_sources": {k: "acroform:form.pdf" for k in fields},
                        "missing": missing,
                        "problems": problems,
                        "flags": [],
                        "first_message_id": f"<m{i}@mail.example.com>",
                        "created_at": created,
                        "updated_at": created,
                        "completed_at": None
                        if status == "incomplete"
                        else created + timedelta(minutes=5),
                        "due_at": created + timedelta(days=1) if open_ else None,
                        "guarantor_requested_at": None,
                        "guarantor_reminded_at": None,
                        "decided_at": None if open_ else created + timedelta(hours=20),
                        "decided_by": "" if open_ else "officer.a",
                        "decision_reason": "missing_ktp" if status == "rejected" else "",
                        "decision_note": "",
                        "permit_number": f"P-{i}" if status == "issued" else None,
                        "version": 1,
                    }
                )
                ledger.append(
                    {
                        "id": i + 1,
                        "source": "imap",
                        "folder": "INBOX",
                        "uidvalidity": 1,
                        "uid": str(i + 1),
                        "message_id": f"<m{i}@mail.example.com>",
                        "dedupe_key": f"m:{i:064x}",
                        "sha256": f"{i:064x}",
                        "size": 420_000,
                        "from_addr": email,
                        "subject": f"Permohonan SIKM a.n. {name}",
                        "received_at": created,
                        "stage": "done",
                        "outcome": "application",
                        "reason": "",
                        "error": "",
                        "attempts": 1,
                        "moved": True,
                        "application_id": app_id,
                        "updated_at": created,
                    }
                )
                for k, kind in enumerate(KINDS[: 3 + i % 4]):
                    atts.append(
                        {
                            "application_id": app_id,
                            "ledger_id": i + 1,
                            "filename": f"{kind}.{'jpg' if kind in ('ktp', 'photo') else 'pdf'}",
                            "kind": kind,
                            "declared_type": "application/pdf",
                            "detected_type": "pdf",
                            "sha256": f"{i:060x}{k:04x}",
                            "size": 150_000,
                            "origin": "",
                            "problem": None,
                            "reason": "",
                            "field_source": "",
                            "fields": fields if kind == "form" else {},
                            "text_excerpt": "SURAT PERNYATAAN Yang bertanda tangan di bawah ini",
                            "pages": 1,
                            "width": None,
                            "height": None,
                            "created_at": created,
                        }
                    )
                for k, (action, to) in enumerate(
                    [
                        ("mail_in", "received"),
                        ("status", status),
                        ("mail_out", None),
                        ("decision", None),
                    ][: 3 + (0 if open_ else 1)]
                ):
                    events.append(
                        {
                            "application_id": app_id,
                            "ledger_id": i + 1,
                            "at": created + timedelta(minutes=k),
                            "actor": "bot",
                            "action": action,
                            "from_status": None,
                            "to_status": to,
                            "detail": "",
                            "data": {},
                        }
                    )
                outbox.append(
                    {
                        "message_id": f"<r{i}@sikm.example.org>",
                        "application_id": app_id,
                        "ledger_id": i + 1,
                        "kind": "ack" if status != "incomplete" else "incomplete",
                        "to_addr": email,
                        "subject": "Permohonan SIKM diterima",
                        "raw": reply_raw,
                        "status": "sent",
                        "attempts": 1,
                        "next_attempt_at": created,
                        "last_error": "",
                        "created_at": created,
                        "sent_at": created,
                    }
                )
            for table, rows in (
                (Application, apps),
                (LedgerEntry, ledger),
                (Attachment, atts),
                (Event, events),
                (OutboxMessage, outbox),
            ):
                conn.execute(insert(table.__table__), rows)
                counts[table.__tablename__] += len(rows)
        conn.execute(insert(Counter.__table__), [{"name": "SIKM-2020", "value": n}])
    engine.dispose()
    return counts


def time_command(site: Path, args: list[str], runs: int) -> dict[str, Any]:
    """Median (and min/max) wall time of ``sikm ARGS`` as a whole process."""
    times, size = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        res = subprocess.run(
            [*c.SIKM, "--config", str(site / "config.toml"), *args],
            cwd=site,
            capture_output=True,
            check=False,
        )
        times.append(time.perf_counter() - t0)
        if res.returncode != 0:
            raise SystemExit(f"sikm {' '.join(args)} failed: {res.stderr.decode()[-2000:]}")
        size = len(res.stdout)
    return {"median": c.median(times), "min": min(times), "max": max(times), "stdout_bytes": size}


def main(argv: list[str] | None = None) -> int:
    """Build the store, time each command, print and save the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="applications (default 100000)")
    ap.add_argument("--runs", type=int, default=5, help="runs per command (default 5)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 2000 applications, 3 runs")
    ap.add_argument("--keep", type=Path, help="build (or reuse) the store in this folder")
    ap.add_argument("--no-save", action="store_true", help="do not write bench/results")
    args = ap.parse_args(argv)
    n = 2000 if args.quick and args.n == 100_000 else args.n
    runs = 3 if args.quick and args.runs == 5 else args.runs
    site = args.keep or Path(tempfile.mkdtemp(prefix="sikm-bench-queue-"))
    site.mkdir(parents=True, exist_ok=True)
    try:
        (site / "config.toml").write_text("data_dir = 'var'\n[logging]\nlevel = 'WARNING'\n")
        db = site / "var" / "sikm.db"
        built = None
        if not db.exists():
            t0 = time.perf_counter()
            counts = populate(f"sqlite:///{db}", n)
            built = time.perf_counter() - t0
            print(f"store: {counts} in {built:.1f} s, {db.stat().st_size / 1e6:.0f} MB", flush=True)
        mid = f"SIKM-2020-{n // 2:06d}"
        commands = [
            ("python -c pass (interpreter only)", None),
            ("list --json", ["list", "--json"]),
            ("list --json --limit 50", ["list", "--json", "--limit", "50"]),
            ("list --status under_review --json", ["list", "--status", "under_review", "--json"]),
            ("list (table, under_review)", ["list", "--status", "under_review"]),
            ("show ID --json", ["show", mid, "--json"]),
            ("show ID", ["show", mid]),
            ("stats --json", ["stats", "--json"]),
            ("stats", ["stats"]),
        ]
        results: dict[str, Any] = {}
        for label, cmd in commands:
            if cmd is None:
                times = []
                for _ in range(runs):
                    t0 = time.perf_counter()
                    subprocess.run([sys.executable, "-c", "pass"], check=True)
                    times.append(time.perf_counter() - t0)
                results[label] = {
                    "median": c.median(times),
                    "min": min(times),
                    "max": max(times),
                    "stdout_bytes": 0,
                }
            else:
                results[label] = time_command(site, cmd, runs)
            print(f"  {label}: {results[label]['median']:.3f} s", flush=True)
        print(f"\n{n:,} applications, median of {runs} runs (whole process):")
        print(
            c.table(
                ["command", "median s", "min s", "max s", "stdout KB"],
                [
                    [k, v["median"], v["min"], v["max"], round(v["stdout_bytes"] / 1024)]
                    for k, v in results.items()
                ],
            )
        )
        if not args.no_save:
            path = c.write_result(
                "queue",
                {"applications": n, "runs": runs, "build_seconds": built, "commands": results},
                quick=args.quick,
            )
            print(f"saved {path.relative_to(c.ROOT)}")
    finally:
        if args.keep is None:
            shutil.rmtree(site, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
