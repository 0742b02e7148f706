"""Replies end to end: the fixtures through intake and outbox, Maildir+files and Dovecot+SMTP."""

from __future__ import annotations

import email
import email.policy
import json
from collections import Counter
from pathlib import Path

from sqlmodel import Session, select

from sikm_mailbot.config import load_settings
from sikm_mailbot.store.models import Application, LedgerEntry, OutboxMessage
from sikm_mailbot.wiring import App
from tests.desk_helpers import make_site
from tests.dovecot import Dovecot
from tests.fixture_table import FIXTURES, fixed_clock, fixture_names, raw, sidecar
from tests.mailgen import drop_into_maildir, simple_mail
from tests.smtp_server import Server

DAY = "2020-05-20"


def standalone() -> list[str]:
    """Fixtures that stand alone (follow-ups name a tracking number that is only theirs
    in a fresh store; the fixture table pairs them with their original)."""
    return [n for n in fixture_names() if not sidecar(n).get("follow_up_of")]


def expected_replies() -> Counter:
    """What the sidecars say should be answered: one reply per fixture where one is due."""
    return Counter(sidecar(n)["reply"] for n in standalone() if sidecar(n)["reply"])


def test_make_run_flow_writes_one_sensible_reply_per_fixture(tmp_path: Path) -> None:
    settings = load_settings(None)
    settings.base_dir = tmp_path
    app = App(settings, now=fixed_clock(DAY))
    inbox = tmp_path / "var/mail/inbox"
    for name in standalone():
        drop_into_maildir(inbox, raw(name))
    intake = app.intake()
    report = intake.poll()
    assert report.failed == 0 and report.new == len(standalone())
    flushed = app.send()
    assert flushed.failed == 0
    files = sorted((tmp_path / "var/outbox").glob("*.eml"))
    kinds = Counter()
    for f in files:
        msg = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
        assert msg["Auto-Submitted"] == "auto-replied"
        assert msg["In-Reply-To"] and msg["Message-ID"].endswith("@sikm.example.org>")
        kinds[msg["X-SIKM-Kind"] or _kind_of(app, msg["Message-ID"])] += 1
    guarantor_requests = kinds.pop("guarantor_request", 0)
    assert guarantor_requests == sum(
        1 for n in standalone() if sidecar(n).get("status") == "awaiting_guarantor"
    )
    assert kinds == expected_replies()
    # nothing is left in the inbox and no mail was lost
    assert not list((inbox / "new").iterdir())


def _kind_of(app: App, message_id: str) -> str:
    with Session(app.engine) as s:
        row = s.exec(select(OutboxMessage).where(OutboxMessage.message_id == message_id)).one()
        return row.kind


