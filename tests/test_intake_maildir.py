"""Intake on the built-in Maildir source: every message stored exactly once."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlmodel import Session, select

from sikm_mailbot.config import load_settings
from sikm_mailbot.intake.driver import Intake
from sikm_mailbot.store.models import LedgerEntry
from sikm_mailbot.wiring import App, make_source, source_key
from tests.mailgen import drop_into_maildir, simple_mail

SIKM = [sys.executable, "-m", "sikm_mailbot.cli"]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A working folder with the built-in defaults (no config file)."""
    (tmp_path / "var/mail/inbox").mkdir(parents=True)
    return tmp_path


def inbox(site: Path) -> Path:
    return site / "var/mail/inbox"


def sikm(site: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SIKM, *args], cwd=site, capture_output=True, text=True, check=check, timeout=120
    )


def ledger_rows(site: Path) -> list[LedgerEntry]:
    app = App(load_settings(None) if False else _settings(site))
    with Session(app.engine) as s:
        return list(s.exec(select(LedgerEntry).order_by(LedgerEntry.id)))


def _settings(site: Path):
    settings = load_settings(None)
    settings.base_dir = site
    return settings


def make_intake(site: Path) -> Intake:
    settings = _settings(site)
    app = App(settings)
    return Intake(app.engine, app.files, make_source(settings), source_key(settings))


def test_new_messages_taken_once_then_nothing(site: Path) -> None:
    for i in range(3):
        drop_into_maildir(inbox(site), simple_mail(subject=f"mail {i}"))
    first = json.loads(sikm(site, "poll", "--json").stdout)
    assert (first["fetched"], first["new"], first["duplicate"]) == (3, 3, 0)
    assert first["outcomes"] == {"forms_request": 3}  # "permohonan" without documents
    second = json.loads(sikm(site, "poll", "--json").stdout)
    assert (second["fetched"], second["new"]) == (0, 0)
    assert list((inbox(site) / "new").iterdir()) == []
    assert len(list((inbox(site) / ".Processed/cur").iterdir())) == 3
    rows = ledger_rows(site)
    assert [r.stage for r in rows] == ["done"] * 3
    assert all(r.moved for r in rows)


