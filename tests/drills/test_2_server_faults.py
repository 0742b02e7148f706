"""Server faults: IMAP cut mid-fetch and mid-move, logins refused, folders recreated; SMTP
refusing, silent, dropping after DATA, rejecting. Each case ends with every message
recorded once and every reply delivered exactly once (a resend after an ambiguous drop
carries the same Message-ID) or visibly failed with the server's reason in `sikm show`.
"""

from __future__ import annotations

import json
import logging
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from sikm_mailbot.cli import app as cli_app
from sikm_mailbot.config import Settings, load_settings
from sikm_mailbot.intake.driver import Intake
from sikm_mailbot.store.models import LedgerEntry, OutboxMessage
from sikm_mailbot.wiring import App, make_source, source_key
from tests.dovecot import Dovecot, FlakyProxy
from tests.drills.common import (
    FIXTURES,
    NOW,
    Worker,
    check_sqlite,
    drill_id_of,
    drill_ids_in,
    drill_seed,
    imap_config,
    sikm,
    tag,
)
from tests.drills.netfaults import CommandCutProxy, StallingSmtp
from tests.fixture_table import fixed_clock
from tests.mailgen import drop_into_maildir
from tests.smtp_server import Server

pytestmark = pytest.mark.drill

MAILS = [
    "app_missing_ktp",
    "app_resident_out_single_complete",
    "app_purpose_mudik",
    "app_nik_day_75",
    "cmd_formulir",
    "app_rfc2047_filename",
]


def corpus(prefix: str, copies: int = 2) -> dict[str, bytes]:
    """Tagged fixture copies, ``copies`` of each of MAILS."""
    out = {}
    for k in range(copies):
        for name in MAILS:
            did = f"{prefix}{k}-{name}"
            out[did] = tag((FIXTURES / f"{name}.eml").read_bytes(), did)
    return out


def office(site: Path, box: Dovecot, **kw: object) -> tuple[Settings, App]:
    """Settings and the wired app (fixtures' clock) for an IMAP office."""
    settings = load_settings(imap_config(site, box, **kw))  # type: ignore[arg-type]
    return settings, App(settings, now=fixed_clock("2020-05-20"))


def intake(settings: Settings, app: App) -> Intake:
    """The real intake with the reading pipeline."""
    source = make_source(settings)
    source.backoff_base = 0.05  # type: ignore[attr-defined] - keep the drill quick
    return Intake(app.engine, app.files, source, source_key(settings), pipeline=app.pipeline())


def ledger_ids(app: App) -> list[str]:
    """The drill id of every ledger row (repeats mean a message was recorded twice)."""
    with Session(app.engine) as s:
        return [drill_id_of(app.files.get(r.sha256)) for r in s.exec(select(LedgerEntry))]


def assert_once(app: App, box: Dovecot, sent: dict[str, bytes], inbox: str = "INBOX") -> None:
    """Each message one final ledger row; INBOX empty; each in Processed once."""
    assert sorted(ledger_ids(app)) == sorted(sent)
    with Session(app.engine) as s:
        rows = s.exec(select(LedgerEntry)).all()
    assert all(r.moved and r.stage in ("done", "quarantined") for r in rows)
    assert box.uids(inbox) == []
    placed = drill_ids_in(box, "Processed") + drill_ids_in(box, "Quarantine")
    assert sorted(placed) == sorted(sent), Counter(placed).most_common(3)
    check_sqlite(app.settings.path(app.settings.data_dir) / "sikm.db")


# ----------------------------------------------------------------------------- IMAP