def imap_smtp_office(tmp_path: Path, box: Dovecot, smtp: Server, outbox_extra: str) -> App:
    """An office reading a real Dovecot and sending through a real SMTP server."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f"[inbox]\nkind='imap'\nhost='{box.host}'\nport={box.port}\n"
        f"security='none'\nusername='{box.user}'\npassword='{box.password}'\n"
        f"[outbox]\nkind='smtp'\nhost='{smtp.host}'\nport={smtp.port}\n"
        f"security='none'\n{outbox_extra}"
    )
    return App(load_settings(cfg), now=fixed_clock(DAY))


def test_dovecot_and_smtp_every_due_reply_arrives_once(
    tmp_path: Path, imap_inbox: Dovecot, smtp_server: Server
) -> None:
    app = imap_smtp_office(tmp_path, imap_inbox, smtp_server, "replies_per_hour=50\n")
    names = standalone()
    for name in names:
        imap_inbox.append(raw(name))
    intake = app.intake()
    assert intake.poll().new == len(names)
    app.send()
    app.send()  # a second flush sends nothing again
    with Session(app.engine) as s:
        queued = s.exec(select(OutboxMessage)).all()
    got = Counter(m.message_id for m in smtp_server.messages)
    assert sorted(got) == sorted(m.message_id for m in queued)
    assert set(got.values()) == {1}
    assert all(m.status == "sent" for m in queued)
    assert imap_inbox.uids("INBOX") == []


def test_real_client_reply_with_references_joins_its_application(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    app_id = site.deliver_fixture("app_missing_ktp")
    doc = site.show(app_id)
    ours = doc["mail"][-1]["message_id"]
    ktp = (FIXTURES / "app_resident_out_single_complete.eml").read_bytes()
    part = next(
        p
        for p in email.message_from_bytes(ktp, policy=email.policy.default).iter_attachments()
        if "ktp" in (p.get_filename() or "").lower()
    )
    reply = simple_mail(
        subject="Re: Berkas belum lengkap",  # the client dropped our tracking number
        sender=doc["applicant_email"],
        body="Ini KTP saya.\n\nPada 20 Mei 2020, SIKM menulis:\n> Dokumen yang belum ada:\n",
        attachments=[(part.get_filename(), part.get_content_type(), part.get_content())],
    )
    reply = reply.replace(
        b"Subject:", f"In-Reply-To: {ours}\r\nReferences: {ours}\r\nSubject:".encode(), 1
    )
    site.deliver(reply)
    site.sikm("poll")
    doc = site.show(app_id)
    assert "ktp" not in doc["missing"]
    assert any(a["kind"] == "ktp" for a in doc["attachments"])
    assert len(site.sikm("list", "--json")) == 1  # no second application


def test_stranger_quoting_a_tracking_number_changes_nothing(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    app_id = site.deliver_fixture("app_missing_ktp")
    before = site.show(app_id)
    site.reply_as(
        "stranger@example.net",
        app_id,
        "Ini KTP saya.",
        [("ktp.jpg", "image/jpeg", b"\xff\xd8\xff\xe0" + b"0" * 2000)],
    )
    after = site.show(app_id)
    assert after["status"] == before["status"] and after["missing"] == before["missing"]
    assert len(after["attachments"]) == len(before["attachments"])
    assert "held_mail" in after["flags"]
    assert after["mail"] == before["mail"]  # the stranger got no answer about it


def test_bounce_of_our_reply_marks_delivery_failed(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    app_id = site.deliver_fixture("app_missing_ktp")
    ours = site.show(app_id)["mail"][-1]["message_id"]
    dsn = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n"
        "To: sikm@sikm.example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn-1@mx.example.com>\r\nAuto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n"
        "\r\nFinal-Recipient: rfc822; nobody@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {ours}\r\nSubject: [{app_id}] Berkas belum lengkap\r\n"
        "--B--\r\n"
    ).encode()
    site.deliver(dsn)
    report = site.sikm("poll", "--json")
    assert report["outcomes"] == {"ignored": 1}
    doc = site.show(app_id)
    assert "delivery_failed" in doc["flags"]
    assert any(h["action"] == "delivery_failed" for h in doc["history"])
    assert len(doc["mail"]) == 1  # never answer a bounce


def test_failed_authentication_marks_sender_unverified(tmp_path: Path) -> None:
    """Our MTA (inbox.trusted_authserv_id) says the From is forged: the file is kept,
    flagged for the officer, and nobody is answered (no backscatter)."""
    site = make_site(tmp_path)
    (tmp_path / "config.toml").write_text(
        "[inbox]\ntrusted_authserv_id = 'mx.sikm.example.org'\n[outbox]\nreplies_per_hour = 50\n"
    )
    raw_mail = (FIXTURES / "app_resident_out_single_complete.eml").read_bytes()
    raw_mail = (
        b"Authentication-Results: mx.sikm.example.org; spf=fail smtp.mailfrom=example.com;"
        b" dkim=none; dmarc=fail header.from=example.com\r\n" + raw_mail
    )
    site.deliver(raw_mail)
    site.sikm("poll")
    (row,) = site.sikm("list", "--json")
    assert "sender_unverified" in row["flags"]
    assert row["status"] == "under_review"  # flagged for the officer, not rejected
    doc = site.show(row["id"])
    assert doc["mail"] == []  # no reply to a sender our MTA says is forged
    assert any(h["action"] == "reply_suppressed" for h in doc["history"])


def test_foreign_authentication_headers_are_claims(tmp_path: Path) -> None:
    """Without a configured authserv-id (the default), a dmarc=fail header is the
    sender's word: it neither flags nor silences anything."""
    site = make_site(tmp_path)
    raw_mail = (FIXTURES / "app_resident_out_single_complete.eml").read_bytes()
    raw_mail = b"Authentication-Results: mx.sikm.example.org; dmarc=fail\r\n" + raw_mail
    raw_mail = b"Received-SPF: fail (forged)\r\n" + raw_mail
    site.deliver(raw_mail)
    site.sikm("poll")
    (row,) = site.sikm("list", "--json")
    assert "sender_unverified" not in row["flags"]
    assert [m["kind"] for m in site.show(row["id"])["mail"]] == ["ack"]


