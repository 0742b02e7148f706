"""The outbox against real SMTP servers on loopback (aiosmtpd and a raw socket server)."""

from __future__ import annotations

import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlmodel import Session, SQLModel, create_engine, select

from sikm_mailbot.config import OfficeSettings, OutboxSettings, Settings
from sikm_mailbot.outbox.compose import MailDetails, PermitFacts
from sikm_mailbot.outbox.flush import flush, retry_delay
from sikm_mailbot.outbox.notify import Notice, OutgoingFile, Threading, notify
from sikm_mailbot.outbox.queue import new_message_id, retry_failed
from sikm_mailbot.outbox.transports import FileTransport, SmtpTransport
from sikm_mailbot.store.models import Application, Event, OutboxMessage
from tests.smtp_server import (  # noqa: F401 - fixtures
    dropping_smtp_server,
    flaky_smtp_server,
    greylisting_smtp_server,
    rejecting_smtp_server,
    smtp_server,
    tls_smtp_server,
)

OFFICE = OfficeSettings()
T0 = datetime(2020, 5, 22, 3, 0, tzinfo=UTC)
CITIZEN_MSGID = "<abc123@mail.example.com>"


def naive(value: datetime) -> datetime:
    """UTC without tzinfo: the store may hand datetimes back either way."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = T0) -> None:
        self.t = start

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **kw: float) -> None:
        self.t += timedelta(**kw)


@pytest.fixture
def factory(tmp_path: Path) -> Callable[[], Session]:
    engine = create_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    SQLModel.metadata.create_all(engine)
    with Session(engine) as s:
        s.add(
            Application(
                id="SIKM-2020-000123",
                status="under_review",
                category="resident_out",
                trip_type="single",
                applicant_email="budi@example.com",
                fields={"nama": "Budi Santoso", "tanggal_berangkat": "25-05-2020"},
                due_at=datetime(2020, 5, 26, 3, tzinfo=UTC),
            )
        )
        s.commit()
    return lambda: Session(engine)


def office(outbox: OutboxSettings) -> Settings:
    """The settings notify reads: this outbox, the test office."""
    return Settings(office=OFFICE, outbox=outbox)


def smtp_settings(server, **kw) -> OutboxSettings:  # noqa: ANN001
    base = dict(
        kind="smtp",
        host=server.host,
        port=server.port,
        security="none",
        timeout=5,
        retry_base_seconds=60,
    )
    base.update(kw)
    return OutboxSettings(**base)


def queue(
    factory: Callable[[], Session],
    settings: OutboxSettings,
    n: int = 1,
    to: str = "budi@example.com",
    kind: str = "ack",
    now: datetime = T0,
    **kw,
) -> list[str]:
    """Queue n replies (committed); return their Message-IDs."""
    ids = []
    with factory() as s:
        app = s.get(Application, "SIKM-2020-000123")
        for _ in range(n):
            notice = Notice(
                kind=kind, to=to, application=app, thread=Threading(CITIZEN_MSGID), **kw
            )
            msg = notify(s, notice, office(settings), now=now)
            assert msg is not None
            ids.append(msg.message_id)
        s.commit()
    return ids


def rows(factory: Callable[[], Session]) -> list[OutboxMessage]:
    with factory() as s:
        return list(s.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def events(factory: Callable[[], Session], action: str) -> list[Event]:
    with factory() as s:
        return list(s.exec(select(Event).where(Event.action == action)).all())


# ------------------------------------------------------------------ notify


def test_message_id_is_unique_and_uses_office_domain() -> None:
    a, b = new_message_id(OFFICE), new_message_id(OFFICE)
    assert a != b
    assert a.startswith("<") and a.endswith("@sikm.example.org>")


def test_notify_builds_full_message_and_does_not_commit(factory) -> None:
    settings = office(OutboxSettings())
    with factory() as s:
        app = s.get(Application, "SIKM-2020-000123")
        notice = Notice(
            kind="permit",
            to="Budi Santoso <budi@EXAMPLE.com>",
            application=app,
            thread=Threading.answering(
                CITIZEN_MSGID,
                ["<first@mail.example.com>", "garbage\r\nBcc: evil@example.net"],
            ),
            details=MailDetails(permit=PermitFacts("SIKM/2020/0001")),
            attachments=(
                OutgoingFile("SIKM-2020-000123.pdf", "application/pdf", b"%PDF-1.7 test"),
            ),
        )
        msg = notify(s, notice, settings, now=T0)
        assert msg is not None
        parsed = message_from_bytes(msg.raw, policy=policy.default)
        assert parsed["Message-ID"] == msg.message_id
        assert parsed["To"] == "budi@example.com"  # one bare address, domain lower-cased
        assert "Bcc" not in parsed
        assert parsed["In-Reply-To"] == CITIZEN_MSGID
        assert parsed["References"].split() == ["<first@mail.example.com>", CITIZEN_MSGID]
        assert parsed["Auto-Submitted"] == "auto-replied"
        assert parsed["X-Auto-Response-Suppress"] == "All"
        assert "Precedence" not in parsed
        assert "[SIKM-2020-000123]" in parsed["Subject"]
        assert parsed["From"].addresses[0].addr_spec == OFFICE.address
        assert parsed.get_content_type() == "multipart/mixed"
        assert parsed.get_body(("plain",)).get_content().startswith("Yth. Budi Santoso")
        assert "<html" in parsed.get_body(("html",)).get_content()
        (att,) = list(parsed.iter_attachments())
        assert att.get_filename() == "SIKM-2020-000123.pdf"
        assert att.get_content() == b"%PDF-1.7 test"
        assert max(msg.raw) < 128 and b"\r\n" in msg.raw  # 7-bit wire form
        assert [e.action for e in s.new if isinstance(e, Event)] == ["mail_out"]
        s.rollback()  # the caller's transaction fails: nothing may remain
    assert rows(factory) == []
    assert events(factory, "mail_out") == []


def test_no_attachment_gives_multipart_alternative_and_references_are_capped(factory) -> None:
    refs = [f"<r{i}@mail.example.com>" for i in range(30)]
    with factory() as s:
        notice = Notice(
            kind="not_understood",
            to="someone@example.net",
            thread=Threading.answering(CITIZEN_MSGID, refs),
        )
        msg = notify(s, notice, office(OutboxSettings()), now=T0)
        parsed = message_from_bytes(msg.raw, policy=policy.default)
        got = parsed["References"].split()
        assert parsed.get_content_type() == "multipart/alternative"
        assert len(got) == 10 and got[0] == "<r0@mail.example.com>" and got[-1] == CITIZEN_MSGID


def test_mail_not_answering_anything_is_auto_generated(factory) -> None:
    with factory() as s:
        notice = Notice(
            kind="guarantor_reminder",
            to="penjamin@example.org",
            application=s.get(Application, "SIKM-2020-000123"),
        )
        msg = notify(s, notice, office(OutboxSettings()), now=T0)
        parsed = message_from_bytes(msg.raw, policy=policy.default)
        assert parsed["Auto-Submitted"] == "auto-generated"
        assert "In-Reply-To" not in parsed


@pytest.mark.parametrize("bad", ["", "a@example.com, b@example.com", "no-at-sign", "x@\nBcc: y"])
def test_bad_recipient_is_suppressed_with_event(factory, bad: str) -> None:
    with factory() as s:
        notice = Notice(kind="ack", to=bad, application=s.get(Application, "SIKM-2020-000123"))
        out = notify(s, notice, office(OutboxSettings()), now=T0)
        assert out is None
        s.commit()
    assert rows(factory) == []
    assert "no single valid recipient" in events(factory, "reply_suppressed")[0].detail


def test_per_recipient_rate_limit(factory) -> None:
    settings = OutboxSettings(replies_per_hour=3)
    queue(factory, settings, n=3, to="budi@example.com", now=T0)
    with factory() as s:
        app = s.get(Application, "SIKM-2020-000123")

        def send(kind: str, to: str, now: datetime) -> OutboxMessage | None:
            return notify(s, Notice(kind=kind, to=to, application=app), office(settings), now=now)

        later = T0 + timedelta(minutes=59)
        # Case differences do not get around the cap.
        assert send("status", "BUDI@example.com", later) is None
        # Another person is not affected; decisions are never capped.
        assert send("ack", "siti@example.com", later)
        assert send("permit", "budi@example.com", later)
        # An hour after the burst only the permit is in the window: 1 < 3.
        hour = T0 + timedelta(minutes=61)
        assert send("status", "budi@example.com", hour)
        s.commit()
    (ev,) = events(factory, "reply_suppressed")
    assert ev.detail.startswith("rate limit") and ev.application_id == "SIKM-2020-000123"
    assert len(rows(factory)) == 6


# ------------------------------------------------------------------ file transport


def test_file_transport_writes_once_with_private_modes(factory, tmp_path: Path) -> None:
    settings = OutboxSettings(path=tmp_path / "out")
    (mid,) = queue(factory, settings)
    transport = FileTransport(tmp_path / "out")
    report = flush(factory, settings, transport, now=Clock())
    assert (report.sent, report.remaining) == (1, 0)
    files = list((tmp_path / "out").iterdir())
    assert len(files) == 1 and files[0].name.endswith(".eml")
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o700
    assert message_from_bytes(files[0].read_bytes())["Message-ID"] == mid
    # Sending the same row again (a crash before commit) writes nothing new.
    (row,) = rows(factory)
    transport.send(row)
    assert len(list((tmp_path / "out").iterdir())) == 1
    assert flush(factory, settings, transport, now=Clock()).sent == 0
    assert row.status == "sent" and row.sent_at is not None
    assert len(events(factory, "mail_sent")) == 1


# ------------------------------------------------------------------ SMTP


def test_plain_smtp_delivery_and_sent_copy(factory, smtp_server) -> None:  # noqa: F811
    settings = smtp_settings(smtp_server)
    ids = queue(factory, settings, n=2)
    copies: list[bytes] = []

    def broken_copy(raw: bytes) -> None:
        copies.append(raw)
        raise OSError("IMAP down")  # must not undo the sending

    report = flush(factory, settings, SmtpTransport(settings), now=Clock(), imap_sent=broken_copy)
    assert report.sent == 2 and report.remaining == 0
    assert [m.message_id for m in smtp_server.messages] == ids
    assert all(m.mail_from == OFFICE.address for m in smtp_server.messages)
    assert all(m.rcpt_tos == ["budi@example.com"] for m in smtp_server.messages)
    assert [r.raw for r in rows(factory)] == copies
    # Bytes on the wire are exactly the stored bytes.
    assert smtp_server.messages[0].data.replace(b"\r\n", b"\n") == rows(factory)[0].raw.replace(
        b"\r\n", b"\n"
    )
    # A second flush sends nothing again.
    assert flush(factory, settings, SmtpTransport(settings), now=Clock()).sent == 0
    assert len(smtp_server.messages) == 2


def test_421_then_recovery_every_reply_exactly_once(factory, flaky_smtp_server) -> None:  # noqa: F811
    settings = smtp_settings(flaky_smtp_server)
    ids = queue(factory, settings, n=3)
    clock = Clock()
    first = flush(factory, settings, SmtpTransport(settings), now=clock)
    # 421 closes the channel: that message is rescheduled and the batch stops.
    assert (first.sent, first.retried, first.failed, first.remaining) == (0, 1, 0, 3)
    r = rows(factory)[0]
    assert r.attempts == 1 and r.last_error.startswith("421")
    assert naive(r.next_attempt_at) == naive(T0 + timedelta(seconds=60))
    for _ in range(10):
        clock.advance(minutes=10)
        if flush(factory, settings, SmtpTransport(settings), now=clock).remaining == 0:
            break
    assert sorted(m.message_id for m in flaky_smtp_server.messages) == sorted(ids)
    assert len(flaky_smtp_server.messages) == 3
    assert all(r.status == "sent" for r in rows(factory))
    assert len(events(factory, "mail_sent")) == 3


def test_451_greylisting_retries_with_backoff(factory, greylisting_smtp_server) -> None:  # noqa: F811
    settings = smtp_settings(greylisting_smtp_server)
    (mid,) = queue(factory, settings)
    clock = Clock()
    assert flush(factory, settings, SmtpTransport(settings), now=clock).retried == 1
    # Not due yet: nothing is tried.
    clock.advance(seconds=30)
    assert flush(factory, settings, SmtpTransport(settings), now=clock).retried == 0
    clock.advance(seconds=30)
    assert flush(factory, settings, SmtpTransport(settings), now=clock).retried == 1
    (r,) = rows(factory)
    assert r.attempts == 2 and "451 4.7.1 Greylisted" in r.last_error
    assert naive(r.next_attempt_at) == naive(clock() + timedelta(seconds=120))
    clock.advance(seconds=120)
    assert flush(factory, settings, SmtpTransport(settings), now=clock).sent == 1
    assert [m.message_id for m in greylisting_smtp_server.messages] == [mid]


def test_retry_delay_doubles_and_is_capped() -> None:
    s = OutboxSettings(retry_base_seconds=60)
    assert [retry_delay(s, n).total_seconds() for n in (1, 2, 3)] == [60, 120, 240]
    assert retry_delay(s, 30) == timedelta(hours=6)


def test_550_fails_with_server_words_and_officer_event(factory, rejecting_smtp_server) -> None:  # noqa: F811
    settings = smtp_settings(rejecting_smtp_server)
    queue(factory, settings)
    report = flush(factory, settings, SmtpTransport(settings), now=Clock())
    assert (report.sent, report.failed, report.remaining) == (0, 1, 0)
    (r,) = rows(factory)
    assert r.status == "failed"
    assert r.last_error == "550 5.1.1 Recipient address rejected: User unknown"
    (ev,) = events(factory, "delivery_failed")
    assert ev.application_id == "SIKM-2020-000123" and "User unknown" in ev.detail
    # Failed stays failed until an officer asks again.
    assert flush(factory, settings, SmtpTransport(settings), now=Clock()).failed == 0
    with factory() as s:
        assert retry_failed(s, r.message_id, now=T0, actor="officer1") is not None
        s.commit()
    assert rows(factory)[0].status == "queued"
    assert events(factory, "mail_requeued")[0].actor == "officer1"


def test_gives_up_after_max_attempts(factory, greylisting_smtp_server) -> None:  # noqa: F811
    settings = smtp_settings(greylisting_smtp_server, max_attempts=2)
    queue(factory, settings)
    clock = Clock()
    flush(factory, settings, SmtpTransport(settings), now=clock)
    clock.advance(hours=1)
    report = flush(factory, settings, SmtpTransport(settings), now=clock)
    assert report.failed == 1
    (r,) = rows(factory)
    assert r.status == "failed" and r.attempts == 2 and "gave up" in r.last_error
    assert len(events(factory, "delivery_failed")) == 1


def test_drop_after_data_is_retried_and_recognisable(factory, dropping_smtp_server) -> None:  # noqa: F811
    settings = smtp_settings(dropping_smtp_server)
    (mid,) = queue(factory, settings)
    clock = Clock()
    first = flush(factory, settings, SmtpTransport(settings), now=clock)
    assert first.retried == 1 and first.sent == 0
    assert "connection lost" in rows(factory)[0].last_error
    clock.advance(minutes=5)
    assert flush(factory, settings, SmtpTransport(settings), now=clock).sent == 1
    # The server got it twice (it cannot be known whether the first went through),
    # both with the same fixed Message-ID, so the duplicate is recognisable.
    assert [m.message_id for m in dropping_smtp_server.messages] == [mid, mid]
    (r,) = rows(factory)
    assert r.status == "sent" and r.attempts == 2


def test_connection_refused_stops_batch(factory) -> None:
    from tests.smtp_server import free_port

    settings = OutboxSettings(
        kind="smtp", host="127.0.0.1", port=free_port(), security="none", timeout=2
    )
    queue(factory, settings, n=3)
    report = flush(factory, settings, SmtpTransport(settings), now=Clock())
    assert (report.retried, report.remaining) == (1, 3)
    assert [r.attempts for r in rows(factory)] == [1, 0, 0]
    assert "cannot connect" in rows(factory)[0].last_error


def test_starttls_and_login(factory, tls_smtp_server) -> None:  # noqa: F811
    srv = tls_smtp_server
    good = smtp_settings(
        srv,
        security="starttls",
        ca_file=srv.ca_file,
        username=srv.username,
        password=srv.password,
    )
    (mid,) = queue(factory, good)
    # Wrong password: login refused, message kept for later.
    wrong = good.model_copy(update={"password": "nope"})
    r1 = flush(factory, wrong, SmtpTransport(wrong), now=Clock())
    assert r1.retried == 1 and "login refused" in rows(factory)[0].last_error
    # Certificate not trusted (no ca_file): verification fails, nothing sent.
    untrusted = good.model_copy(update={"ca_file": None})
    clock = Clock(T0 + timedelta(hours=1))
    assert flush(factory, untrusted, SmtpTransport(untrusted), now=clock).retried == 1
    assert "certificate" in rows(factory)[0].last_error.lower()
    assert srv.messages == []
    clock.advance(hours=1)
    assert flush(factory, good, SmtpTransport(good), now=clock).sent == 1
    assert [m.message_id for m in srv.messages] == [mid]