def test_imap_cut_mid_fetch_again_and_again(
    tmp_path: Path, imap_inbox: Dovecot, flaky_proxy: FlakyProxy
) -> None:
    rng = random.Random(drill_seed("imap-cut-fetch"))
    settings, app = office(tmp_path, imap_inbox, host=flaky_proxy.host, port=flaky_proxy.port)
    mails = corpus("F")
    imap_inbox.write_maildir(list(mails.values()))
    cuts = [rng.randint(20_000, 600_000) for _ in range(4)]
    done = threading.Event()

    def rearm() -> None:  # one cut at a time, the next as soon as the last one happened
        for i, n in enumerate(cuts):
            flaky_proxy.cut_after(n)
            while flaky_proxy.cuts <= i and not done.is_set():
                time.sleep(0.01)

    threading.Thread(target=rearm, daemon=True).start()
    work = intake(settings, app)
    report = work.poll()
    done.set()
    print(f"[drill imap-cut-fetch] cut after {cuts} bytes; {flaky_proxy.cuts} cuts made")
    assert flaky_proxy.cuts >= 3
    assert report.failed == 0 and report.new == len(mails)
    assert_once(app, imap_inbox, mails)


@pytest.mark.parametrize("when", ["before", "after"])
def test_imap_cut_mid_move(tmp_path: Path, imap_inbox: Dovecot, when: str) -> None:
    """MOVE lost on the way (before) or its answer lost (after: the server did move)."""
    proxy = CommandCutProxy(imap_inbox.host, imap_inbox.port)
    try:
        settings, app = office(tmp_path, imap_inbox, host=proxy.host, port=proxy.port)
        mails = corpus("M")
        imap_inbox.write_maildir(list(mails.values()))
        proxy.arm(r"UID MOVE", when, times=3)
        report = intake(settings, app).poll()
        assert proxy.cuts == [f"{when}:UID MOVE"] * 3
        assert report.failed == 0 and report.new == len(mails)
        assert_once(app, imap_inbox, mails)
    finally:
        proxy.close()


def test_imap_cut_between_copy_and_delete_on_a_server_without_move(
    tmp_path: Path, imap_inbox: Dovecot
) -> None:
    proxy = CommandCutProxy(imap_inbox.host_without_move, imap_inbox.port)
    try:
        settings, app = office(tmp_path, imap_inbox, host=proxy.host, port=proxy.port)
        mails = corpus("C", copies=1)
        imap_inbox.write_maildir(list(mails.values()))
        proxy.arm(r"UID COPY", "after", times=1)  # the copy is made; the answer is lost
        report = intake(settings, app).poll()
        assert proxy.cuts == ["after:UID COPY"]
        assert report.failed == 0
        assert_once(app, imap_inbox, mails)
    finally:
        proxy.close()


def _deny(box: Dovecot, users: list[str]) -> None:
    """Write the deny list that the drill passdb reads (Dovecot re-reads it on change)."""
    path = box.server.base / "deny.passwd"
    path.write_text("".join(f"{u}:\n" for u in users))
    path.chmod(0o644)
    time.sleep(1.1)  # passwd-file is re-read when its mtime (whole seconds) changes


@pytest.fixture
def deny_passdb(dovecot: Dovecot) -> Iterator[Callable[[list[str]], None]]:
    """The session Dovecot with a passwd-file deny passdb in front of the static one.

    Users named in the file are refused at LOGIN by the real server (``NO
    [AUTHENTICATIONFAILED]``); the configuration is restored afterwards.
    """
    server = dovecot.server
    original = server.config.read_text()
    deny = server.base / "deny.passwd"
    deny.write_text("")
    deny.chmod(0o644)
    block = f"passdb {{\n  driver = passwd-file\n  args = {deny}\n  deny = yes\n}}\n"
    server.config.write_text(original.replace("passdb {", block + "passdb {", 1))
    server.doveadm("reload")
    time.sleep(0.5)
    try:
        yield lambda users: _deny(dovecot, users)
    finally:
        server.config.write_text(original)
        server.doveadm("reload")
        time.sleep(0.5)


