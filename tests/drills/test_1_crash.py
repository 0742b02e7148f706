"""Crash drill: 300 messages in a real Dovecot, the worker SIGKILLed at random moments.

Phase A delivers 254 messages (every standalone fixture 7 times with fresh
Message-IDs, plus the real-world spam and malformed mail); phase B, built from what
phase A stored, delivers 46 more: follow-ups with the missing KTP, STATUS requests,
strangers quoting someone else's tracking number, bounces of our own replies and
more fixture copies. In each phase ``sikm poll`` or ``sikm run`` (seeded choice) is
started and SIGKILLed after a seeded amount of progress plus a seeded jitter, or
early during start-up, and restarted until the inbox is empty.

Then: every message is exactly one ledger row with a final outcome, and that outcome
and its replies are what the message deserves (the fixture sidecars, a crash-free
reference run for the real-world mail); one application per application mail with
gap-free tracking numbers; one outbox row per (ledger row, reply kind) and one
guarantor request per entry into ``awaiting_guarantor``; one .eml per reply; the
SQLite file passes integrity and foreign-key checks; INBOX is empty and each message
is in Processed or Quarantine exactly once.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlmodel import Session, select

from sikm_mailbot.config import load_settings
from sikm_mailbot.intake.driver import Intake
from sikm_mailbot.outbox.transports import FileTransport
from sikm_mailbot.store.models import Application, Event, LedgerEntry, OutboxMessage
from sikm_mailbot.wiring import App, make_source, source_key
from tests.dovecot import Dovecot
from tests.drills.common import (
    FIXTURES,
    Worker,
    check_sqlite,
    drill_id_of,
    drill_ids_in,
    drill_seed,
    imap_config,
    realmail,
    sikm,
    tag,
)
from tests.fixture_table import fixed_clock, fixture_names, sidecar
from tests.mailgen import drop_into_maildir, simple_mail

pytestmark = pytest.mark.drill

COPIES = 7
MIN_KILLS = 25
FINAL_OUTCOMES = {
    "application",
    "follow_up",
    "quarantined",
    "ignored",
    "forms_request",
    "status_request",
    "flagged",
    "held",
    "guarantor_answer",
}


@dataclass
class Expect:
    """What one message deserves: its outcome and the kinds of reply it causes."""

    outcome: str
    replies: list[str] = field(default_factory=list)


def standalone_fixtures() -> list[str]:
    """Fixtures that stand alone (the 15 MB oversize one is left to the intake tests)."""
    return [
        n
        for n in fixture_names()
        if not sidecar(n).get("follow_up_of") and n != "app_oversize_attachment"
    ]


def phase_a(rng: random.Random) -> tuple[dict[str, bytes], dict[str, Expect | None]]:
    """Fixture copies and real-world mail, shuffled; None = expectation from a reference run."""
    mails: dict[str, bytes] = {}
    expect: dict[str, Expect | None] = {}
    for k in range(COPIES):
        for name in standalone_fixtures():
            did = f"A{k}-{name}"
            mails[did] = tag((FIXTURES / f"{name}.eml").read_bytes(), did)
            car = sidecar(name)
            expect[did] = Expect(car["outcome"], [car["reply"]] if car["reply"] else [])
    for path in realmail():
        did = f"R-{path.stem}"
        mails[did] = tag(path.read_bytes(), did)
        expect[did] = None
    order = list(mails)
    rng.shuffle(order)
    return {d: mails[d] for d in order}, expect


def reference_outcomes(tmp: Path, mails: dict[str, bytes]) -> dict[str, Expect]:
    """A crash-free, in-process run of ``mails`` through a Maildir: the oracle."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "config.toml").write_text("[outbox]\nreplies_per_hour = 1000\n")
    settings = load_settings(tmp / "config.toml")
    app = App(settings, now=fixed_clock("2020-05-20"))
    for raw in mails.values():
        drop_into_maildir(tmp / "var/mail/inbox", raw)
    report = Intake(
        app.engine, app.files, make_source(settings), source_key(settings), pipeline=app.pipeline()
    ).poll()
    assert report.new == len(mails) and report.failed == 0
    out: dict[str, Expect] = {}
    with Session(app.engine) as s:
        for row in s.exec(select(LedgerEntry)):
            did = drill_id_of(app.files.get(row.sha256))
            kinds = s.exec(select(OutboxMessage.kind).where(OutboxMessage.ledger_id == row.id))
            out[did] = Expect(row.outcome, sorted(kinds))
    return out