def test_raw_bytes_stored_owner_only_and_content_addressed(site: Path) -> None:
    raw = simple_mail(subject="bytes")
    drop_into_maildir(inbox(site), raw)
    sikm(site, "poll")
    (row,) = ledger_rows(site)
    app = App(_settings(site))
    stored = app.files.path(row.sha256)
    assert stored.read_bytes() == raw
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE((site / "var/sikm.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((site / "var/files").stat().st_mode) == 0o700


def test_message_arriving_during_poll_taken_by_next(site: Path) -> None:
    drop_into_maildir(inbox(site), simple_mail(subject="first"))
    intake = make_intake(site)
    original = intake.source.fetch

    def fetch_and_deliver(refs):
        for item in original(refs):
            drop_into_maildir(inbox(site), simple_mail(subject="late"))
            yield item

    intake.source.fetch = fetch_and_deliver  # type: ignore[method-assign]
    assert intake.poll().new == 1
    intake.source.fetch = original  # type: ignore[method-assign]
    assert intake.poll().new == 1
    assert len(ledger_rows(site)) == 2


def test_double_delivery_recorded_once(site: Path) -> None:
    raw = simple_mail(message_id="<same-1@example.com>")
    drop_into_maildir(inbox(site), raw)
    # the second copy differs in a Received header, as a double delivery does
    drop_into_maildir(inbox(site), b"Received: from relay2.example.net\r\n" + raw)
    report = make_intake(site).poll()
    assert (report.new, report.duplicate, report.fetched) == (1, 1, 2)
    assert len(ledger_rows(site)) == 1
    assert list((inbox(site) / "new").iterdir()) == []


def test_sigkill_after_record_before_move_loses_and_doubles_nothing(site: Path) -> None:
    for i in range(4):
        drop_into_maildir(inbox(site), simple_mail(subject=f"crash {i}"))
    # A real process, really killed: SIGKILL in place of the first move.
    script = textwrap.dedent(
        """
        import os, signal
        from sikm_mailbot.mail.sources.maildir import MaildirSource
        MaildirSource.finish = lambda self, ref, dest: os.kill(os.getpid(), signal.SIGKILL)
        from sikm_mailbot.cli import app
        app(["poll"])
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=site, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == -9
    rows = ledger_rows(site)
    # recorded, never moved (the next message may be recorded too: reading overlaps)
    before = len(rows)
    assert 1 <= before <= 2 and not any(r.moved for r in rows)
    report = json.loads(sikm(site, "poll", "--json").stdout)
    assert (report["resumed"], report["new"], report["duplicate"]) == (before, 4 - before, 0)
    rows = ledger_rows(site)
    assert len(rows) == 4 and all(r.moved for r in rows)
    assert len({r.dedupe_key for r in rows}) == 4
    assert list((inbox(site) / "new").iterdir()) == []


def test_failing_pipeline_retries_then_quarantines(site: Path) -> None:
    class Broken:
        def prepare(self, raw, entry):
            raise RuntimeError("reader crashed")

        def apply(self, session, entry, prepared):  # pragma: no cover - never reached
            raise AssertionError

    drop_into_maildir(inbox(site), simple_mail(subject="poison"))
    intake = make_intake(site)
    intake.pipeline = Broken()
    reports = [intake.poll() for _ in range(4)]
    assert [r.failed for r in reports[:3]] == [1, 1, 1]
    assert reports[3].quarantined == 1
    (row,) = ledger_rows(site)
    assert row.stage == "quarantined" and "reader crashed" in row.reason
    assert len(list((inbox(site) / ".Quarantine/cur").iterdir())) == 1


def test_oversize_message_quarantined_without_reading(site: Path) -> None:
    (site / "config.toml").write_text("[inbox]\nmax_message_bytes = 2000\n")
    drop_into_maildir(inbox(site), simple_mail(body="x" * 5000))
    report = json.loads(sikm(site, "poll", "--json").stdout)
    assert report["quarantined"] == 1 and report["fetched"] == 0
    (row,) = ledger_rows(site)
    assert row.sha256 == "" and "over the 2000-byte limit" in row.reason
    assert len(list((inbox(site) / ".Quarantine/cur").iterdir())) == 1


def test_second_poller_refused_while_lease_held(site: Path) -> None:
    from sikm_mailbot.store.lease import DbLease, LeaseHeld

    app = App(_settings(site))
    holder = DbLease(app.engine, "intake")
    holder.acquire()
    proc = sikm(site, "poll", check=False)
    assert proc.returncode == 1 and "another sikm daemon" in proc.stderr
    holder.release()
    assert sikm(site, "poll", check=False).returncode == 0
    other = DbLease(app.engine, "intake")
    other.acquire()
    with pytest.raises(LeaseHeld):
        DbLease(app.engine, "intake").acquire()


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ("bogus = 1\n", "unknown key 'bogus'"),
        ("[inbox]\nkind = 'pop3'\n", "inbox.kind"),
        ("[intake]\npoll_interval = 0\n", "intake.poll_interval"),
        ("[inbox]\nkind = 'imap'\n", "inbox.host"),
        ("[outbox]\nport = 'x'\n", "outbox.port"),
        ("[inbox\n", "not valid TOML"),
    ],
)
def test_config_errors_exit_2_naming_the_key(site: Path, toml: str, needle: str) -> None:
    (site / "config.toml").write_text(toml)
    proc = sikm(site, "poll", check=False)
    assert proc.returncode == 2
    assert needle in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_secrets_from_environment_and_file(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (site / "smtp.secret").write_text("from-file\n")
    cfg = site / "config.toml"
    cfg.write_text(
        "[inbox]\nkind='imap'\nhost='imap.example.org'\n[outbox]\npassword_file='smtp.secret'\n"
    )
    monkeypatch.setenv("SIKM_IMAP_PASSWORD", "from-env")
    s = load_settings(cfg)
    assert s.inbox.password == "from-env" and s.outbox.password == "from-file"


def test_sigterm_stops_daemon_cleanly(site: Path) -> None:
    import signal
    import time

    (site / "config.toml").write_text("[intake]\npoll_interval = 0.5\n")
    drop_into_maildir(inbox(site), simple_mail(subject="daemon"))
    proc = subprocess.Popen(
        [*SIKM, "run"], cwd=site, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and list((inbox(site) / "new").iterdir()):
            time.sleep(0.2)
        assert list((inbox(site) / "new").iterdir()) == []
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "sikm daemon stopped" in err
    assert len(ledger_rows(site)) == 1
    # the lease was released: a one-off poll runs at once
    assert sikm(site, "poll", check=False).returncode == 0
    assert os.path.exists(site / "var/sikm.db")


def test_reused_maildir_file_name_is_a_new_message(site: Path) -> None:
    first = simple_mail(subject="first", message_id="<first@example.com>")
    second = simple_mail(subject="second", message_id="<second@example.com>")
    drop_into_maildir(inbox(site), first, name="mail.eml")
    assert make_intake(site).poll().new == 1
    drop_into_maildir(inbox(site), second, name="mail.eml")
    assert make_intake(site).poll().new == 1
    kept = sorted(p.read_bytes() for p in (inbox(site) / ".Processed/cur").iterdir())
    assert kept == sorted([first, second])  # the first copy was not overwritten
    assert all(p.stat().st_mode & 0o077 == 0 for p in (inbox(site) / ".Processed/cur").iterdir())


def test_unreadable_mail_is_retried_then_quarantined_not_answered(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sikm_mailbot.intake import pipeline
    from sikm_mailbot.mail.extract import ReadMessage

    monkeypatch.setattr(
        pipeline, "read_message", lambda raw, limits: ReadMessage(defects=["ExtractionFailed:X"])
    )
    drop_into_maildir(inbox(site), simple_mail(subject="FORMULIR"))
    settings = _settings(site)
    app = App(settings)
    intake = Intake(
        app.engine, app.files, make_source(settings), source_key(settings), pipeline=app.pipeline()
    )
    reports = [intake.poll() for _ in range(4)]
    assert [r.failed for r in reports] == [1, 1, 1, 0] and reports[-1].quarantined == 1
    (row,) = ledger_rows(site)
    assert row.outcome == "quarantined" and "could not be read" in row.reason


def test_quarantined_mail_can_be_read_again_after_a_fix(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sikm_mailbot.intake import pipeline
    from sikm_mailbot.mail.extract import ReadMessage

    real = pipeline.read_message
    monkeypatch.setattr(
        pipeline, "read_message", lambda raw, limits: ReadMessage(defects=["ExtractionFailed:X"])
    )
    drop_into_maildir(inbox(site), simple_mail(subject="FORMULIR", sender="ani@example.com"))
    settings = _settings(site)
    app = App(settings)
    intake = Intake(
        app.engine, app.files, make_source(settings), source_key(settings), pipeline=app.pipeline()
    )
    for _ in range(4):
        intake.poll()
    (row,) = ledger_rows(site)
    assert row.outcome == "quarantined"
    monkeypatch.setattr(pipeline, "read_message", real)  # the fix is deployed
    outcome = intake.retry(row.id)
    assert outcome is not None and outcome.outcome == "forms_request"
    (row,) = ledger_rows(site)
    assert row.outcome == "forms_request" and row.stage == "done"
    # and through the CLI, for a mail that is still junk: it stays quarantined
    drop_into_maildir(inbox(site), simple_mail(subject="hi", body="cheap", sender="x@example.net"))
    sikm(site, "poll")
    junk = ledger_rows(site)[-1]
    doc = json.loads(sikm(site, "mail", "--retry", str(junk.id), "--json").stdout)
    assert doc["outcome"] == "quarantined"


def test_tries_cut_short_by_kills_shunt_only_a_crash_loop(site: Path) -> None:
    """A try that left no error was cut by a kill: three of them are no verdict on the mail."""
    from sikm_mailbot.intake.driver import CRASH_LOOP_ATTEMPTS, StoreOnly

    class Killed(StoreOnly):
        def prepare(self, raw: bytes, entry: LedgerEntry) -> None:
            raise KeyboardInterrupt  # as a SIGKILL would: no error is noted

    settings = _settings(site)
    app = App(settings)

    def intake(pipeline: StoreOnly) -> Intake:
        src = make_source(settings)
        return Intake(app.engine, app.files, src, source_key(settings), pipeline=pipeline)

    def cut_short(times: int) -> None:
        with Session(app.engine) as s:
            for row in s.exec(select(LedgerEntry)):
                if row.stage == "recorded":
                    row.attempts = times
                    s.add(row)
            s.commit()

    drop_into_maildir(inbox(site), simple_mail(subject="FORMULIR", sender="ani@example.com"))
    with pytest.raises(KeyboardInterrupt):
        intake(Killed()).poll()
    cut_short(3)  # killed three times on this mail: read again, not shunted
    report = intake(StoreOnly()).poll()
    assert report.quarantined == 0 and ledger_rows(site)[0].outcome != "quarantined"

    drop_into_maildir(inbox(site), simple_mail(subject="FORMULIR", sender="budi@example.com"))
    with pytest.raises(KeyboardInterrupt):
        intake(Killed()).poll()
    cut_short(CRASH_LOOP_ATTEMPTS)  # a crash loop: shunted, with the reason
    intake(StoreOnly()).poll()
    last = ledger_rows(site)[-1]
    assert last.outcome == "quarantined" and "interrupted every time" in last.reason