def test_imap_login_refused_for_a_while_the_daemon_waits_it_out(
    tmp_path: Path, imap_inbox: Dovecot, deny_passdb: Callable[[list[str]], None]
) -> None:
    site = tmp_path / "office"
    imap_config(site, imap_inbox)
    mails = corpus("L", copies=1)
    imap_inbox.write_maildir(list(mails.values()))
    deny_passdb([imap_inbox.user])
    refused = sikm(site, "poll")
    assert refused.returncode == 1
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith("sikm: inbox unavailable:") and "refused" in last, last
    daemon = Worker(site, "run")
    try:
        time.sleep(4)  # a few polls fail while the server refuses
        assert daemon.proc.poll() is None, "the daemon stopped on a refused login"
        deny_passdb([])
        deadline = time.monotonic() + 60
        while imap_inbox.uids("INBOX") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert daemon.proc.poll() is None
    finally:
        daemon.proc.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=60)
    assert code == 0
    log = (site / "var" / "sikm.log").read_text()
    assert log.count("poll failed") >= 2
    app = App(load_settings(site / "config.toml"))
    assert_once(app, imap_inbox, mails)


def test_folder_deleted_and_recreated(tmp_path: Path, imap_inbox: Dovecot) -> None:
    """The inbox folder is rebuilt (new UIDVALIDITY) and Processed is deleted meanwhile."""
    imap_inbox.create_folder("Desk")
    settings, app = office(tmp_path, imap_inbox, inbox_extra="folder = 'Desk'\n")
    first = corpus("U", copies=1)
    for raw in first.values():
        imap_inbox.append(raw, "Desk")
    old = imap_inbox.uidvalidity("Desk")
    assert intake(settings, app).poll().new == len(first)
    imap_inbox.delete_folder("Desk")
    imap_inbox.delete_folder("Processed")  # someone tidied up: our moved copies are gone
    imap_inbox.create_folder("Desk")
    assert imap_inbox.uidvalidity("Desk") != old
    again = {d: first[d] for d in list(first)[:3]}  # the admin restores a few old ones
    new = corpus("V", copies=1)
    for raw in [*again.values(), *new.values()]:
        imap_inbox.append(raw, "Desk")
    report = intake(settings, app).poll()
    assert (report.new, report.duplicate, report.failed) == (len(new), len(again), 0)
    assert sorted(ledger_ids(app)) == sorted([*first, *new])
    assert imap_inbox.uids("Desk") == []
    placed = drill_ids_in(imap_inbox, "Processed") + drill_ids_in(imap_inbox, "Quarantine")
    assert sorted(placed) == sorted([*again, *new])
    with Session(app.engine) as s:
        replies = s.exec(select(OutboxMessage)).all()
    # a restored duplicate is not answered a second time
    assert Counter(m.ledger_id for m in replies).most_common(1)[0][1] == 1
    assert len(replies) >= len(first) + len(new)


# ----------------------------------------------------------------------------- SMTP


