"""Hostile input: 10,000 generated and mutated messages, and hostile PDFs and images.

Most messages go through the real intake in process (Maildir source, SQLite store on
tmpfs for speed) in batches of 500; a few hundred go through the real daemon process.
Each must end with a final ledger row (applied, ignored or quarantined, with a reason)
or be recognised as a copy of one, nothing may raise out of the pipeline, every
message must take less than ``parse_timeout + 5`` seconds, and the parent's memory
must stay flat (the parsers run in the sandbox child under RLIMIT_AS).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from sqlmodel import Session, select

from sikm_mailbot.config import load_settings
from sikm_mailbot.store.models import Attachment, LedgerEntry
from sikm_mailbot.wiring import App
from tests.drills.common import EVIDENCE, Worker, check_sqlite, drill_seed, percentile, rss_kib
from tests.drills.hostile import hostile_files, slow_pdf
from tests.drills.hostile_worker import (
    PARSE_TIMEOUT,
    check_final,
    config,
    distinct,
    hypothesis_corpus,
    mutation_corpus,
    office,
    read_share,
)
from tests.mailgen import drop_into_maildir, simple_mail

pytestmark = pytest.mark.drill

TOTAL = 10_000
FROM_HYPOTHESIS = 5_000
SHARES = 2  # two processes (two cores); each has its own store and sandbox child
BOUND = PARSE_TIMEOUT + 5.0  # seconds per message
RSS_GROWTH_CAP_MIB = 200


@pytest.fixture
def fast_site() -> Iterator[Path]:
    """A site folder on tmpfs (fsync is free there); the disk is not what is tested."""
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    root = Path(tempfile.mkdtemp(prefix="sikm-hostile-", dir=base))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def rss_ranges(shares: list[dict]) -> str:
    """ "first→peak MiB" of each reader process."""
    return ", ".join(f"{r['rss_kib'][0] // 1024}→{max(r['rss_kib']) // 1024} MiB" for r in shares)


def test_ten_thousand_hostile_messages() -> None:
    seed = drill_seed("hostile")
    per_hyp, per_mut = FROM_HYPOTHESIS // SHARES, (TOTAL - FROM_HYPOTHESIS) // SHARES
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=SHARES, mp_context=context) as pool:
        futures = [pool.submit(read_share, seed, i, per_hyp, per_mut) for i in range(SHARES)]
        shares = [f.result(timeout=600) for f in futures]
    total = sum(r["messages"] for r in shares)
    times = [t for r in shares for t in r["seconds"]]
    outcomes = sum((r["outcomes"] for r in shares), Counter())
    kinds = sum((r["kinds"] for r in shares), Counter())
    growth = max((max(r["rss_kib"]) - r["rss_kib"][0]) / 1024 for r in shares)
    print(
        f"[drill hostile] {total} messages in {SHARES} processes; kinds {dict(kinds)}; "
        f"generated in {max(r['generated_s'] for r in shares):.0f} s, all done in "
        f"{max(r['total_s'] for r in shares):.0f} s; "
        f"{sum(r['new'] for r in shares)} recorded, "
        f"{sum(r['duplicate'] for r in shares)} recognised as copies; outcomes {dict(outcomes)}; "
        f"per message p50 {percentile(times, 50) * 1000:.1f} ms, "
        f"p99 {percentile(times, 99) * 1000:.0f} ms, max {max(times):.2f} s; "
        f"reader RSS growth at most {growth:.0f} MiB ({rss_ranges(shares)})"
    )
    assert total == TOTAL
    assert max(times) < BOUND
    assert growth < RSS_GROWTH_CAP_MIB, f"reader RSS grew {growth:.0f} MiB"
    for r in shares:  # the parsers ran in a child capped by RLIMIT_AS at parse_memory_mb
        assert str(r["parse_memory_mb"] * 1024 * 1024) in r["child_limit"], r["child_limit"]


# ------------------------------------------------------------------ hostile files


FORM_BODY = (
    "Formulir Permohonan SIKM\n\nNama Lengkap: Rahmat Hidayat\nNIK: 3171011505850007\n"
    "Kategori Pemohon: resident_out\nJenis Perjalanan: Sekali\n"
)


def test_hostile_pdfs_and_images(fast_site: Path) -> None:
    app, intake, timed = office(fast_site)
    inbox = fast_site / "var/mail/inbox"
    files = hostile_files()
    mails = {
        name: simple_mail(
            subject=f"Permohonan SIKM {name}", body=FORM_BODY, attachments=[(name, ctype, data)]
        )
        for name, (ctype, data) in files.items()
    }
    mails["all-at-once"] = simple_mail(
        subject="Permohonan SIKM semua",
        body=FORM_BODY,
        attachments=[(n, c, d) for n, (c, d) in files.items()],
    )
    # Twenty different slow PDFs in one mail: the message's time budget is shared.
    mails["twenty-slow"] = simple_mail(
        subject="Permohonan SIKM lampiran banyak",
        body=FORM_BODY,
        attachments=[(f"lampiran{i}.pdf", "application/pdf", slow_pdf(i)) for i in range(20)],
    )
    rss0 = rss_kib()
    times: dict[str, float] = {}
    for name, raw in mails.items():
        drop_into_maildir(inbox, raw)
        before = len(timed.seconds)
        assert intake.poll().failed == 0
        assert len(timed.seconds) == before + 1
        times[name] = timed.seconds[-1]
    outcomes = check_final(app)
    assert outcomes == {"application": len(mails)}
    with Session(app.engine) as s:
        atts = s.exec(select(Attachment)).all()
    reasons = {a.filename: (a.problem, a.reason) for a in atts}
    print("[drill hostile files] " + "; ".join(f"{n}: {t:.2f} s" for n, t in times.items()))
    for name in files:
        problem, reason = reasons[name]
        print(f"  {name}: {problem} — {reason[:100]}")
        assert reason, name
    for name in ("encrypted.pdf", "header-bomb.png", "pixel-bomb.png", "bad.jpg", "recursive.pdf"):
        assert reasons[name][0] is not None, (name, reasons[name])
    # Only the encrypted file is called password-protected (PDFium's stale error code
    # once made every broken PDF read after an encrypted one "encrypted").
    assert [n for n, (p, _) in reasons.items() if p == "pdf_encrypted"] == ["encrypted.pdf"]
    # The twenty slow PDFs share one parse budget: the last ones are not read, and say so.
    slow = [reasons[f"lampiran{i}.pdf"] for i in range(20)]
    assert any("ran out" in r for _, r in slow), slow[-1]
    assert max(times.values()) < BOUND, times
    assert (rss_kib() - rss0) / 1024 < RSS_GROWTH_CAP_MIB


# ------------------------------------------------------------------ the daemon


def test_the_daemon_reads_hostile_mail_and_keeps_running(tmp_path: Path) -> None:
    rng = random.Random(drill_seed("hostile-daemon"))
    site = tmp_path / "office"
    site.mkdir()
    (site / "config.toml").write_text(config(poll_interval=1))
    EVIDENCE.append(site)
    sample = [m for m, _ in mutation_corpus(250, rng)]
    sample += hypothesis_corpus(40, rng.randrange(1 << 30))
    sample += [
        simple_mail(subject=f"Permohonan SIKM {n}", body=FORM_BODY, attachments=[(n, c, d)])
        for n, (c, d) in hostile_files().items()
    ]
    inbox = site / "var/mail/inbox"
    for raw in sample:
        drop_into_maildir(inbox, raw)
    daemon = Worker(site, "run")
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (
            list((inbox / "new").iterdir()) or list((inbox / "cur").iterdir())
        ):
            assert daemon.proc.poll() is None, "the daemon stopped"
            time.sleep(0.5)
        assert daemon.proc.poll() is None
    finally:
        daemon.proc.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=60)
    assert code == 0
    assert not list((inbox / "new").iterdir()) and not list((inbox / "cur").iterdir())
    app = App(load_settings(site / "config.toml"))
    outcomes = check_final(app)
    with Session(app.engine) as s:
        recorded = len(s.exec(select(LedgerEntry)).all())
    print(f"[drill hostile daemon] {len(sample)} messages, {recorded} recorded: {dict(outcomes)}")
    assert recorded == distinct(sample)
    log = (site / "var/sikm.log").read_text()
    assert "processing failed" not in log and "poll failed" not in log
    check_sqlite(site / "var/sikm.db")
    assert os.stat(site / "var/sikm.db").st_mode & 0o077 == 0
