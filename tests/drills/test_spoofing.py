"""Spoofing: a forged From must not move a file, redirect a permit or confirm anything.

One case per row of issue 12's attack table that concerns who may act on a file.
Mail goes through the real intake and CLI (Maildir site); the office MTA's
authserv-id is configured (``inbox.trusted_authserv_id``) as a real desk would, so
its ``Authentication-Results`` count and everyone else's do not. Every refusal has a
genuine counterpart that is accepted, so no check passes vacuously.
"""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path

import pytest
from sqlmodel import Session, select

from sikm_mailbot.config import load_settings
from sikm_mailbot.store.models import LedgerEntry, OutboxMessage
from sikm_mailbot.wiring import App
from tests.desk_helpers import Site, make_site
from tests.drills.common import EVIDENCE, FIXTURES
from tests.mailgen import simple_mail

pytestmark = pytest.mark.drill

OUR_MTA = "mx.sikm.example.org"
ATTACKER = "attacker@evil.example.net"
APPLICANT = "budi.wirawan@example.com"  # app_resident_out_single_complete
GUARANTOR = "dewi.anggraini@rsmitra.example.com"  # app_nonresident_in_work_complete
KTP = ("ktp.jpg", "image/jpeg", b"\xff\xd8\xff\xe0" + b"0" * 2000)
DMARC_FAIL = ("Authentication-Results", f"{OUR_MTA}; spf=fail smtp.mailfrom=x; dmarc=fail")


@pytest.fixture
def site(tmp_path: Path) -> Site:
    s = make_site(tmp_path)
    s.config.write_text(
        f"[inbox]\ntrusted_authserv_id = '{OUR_MTA}'\n[outbox]\nreplies_per_hour = 50\n"
    )
    EVIDENCE.append(tmp_path)
    return s


def ledger(site: Site) -> list[LedgerEntry]:
    with Session(App(load_settings(site.config)).engine) as s:
        return list(s.exec(select(LedgerEntry).order_by(LedgerEntry.id)))


def outbox(site: Site) -> list[OutboxMessage]:
    with Session(App(load_settings(site.config)).engine) as s:
        return list(s.exec(select(OutboxMessage).order_by(OutboxMessage.id)))


def text_of(raw: bytes) -> str:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return "\n".join(p.get_content() for p in msg.walk() if p.get_content_maintype() == "text")


def forged(
    site: Site, sender: str, app_id: str, body: str, *, attachments=(), headers=()
) -> LedgerEntry:
    """A mail claiming to be from ``sender`` about ``app_id``, not a reply to our mail."""
    site.reply_as(sender, app_id, body, attachments, replying=False, headers=[*headers])
    return ledger(site)[-1]


def unchanged(before: dict, after: dict) -> None:
    for key in ("status", "applicant", "applicant_email", "attachments", "missing", "mail"):
        assert after[key] == before[key], key


def test_forged_from_with_tracking_number_and_new_email_is_held(site: Site) -> None:
    app_id = site.deliver_fixture("app_resident_out_single_complete")
    before = site.show(app_id)
    assert before["status"] == "under_review" and before["applicant_email"] == APPLICANT
    row = forged(
        site, APPLICANT, app_id, f"Email: {ATTACKER}\nIni KTP baru saya.", attachments=[KTP]
    )
    assert (row.outcome, row.application_id) == ("held", app_id)
    after = site.show(app_id)
    unchanged(before, after)
    assert "held_mail" in after["flags"]
    # The attacker asks for the status from their own address: nothing about the file.
    site.deliver(simple_mail(subject=f"STATUS {app_id}", sender=ATTACKER, body=""))
    site.sikm("poll")
    assert ATTACKER not in {m.to_addr for m in outbox(site)}
    # The officer approves: the permit goes to the applicant, never to the attacker.
    site.sikm("keys", "init")
    assert site.sikm("approve", app_id, "--json")["status"] == "issued"
    (permit,) = [m for m in outbox(site) if m.kind == "permit"]
    assert permit.to_addr == APPLICANT
    assert {m.to_addr for m in outbox(site)} == {APPLICANT}