class Clock:
    """A clock the drill moves forward (retry delays must pass between flushes)."""

    def __init__(self) -> None:
        self.now = datetime.fromisoformat(NOW)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def smtp_office(tmp_path: Path, host: str, port: int) -> tuple[App, Clock, Path]:
    """An office with an SMTP outbox and four replies queued (two per application mail)."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f"[outbox]\nkind = 'smtp'\nhost = '{host}'\nport = {port}\nsecurity = 'none'\n"
        "timeout = 1\nmax_attempts = 2\nretry_base_seconds = 1\nreplies_per_hour = 100\n"
        "[logging]\nlevel = 'DEBUG'\nfile = 'var/sikm.log'\n"
    )
    clock = Clock()
    app = App(load_settings(cfg), now=clock)
    for name in ["app_missing_ktp", "app_purpose_mudik", "cmd_formulir", "app_nik_day_75"]:
        drop_into_maildir(
            tmp_path / "var/mail/inbox", tag((FIXTURES / f"{name}.eml").read_bytes(), name)
        )
        time.sleep(0.002)  # Maildir order = delivery order
    s = app.settings
    report = Intake(
        app.engine, app.files, make_source(s), source_key(s), pipeline=app.pipeline()
    ).poll()
    assert report.new == 4
    return app, clock, cfg


def outbox(app: App) -> list[OutboxMessage]:
    with Session(app.engine) as s:
        return list(s.exec(select(OutboxMessage).order_by(OutboxMessage.id)))


def received_ids(raws: list[bytes]) -> list[str]:
    return [str(message_from_bytes(r, policy=policy.default)["Message-ID"]) for r in raws]


def show(cfg: Path, app_id: str) -> dict:
    result = CliRunner().invoke(
        cli_app, ["--config", str(cfg), "show", app_id, "--json"], env={"SIKM_NOW": NOW}
    )
    root = logging.getLogger()  # the CLI's log handler wrote to the runner's closed stream
    for handler in list(root.handlers):
        if getattr(getattr(handler, "stream", None), "closed", False):
            root.removeHandler(handler)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def flush_rounds(app: App, clock: Clock, rounds: int) -> None:
    for _ in range(rounds):
        app.send()
        clock.advance(3600)


FAULTS = ["refused", "silent", "after_data", "drop_after_data", "reject_5xx"]


@pytest.mark.parametrize("fault", FAULTS)
def test_smtp_fault_ends_delivered_once_or_visibly_failed(
    tmp_path: Path,
    fault: str,
    smtp_server: Server,
    dropping_smtp_server: Server,
    rejecting_smtp_server: Server,
) -> None:
    stalling = StallingSmtp("after_data" if fault == "after_data" else "silent")
    try:
        if fault == "refused":
            with __import__("socket").socket() as probe:  # a port nobody listens on
                probe.bind(("127.0.0.1", 0))
                host, port = probe.getsockname()
        elif fault in ("silent", "after_data"):
            host, port = stalling.host, stalling.port
        elif fault == "drop_after_data":
            host, port = dropping_smtp_server.host, dropping_smtp_server.port
        else:
            host, port = rejecting_smtp_server.host, rejecting_smtp_server.port
        app, clock, cfg = smtp_office(tmp_path, host, port)
        queued = outbox(app)
        assert len(queued) >= 4
        # A connection failure ends a flush: each round tries the mail due first, so
        # the first mail reaches max_attempts (2) in round 5; stop once one has failed.
        started, rounds = time.monotonic(), 0
        while rounds < 8 and not any(m.status == "failed" for m in outbox(app)):
            flush_rounds(app, clock, 1)
            rounds += 1
        took = time.monotonic() - started
        assert took < 20, f"flushing against a {fault} server took {took:.1f} s"
        # The server is fixed (or replaced): whatever is still queued goes out.
        app.settings.outbox.host, app.settings.outbox.port = smtp_server.host, smtp_server.port
        flush_rounds(app, clock, 2)
    finally:
        stalling.close()
    rows = outbox(app)
    assert all(m.status in ("sent", "failed") for m in rows)
    good = Counter(received_ids([m.data for m in smtp_server.messages]))
    faulty = received_ids(
        stalling.messages
        if fault == "after_data"
        else [m.data for m in dropping_smtp_server.messages]
        if fault == "drop_after_data"
        else []
    )
    for m in rows:
        if m.status == "sent":
            assert good[m.message_id] + faulty.count(m.message_id) >= 1
            assert good[m.message_id] <= 1, f"{m.kind} delivered {good[m.message_id]} times"
        else:
            assert good[m.message_id] == 0 and m.last_error
    assert set(faulty) <= {m.message_id for m in rows}  # every copy is recognisably ours
    failed = [m for m in rows if m.status == "failed"]
    if fault == "drop_after_data":
        assert not failed and sum(good.values()) + len(faulty) == len(rows) + 1
    elif fault == "reject_5xx":
        assert len(failed) == len(rows) and all("550" in m.last_error for m in failed)
    else:  # the first mail was tried twice and given up; the rest went out later
        assert [m.id for m in failed] == [rows[0].id], [(m.kind, m.status) for m in rows]
        assert "gave up after 2 attempts" in failed[0].last_error
    for m in failed:
        if m.application_id:
            doc = show(cfg, m.application_id)
            (mail,) = [x for x in doc["mail"] if x["message_id"] == m.message_id]
            assert mail["status"] == "failed" and mail["last_error"] == m.last_error
            assert any(h["action"] == "delivery_failed" for h in doc["history"])
    print(f"[drill smtp {fault}] " + ", ".join(f"{m.kind}:{m.status}" for m in rows))