def phase_b(app: App, rng: random.Random) -> tuple[dict[str, bytes], dict[str, Expect]]:
    """Mail about phase A's applications: follow-ups, STATUS, strangers, bounces, more."""
    ktp_reply = (FIXTURES / "followup_new_ktp.eml").read_bytes()
    status_cmd = (FIXTURES / "cmd_status_request.eml").read_bytes()
    with Session(app.engine) as s:
        missing_ktp = s.exec(select(Application).where(Application.status == "incomplete")).all()
        missing_ktp = [a for a in missing_ktp if a.sender_email == "eko.prasetyo@example.com"]
        others = s.exec(select(Application).where(Application.status == "under_review")).all()
        ours = s.exec(select(OutboxMessage).where(OutboxMessage.application_id.is_not(None))).all()
    assert len(missing_ktp) >= COPIES and len(others) >= 15 and len(ours) >= 10
    # A real reply names our mail to that address (a tracking number binds nothing).
    to_applicant = {m.application_id: m.message_id for m in ours if m.kind in ("incomplete", "ack")}
    mails: dict[str, bytes] = {}
    expect: dict[str, Expect] = {}

    def add(did: str, raw: bytes, outcome: str, replies: list[str]) -> None:
        mails[did] = tag(raw, did)
        expect[did] = Expect(outcome, replies)

    for i, a in enumerate(missing_ktp):  # the KTP arrives: complete, acknowledged
        raw = ktp_reply.replace(b"SIKM-2020-000001", a.id.encode())
        raw = re.sub(rb"<ack-[^>]*>", to_applicant[a.id].encode(), raw)
        raw = raw.replace(b"eko.prasetyo@example.com", a.sender_email.encode())
        add(f"B-ktp{i}", raw, "follow_up", ["ack"])
    for i, a in enumerate(rng.sample(others, 15)):
        raw = status_cmd.replace(b"SIKM-2020-000001", a.id.encode())
        raw = re.sub(rb"<ack-[^>]*>", to_applicant[a.id].encode(), raw)
        raw = raw.replace(b"eko.prasetyo@example.com", a.sender_email.encode())
        add(f"B-status{i}", raw, "status_request", ["status"])
    for i, a in enumerate(rng.sample(others, 10)):  # someone else writing about it
        raw = simple_mail(
            subject=f"Re: [{a.id}] Permohonan SIKM",
            sender=f"stranger{i}@example.net",
            body="Ini KTP saya, tolong diproses.",
            attachments=[("ktp.jpg", "image/jpeg", b"\xff\xd8\xff\xe0" + b"0" * 3000)],
        )
        add(f"B-stranger{i}", raw, "held", [])
    for i, m in enumerate(rng.sample(ours, 10)):  # our reply bounced
        add(f"B-bounce{i}", bounce_of(m.message_id, m.to_addr), "ignored", [])
    names = standalone_fixtures()
    while len(mails) < 46:
        name = rng.choice(names)
        car = sidecar(name)
        raw = (FIXTURES / f"{name}.eml").read_bytes()
        add(f"B{len(mails)}-{name}", raw, car["outcome"], [car["reply"]] if car["reply"] else [])
    return mails, expect


def bounce_of(message_id: str, to_addr: str) -> bytes:
    """A delivery status notification for one of our replies."""
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
        "To: sikm@sikm.example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n"
        f"\r\nFinal-Recipient: rfc822; {to_addr}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {message_id}\r\nFrom: sikm@sikm.example.org\r\n"
        "--B--\r\n"
    ).encode()


@dataclass
class KillLog:
    """What the kill loop did."""

    kills: int = 0
    runs: int = 0
    clean_exits: int = 0
    by_mode: Counter = field(default_factory=Counter)
    trace: list[str] = field(default_factory=list)  # per run: mode, target, seconds, done


def kill_until_empty(
    site: Path, box: Dovecot, rng: random.Random, log: KillLog, min_kills: int = 0
) -> None:
    """Start a worker, SIGKILL it at a seeded moment, repeat until INBOX is empty.

    With ``min_kills``, go on (killing workers that resume, send or start up on an
    empty inbox) until that many kills were made in all.
    """
    while box.uids("INBOX") or log.kills < min_kills:
        assert log.runs < 200, "the inbox does not drain"
        mode = rng.choice(["poll", "poll", "poll", "run"])
        worker = Worker(site, mode)
        log.runs += 1
        t0 = time.monotonic()
        target = 0
        if rng.random() < 0.15:  # during start-up: migrations, lease, login, listing
            time.sleep(rng.uniform(0.2, 2.0))
        else:
            target = rng.randint(1, 16)
            worker.wait_progress(target)
            time.sleep(rng.uniform(0.0, 0.12))
        log.trace.append(f"{mode}:{target}:{time.monotonic() - t0:.1f}s:{worker.outcomes}")
        if worker.kill():
            log.kills += 1
            log.by_mode[mode] += 1
        else:
            assert worker.proc.returncode == 0, f"{mode} exited {worker.proc.returncode}"
            log.clean_exits += 1