def test_the_same_with_our_dmarc_fail_is_held_and_never_answered(site: Site) -> None:
    app_id = site.deliver_fixture("app_resident_out_single_complete")
    before = site.show(app_id)
    row = forged(
        site, APPLICANT, app_id, f"Email: {ATTACKER}", attachments=[KTP], headers=[DMARC_FAIL]
    )
    assert row.outcome == "held" and "dmarc=fail" in row.reason
    unchanged(before, site.show(app_id))
    # Even a real reply to our mail does not bind when our MTA says From is forged.
    site.reply_as(APPLICANT, app_id, f"Email: {ATTACKER}", [KTP], headers=[DMARC_FAIL])
    assert ledger(site)[-1].outcome == "held"
    unchanged(before, site.show(app_id))
    # Control: the applicant's genuine reply joins the file.
    site.reply_as(APPLICANT, app_id, "Tambahan KTP.", [KTP])
    assert ledger(site)[-1].outcome == "follow_up"


def _awaiting_guarantor(site: Site) -> tuple[str, str]:
    app_id = site.deliver_fixture("app_nonresident_in_work_complete")
    assert site.show(app_id)["status"] == "awaiting_guarantor"
    request = site.our_mail_to(app_id, GUARANTOR)
    assert request
    return app_id, request


def _two_from(app_id: str, in_reply_to: str) -> bytes:
    raw = simple_mail(
        subject=f"Re: [{app_id}] Konfirmasi penjamin",
        sender=ATTACKER,
        body="SETUJU",
        in_reply_to=in_reply_to,
    )
    return raw.replace(b"From: ", f"From: Dewi <{GUARANTOR}>\r\nFrom: ".encode(), 1)


def test_forged_setuju_variants_confirm_nothing(site: Site) -> None:
    app_id, request = _awaiting_guarantor(site)
    variants = {
        "no In-Reply-To": [],
        "the attacker's own A-R pass": [
            ("Authentication-Results", "mx.evil.example.net; dmarc=pass; spf=pass")
        ],
        "only Received-SPF fail": [("Received-SPF", "fail (forged) client-ip=192.0.2.1")],
        "our dmarc=fail below a relay's": [
            ("Authentication-Results", "relay.example.net; dmarc=pass"),
            ("Authentication-Results", f"{OUR_MTA}; dmarc=fail"),
        ],
    }
    for label, headers in variants.items():
        row = forged(site, GUARANTOR, app_id, "SETUJU", headers=headers)
        doc = site.show(app_id)
        assert doc["status"] == "awaiting_guarantor", label
        assert "guarantor_confirmed" not in doc["flags"], label
        assert row.outcome == "flagged" and row.reason, label
    # Knowing our request's Message-ID is not enough when our MTA says From is forged…
    site.reply_as(GUARANTOR, app_id, "SETUJU", headers=[DMARC_FAIL])
    assert ledger(site)[-1].outcome == "flagged" and "dmarc=fail" in ledger(site)[-1].reason
    # … and two From: headers are quarantined before anything reads them.
    site.deliver(_two_from(app_id, request))
    site.sikm("poll")
    row = ledger(site)[-1]
    assert row.outcome == "quarantined" and "From: headers" in row.reason
    doc = site.show(app_id)
    assert doc["status"] == "awaiting_guarantor" and "guarantor_unverified" in doc["flags"]
    assert not [m for m in outbox(site) if m.to_addr == ATTACKER]
    # Control: the guarantor's own reply to our request confirms.
    site.reply_as(GUARANTOR, app_id, "SETUJU")
    assert ledger(site)[-1].outcome == "guarantor_answer"
    assert "guarantor_confirmed" in site.show(app_id)["flags"]


