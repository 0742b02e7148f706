"""Intake against a real Dovecot: every message recorded once, crash or no crash."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlmodel import Session, select

from sikm_mailbot.config import Settings, load_settings
from sikm_mailbot.intake.driver import Intake
from sikm_mailbot.store.models import LedgerEntry
from sikm_mailbot.wiring import App, make_source, source_key
from tests.dovecot import Dovecot, FlakyProxy
from tests.mailgen import simple_mail


def configure(
    site: Path, box: Dovecot, *, host: str | None = None, port: int | None = None, extra: str = ""
) -> Settings:
    cfg = site / "config.toml"
    cfg.write_text(
        "[inbox]\nkind = 'imap'\n"
        f"host = '{host or box.host}'\nport = {port or box.port}\nsecurity = 'none'\n"
        f"username = '{box.user}'\npassword = '{box.password}'\ntimeout = 5\n{extra}"
        "\n[logging]\nfile = 'var/sikm.log'\n"
    )
    return load_settings(cfg)


def intake_for(settings: Settings) -> Intake:
    app = App(settings)
    return Intake(
        app.engine,
        app.files,
        make_source(settings),
        source_key(settings),
        max_message_bytes=settings.inbox.max_message_bytes,
    )


def rows(settings: Settings) -> list[LedgerEntry]:
    with Session(App(settings).engine) as s:
        return list(s.exec(select(LedgerEntry).order_by(LedgerEntry.id)))


def sikm(site: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sikm_mailbot.cli", *args],
        cwd=site,
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
    )


def test_new_mail_taken_once_and_moved(tmp_path: Path, imap_inbox: Dovecot) -> None:
    configure(tmp_path, imap_inbox)
    raws = [simple_mail(subject=f"imap {i}") for i in range(3)]
    for raw in raws:
        imap_inbox.append(raw)
    first = json.loads(sikm(tmp_path, "poll", "--json").stdout)
    assert (first["fetched"], first["new"], first["moved"]) == (3, 3, 3)
    second = json.loads(sikm(tmp_path, "poll", "--json").stdout)
    assert (second["fetched"], second["new"]) == (0, 0)
    assert imap_inbox.uids("INBOX") == []
    assert sorted(imap_inbox.folder_messages("Processed")) == sorted(raws)
    # reading never marked anything seen before the move
    assert all(b"\\Seen" not in f for f in imap_inbox.flags("Processed").values())


def test_mail_appended_during_a_poll_is_taken_by_the_next(
    tmp_path: Path, imap_inbox: Dovecot
) -> None:
    settings = configure(tmp_path, imap_inbox)
    imap_inbox.append(simple_mail(subject="before"))
    intake = intake_for(settings)
    original = intake.source.fetch

    def fetch_then_append(refs):
        for item in original(refs):
            imap_inbox.append(simple_mail(subject="during"))
            yield item

    intake.source.fetch = fetch_then_append  # type: ignore[method-assign]
    assert intake.poll().new == 1
    intake.source.fetch = original  # type: ignore[method-assign]
    assert intake.poll().new == 1
    assert intake.poll().new == 0
    assert len(rows(settings)) == 2


def test_sigkill_between_record_and_move(tmp_path: Path, imap_inbox: Dovecot) -> None:
    settings = configure(tmp_path, imap_inbox)
    for i in range(4):
        imap_inbox.append(simple_mail(subject=f"kill {i}"))
    script = textwrap.dedent(
        """
        import os, signal
        from sikm_mailbot.mail.sources.imap import ImapSource
        ImapSource.finish = lambda self, ref, dest: os.kill(os.getpid(), signal.SIGKILL)
        from sikm_mailbot.cli import app
        app(["poll"])
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == -9
    before = len(rows(settings))  # the next one may be recorded too: reading overlaps
    assert 1 <= before <= 2 and len(imap_inbox.uids("INBOX")) == 4
    report = json.loads(sikm(tmp_path, "poll", "--json").stdout)
    assert (report["resumed"], report["new"], report["duplicate"]) == (before, 4 - before, 0)
    assert len(rows(settings)) == 4 and all(r.moved for r in rows(settings))
    assert imap_inbox.uids("INBOX") == [] and len(imap_inbox.uids("Processed")) == 4