def test_sigkill_at_random_moments_loses_and_doubles_nothing(
    tmp_path: Path, imap_inbox: Dovecot
) -> None:
    rng = random.Random(drill_seed("crash"))
    started = time.monotonic()
    site = tmp_path / "office"
    cfg = imap_config(site, imap_inbox)
    mails_a, expect_a = phase_a(rng)
    reference = reference_outcomes(
        tmp_path / "reference", {d: m for d, m in mails_a.items() if expect_a[d] is None}
    )
    expect: dict[str, Expect] = {d: e or reference[d] for d, e in expect_a.items()}
    imap_inbox.write_maildir(list(mails_a.values()))
    log = KillLog()
    kill_until_empty(site, imap_inbox, rng, log)

    app = App(load_settings(cfg))
    mails_b, expect_b = phase_b(app, rng)
    expect.update(expect_b)
    for raw in mails_b.values():
        imap_inbox.append(raw)
    kill_until_empty(site, imap_inbox, rng, log, min_kills=MIN_KILLS)

    final = sikm(site, "poll", "--json")
    assert final.returncode == 0, final.stderr
    sent = sikm(site, "send", "--json")
    assert sent.returncode == 0, sent.stderr
    print(
        f"[drill crash] {len(expect)} messages, {log.runs} worker runs, {log.kills} SIGKILLs "
        f"({dict(log.by_mode)}), {log.clean_exits} clean exits, "
        f"{time.monotonic() - started:.0f} s\n  runs: {' '.join(log.trace)}"
    )
    assert len(expect) == 300
    assert log.kills >= MIN_KILLS

    check_ledger_and_replies(app, expect)
    check_outbox_files(app)
    check_sqlite(site / "var" / "sikm.db")
    assert imap_inbox.uids("INBOX") == []
    placed = drill_ids_in(imap_inbox, "Processed") + drill_ids_in(imap_inbox, "Quarantine")
    twice = [d for d, n in Counter(placed).items() if n > 1]
    assert not twice, f"moved more than once: {twice[:10]}"
    assert sorted(placed) == sorted(expect)
    quarantined = set(drill_ids_in(imap_inbox, "Quarantine"))
    assert quarantined == {d for d, e in expect.items() if e.outcome == "quarantined"}


def check_ledger_and_replies(app: App, expect: dict[str, Expect]) -> None:
    """One final ledger row per message, the deserved outcome and replies, no doubles."""
    with Session(app.engine) as s:
        rows = s.exec(select(LedgerEntry).order_by(LedgerEntry.id)).all()
        outbox = s.exec(select(OutboxMessage)).all()
        apps = s.exec(select(Application)).all()
        events = s.exec(select(Event)).all()
    by_drill: dict[str, LedgerEntry] = {}
    for row in rows:
        did = drill_id_of(app.files.get(row.sha256))
        assert did is not None and did not in by_drill, f"ledger row {row.id}: {did} twice"
        by_drill[did] = row
    assert sorted(by_drill) == sorted(expect)
    replies: dict[int, list[str]] = {}
    for m in outbox:
        if m.ledger_id is not None:
            replies.setdefault(m.ledger_id, []).append(m.kind)
    wrong = []
    for did, row in by_drill.items():
        assert row.stage in ("done", "quarantined") and row.moved, (did, row.stage, row.moved)
        assert row.outcome in FINAL_OUTCOMES, (did, row.outcome)
        if row.outcome in ("ignored", "quarantined", "flagged"):
            assert row.reason, (did, row.outcome)
        got = Expect(row.outcome, sorted(replies.get(row.id, [])))
        if got != expect[did]:
            wrong.append((did, got, expect[did], row.reason, row.error))
    assert not wrong, f"{len(wrong)} messages ended wrongly, e.g. {wrong[:5]}"
    # (ledger row, kind) is unique: a due reply was queued exactly once.
    pairs = Counter((m.ledger_id, m.kind) for m in outbox if m.ledger_id is not None)
    assert max(pairs.values()) == 1
    # One application per application mail, numbered without gaps (no lost transaction).
    made = [r.application_id for r in rows if r.outcome == "application"]
    assert len(made) == len(set(made)) == len(apps)
    assert sorted(made) == sorted(a.id for a in apps)
    assert sorted(a.id for a in apps) == [f"SIKM-2020-{n:06d}" for n in range(1, len(apps) + 1)]
    # Guarantor requests (no ledger row of their own): one per entry into awaiting_guarantor,
    # queued or held back by the per-guarantor daily cap (with its event), never both.
    entered = Counter(e.application_id for e in events if e.to_status == "awaiting_guarantor")
    asked = Counter(m.application_id for m in outbox if m.kind == "guarantor_request")
    capped = Counter(
        e.application_id
        for e in events
        if e.action == "reply_suppressed" and e.data.get("kind") == "guarantor_request"
    )
    assert asked + capped == entered and entered and asked
    assert not set(asked) & set(capped)
    # Every queued mail has its mail_out event (same transaction), and no event without mail.
    mail_out = Counter(e.data.get("message_id") for e in events if e.action == "mail_out")
    assert mail_out == Counter(m.message_id for m in outbox)


def check_outbox_files(app: App) -> None:
    """Every reply sent once: one .eml per outbox row, nothing else in the folder."""
    with Session(app.engine) as s:
        outbox = s.exec(select(OutboxMessage)).all()
    assert outbox and all(m.status == "sent" for m in outbox)
    files = sorted(p.name for p in app.outbox_dir.iterdir())
    names = FileTransport(app.outbox_dir)
    assert files == sorted(names.filename(m) for m in outbox)  # no temp file, no extra copy