def test_forged_tolak_after_confirmation_rejects_nothing(site: Site) -> None:
    app_id, _ = _awaiting_guarantor(site)
    site.reply_as(GUARANTOR, app_id, "SETUJU")
    assert site.show(app_id)["status"] == "under_review"
    before = len(outbox(site))
    row = forged(site, GUARANTOR, app_id, "TOLAK. Saya tidak kenal orang ini.")
    assert row.outcome == "flagged"
    doc = site.show(app_id)
    assert doc["status"] == "under_review" and "guarantor_confirmed" in doc["flags"]
    assert len(outbox(site)) == before  # the applicant is not told anything
    # Control: the guarantor withdrawing by replying to our request is taken.
    site.reply_as(GUARANTOR, app_id, "TOLAK")
    assert site.show(app_id)["status"] == "rejected"


def _with_purpose(raw: bytes, purpose: str) -> bytes:
    """The fixture with its form's purpose replaced (same length: the PDF stays valid)."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    old = b"Penugasan sebagai perawat di RS Mitra Sehat Jakarta Pusat"
    new = purpose.encode().ljust(len(old))[: len(old)]
    for part in msg.iter_attachments():
        if part.get_filename() == "formulir-permohonan-sikm.pdf":
            data = part.get_content()
            assert old in data
            part.set_content(
                data.replace(old, new),
                maintype="application",
                subtype="pdf",
                filename=part.get_filename(),
            )
    return msg.as_bytes(policy=email.policy.SMTP)


def test_twenty_applications_naming_one_guarantor_with_a_link(site: Site) -> None:
    purpose = "Kerja, daftar di https://evil.example.net/x <b>klik</b>"
    base = _with_purpose((FIXTURES / "app_nonresident_in_work_complete.eml").read_bytes(), purpose)
    for n in range(20):
        site.deliver(
            re.sub(
                rb"(?im)^Message-ID:[^\r\n]*",
                f"Message-ID: <g{n}@example.com>".encode(),
                base,
                count=1,
            )
        )
    site.sikm("poll")
    apps = site.sikm("list", "--json")
    assert len(apps) == 20
    to_guarantor = [m for m in outbox(site) if m.to_addr == GUARANTOR]
    assert len(to_guarantor) == 5  # outbox.guarantor_mails_per_day
    for mail in to_guarantor:
        body = text_of(mail.raw)
        assert "evil.example" not in body and "https://" not in body and "<b>" not in body
        assert "[tautan dihapus / link removed]" in body
    held = [a for a in apps if "guarantor_mail_held" in site.show(a["id"])["flags"]]
    assert len(held) == 15


def test_twenty_forged_mentions_of_sikm_get_no_reply(site: Site) -> None:
    for n in range(20):
        site.deliver(
            simple_mail(
                subject="Tanya SIKM",
                sender=f"korban{n}@example.org",
                body="Bagaimana cara membuat SIKM?",
                headers=[DMARC_FAIL],
            )
        )
    site.sikm("poll")
    rows = ledger(site)
    assert len(rows) == 20 and outbox(site) == []
    assert all("not answered: sender authentication failed" in r.reason for r in rows)
    # Control: the same question, not failing authentication, gets the forms.
    site.deliver(simple_mail(subject="Tanya SIKM", sender="warga@example.org", body="SIKM?"))
    site.sikm("poll")
    assert [m.kind for m in outbox(site)] == ["forms"]


def test_form_email_naming_a_third_party_gets_no_decision_mail(site: Site) -> None:
    sender = "kakak.budi@example.org"  # writes for Budi; the form names Budi's address
    raw = (FIXTURES / "app_resident_out_single_complete.eml").read_bytes()
    raw = re.sub(rb"(?m)^From:[^\r\n]*", f"From: Kakak <{sender}>".encode(), raw, count=1)
    site.deliver(raw)
    site.sikm("poll")
    (row,) = site.sikm("list", "--json")
    doc = site.show(row["id"])
    assert doc["applicant_email"] == sender and doc["applicant"]["email"] == APPLICANT
    assert "form_email_differs" in doc["flags"]
    site.sikm("reject", row["id"], "--reason", "other", "--note", "Data tidak cocok.")
    assert {(m.kind, m.to_addr) for m in outbox(site)} == {("ack", sender), ("rejection", sender)}