def realmail() -> list[Path]:
    """The shared real-world mail: ../shared/realmail beside the repository."""
    repo = Path(__file__).resolve().parents[1]
    for folder in (repo.parent / "shared/realmail", Path("/work/shared/realmail")):
        if folder.is_dir():
            return sorted(folder.glob("*.eml"))
    return []


def test_realmail_corpus_every_message_gets_an_outcome(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    corpus = realmail()
    assert len(corpus) >= 20
    for path in corpus:
        site.deliver(path.read_bytes())
    report = site.sikm("poll", "--json")
    assert report["failed"] == 0 and report["new"] == len(corpus)
    assert not list((site.inbox / "new").iterdir())
    engine = App(load_settings(site.config)).engine
    with Session(engine) as s:
        rows = s.exec(select(LedgerEntry)).all()
        apps = s.exec(select(Application)).all()
    assert {r.outcome for r in rows} <= {"ignored", "quarantined", "forms_request", "application"}
    assert all(r.reason for r in rows if r.outcome in ("ignored", "quarantined"))
    assert any(
        r.outcome == "ignored" and "bounce" in r.reason or "delivery" in r.reason for r in rows
    )
    assert len(apps) == 0  # none of these is an SIKM application
    json.dumps([r.reason for r in rows])


def test_copy_of_each_reply_in_the_imap_sent_folder(
    tmp_path: Path, imap_inbox: Dovecot, smtp_server: Server
) -> None:
    app = imap_smtp_office(tmp_path, imap_inbox, smtp_server, "sent_folder='Sent'\n")
    imap_inbox.append(raw("app_missing_ktp"))
    app.intake().poll()
    assert app.send().sent == 1
    (copy,) = imap_inbox.folder_messages("Sent")
    sent = smtp_server.messages[0]
    kept = email.message_from_bytes(copy, policy=email.policy.default)
    assert kept["Message-ID"] == sent.message_id
    assert "[SIKM-2020-000001]" in kept["Subject"]


def test_delayed_delivery_report_is_noted_not_alarmed(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    app_id = site.deliver_fixture("app_missing_ktp")
    ours = site.show(app_id)["mail"][-1]["message_id"]
    dsn = (
        "From: MAILER-DAEMON@mx.example.com\r\nTo: sikm@sikm.example.org\r\n"
        "Subject: Delayed Mail (still being retried)\r\nMessage-ID: <dsn-2@mx.example.com>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
        'boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nStill trying.\r\n'
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com"
        "\r\n\r\nFinal-Recipient: rfc822; a@example.com\r\nAction: delayed\r\nStatus: 4.4.1\r\n"
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {ours}\r\n--B--\r\n"
    ).encode()
    site.deliver(dsn)
    site.sikm("poll")
    doc = site.show(app_id)
    assert "delivery_failed" not in doc["flags"]
    assert any(h["action"] == "delivery_report" for h in doc["history"])