def test_uidvalidity_reset_ingests_nothing_twice(tmp_path: Path, imap_inbox: Dovecot) -> None:
    settings = configure(tmp_path, imap_inbox)
    raws = [simple_mail(subject=f"old {i}") for i in range(3)]
    for raw in raws:
        imap_inbox.append(raw)
    assert intake_for(settings).poll().new == 3
    # The administrator rebuilds the mailbox: the same mail comes back under new UIDs.
    imap_inbox.reset_inbox()
    for raw in raws:
        imap_inbox.append(raw)
    imap_inbox.append(simple_mail(subject="really new"))
    report = intake_for(settings).poll()
    assert (report.new, report.duplicate, report.failed) == (1, 3, 0)
    assert len(rows(settings)) == 4
    assert imap_inbox.uids("INBOX") == []


def test_connection_cut_mid_fetch_loses_nothing(
    tmp_path: Path, imap_inbox: Dovecot, flaky_proxy: FlakyProxy
) -> None:
    settings = configure(tmp_path, imap_inbox, host=flaky_proxy.host, port=flaky_proxy.port)
    raws = [simple_mail(subject=f"big {i}", body="x" * 30_000) for i in range(6)]
    for raw in raws:
        imap_inbox.append(raw)
    intake = intake_for(settings)
    intake.source.open()
    flaky_proxy.cut_after(70_000)
    report = intake.poll()
    assert flaky_proxy.cuts == 1
    assert (report.new, report.failed) == (6, 0)
    assert len({r.sha256 for r in rows(settings)}) == 6
    assert imap_inbox.uids("INBOX") == []


def test_oversize_quarantined_without_downloading(
    tmp_path: Path, imap_inbox: Dovecot, flaky_proxy: FlakyProxy
) -> None:
    settings = configure(
        tmp_path,
        imap_inbox,
        host=flaky_proxy.host,
        port=flaky_proxy.port,
        extra="max_message_bytes = 100000\n",
    )
    big = simple_mail(subject="huge", body="y" * 400_000)
    imap_inbox.append(big)
    report = intake_for(settings).poll()
    assert report.quarantined == 1 and report.fetched == 0
    assert flaky_proxy.bytes_down < 50_000  # the 400 KB body never crossed the wire
    (row,) = rows(settings)
    assert row.stage == "quarantined" and row.sha256 == "" and "over the" in row.reason
    assert imap_inbox.uids("INBOX") == [] and len(imap_inbox.uids("Quarantine")) == 1


def test_idle_poll_of_processed_mailbox_fetches_no_bodies(
    tmp_path: Path, imap_inbox: Dovecot, flaky_proxy: FlakyProxy
) -> None:
    settings = configure(tmp_path, imap_inbox, host=flaky_proxy.host, port=flaky_proxy.port)
    for i in range(20):
        imap_inbox.append(simple_mail(subject=f"m {i}"))
    intake = intake_for(settings)
    assert intake.poll().new == 20
    flaky_proxy.reset_counters()
    report = intake.poll()
    assert report.fetched == 0
    sent = bytes(flaky_proxy.upstream).upper()
    assert b"BODY" not in sent and b"RFC822.SIZE" not in sent
    assert flaky_proxy.bytes_down < 2_000


def test_daemon_wakes_on_idle_long_before_the_timed_poll(
    tmp_path: Path, imap_inbox: Dovecot
) -> None:
    import signal
    import time

    settings = configure(tmp_path, imap_inbox, extra="idle = true\n[intake]\npoll_interval = 600\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sikm_mailbot.cli", "run"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "daemon running" not in _log(tmp_path, proc):
            time.sleep(0.2)
        time.sleep(1.0)  # the first (immediate) poll has run; now only IDLE can wake it
        imap_inbox.append(simple_mail(subject="wake up"))
        start = time.monotonic()
        while time.monotonic() - start < 15 and not rows(settings):
            time.sleep(0.1)
        woke_after = time.monotonic() - start
        assert rows(settings), "new mail was not taken while the daemon idled"
        assert woke_after < 5.0
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0


def _log(site: Path, proc: subprocess.Popen) -> str:
    """What the daemon logged so far (stderr is read without blocking via the log file)."""
    log = site / "var" / "sikm.log"
    return log.read_text() if log.exists() else ""
