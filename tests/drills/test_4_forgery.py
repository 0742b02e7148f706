"""Forgery and mischief: strangers, wrong guarantors, forged and replayed permits.

Mail goes through the real intake and CLI (Maildir site); permits through `sikm
verify` with real keys. Every attempt must be refused *and* leave a trace: a ledger
reason and an audit event for mail, a reason code and exit status 1 for permits. Each
refusal has a genuine counterpart that is accepted, so no check passes vacuously.
"""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from sikm_mailbot.config import load_settings
from sikm_mailbot.permits.issue import IssuedPermit, PermitIssuer
from sikm_mailbot.store.models import Application, Event, LedgerEntry, OutboxMessage
from sikm_mailbot.wiring import App
from tests.desk_helpers import Site, make_site
from tests.drills.common import EVIDENCE
from tests.mailgen import simple_mail
from tests.test_permit_issue import TODAY, add_application, cli, open_app, write_config

pytestmark = pytest.mark.drill

GUARANTOR = "dewi.anggraini@rsmitra.example.com"  # app_nonresident_in_work_complete
APPLICANT = "rudi.hartono@example.net"


def last_ledger(site: Site) -> LedgerEntry:
    engine = App(load_settings(site.config)).engine
    with Session(engine) as s:
        return s.exec(select(LedgerEntry).order_by(LedgerEntry.id.desc())).first()


def events(site: Site, app_id: str, action: str) -> list[Event]:
    engine = App(load_settings(site.config)).engine
    with Session(engine) as s:
        return list(
            s.exec(select(Event).where(Event.application_id == app_id, Event.action == action))
        )


def replies_to(site: Site, address: str) -> list[OutboxMessage]:
    engine = App(load_settings(site.config)).engine
    with Session(engine) as s:
        return list(s.exec(select(OutboxMessage).where(OutboxMessage.to_addr == address)))


def text_of(raw: bytes) -> str:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return "\n".join(p.get_content() for p in msg.walk() if p.get_content_maintype() == "text")


def unchanged(before: dict, after: dict) -> None:
    for key in ("status", "applicant", "applicant_email", "attachments", "missing", "mail"):
        assert after[key] == before[key], key


@pytest.fixture
def site(tmp_path: Path) -> Site:
    s = make_site(tmp_path)
    EVIDENCE.append(tmp_path)
    return s


def test_stranger_quoting_a_tracking_number_is_refused_and_recorded(site: Site) -> None:
    app_id = site.deliver_fixture("app_missing_ktp")
    before = site.show(app_id)
    # A hijack attempt: the missing KTP plus typed fields that would redirect the permit.
    site.reply_as(
        "stranger@example.net",
        app_id,
        "Nama Lengkap: ORANG LAIN\nNIK: 3171012345670001\nEmail: stranger@example.net\n"
        "Ini KTP saya.",
        [("ktp.jpg", "image/jpeg", b"\xff\xd8\xff\xe0" + b"0" * 2000)],
    )
    row = last_ledger(site)
    assert (row.outcome, row.application_id) == ("held", app_id)
    assert "not the applicant" in row.reason
    after = site.show(app_id)
    unchanged(before, after)
    assert "held_mail" in after["flags"]
    (flag,) = events(site, app_id, "mail_held")
    assert flag.ledger_id == row.id
    assert replies_to(site, "stranger@example.net") == []

    # A stranger asking for the status learns nothing about the file.
    site.deliver(simple_mail(subject=f"STATUS {app_id}", sender="curious@example.net", body=""))
    site.sikm("poll")
    row = last_ledger(site)
    assert row.outcome in ("ignored", "status_request") and row.reason
    for answer in replies_to(site, "curious@example.net"):
        assert answer.kind == "not_understood"
        body = text_of(answer.raw)
        assert before["applicant"]["nama"] not in body and before["name"] not in body
        assert before["applicant"]["nik"][-4:] not in body
    unchanged(before, site.show(app_id))

    # Control: the applicant's own follow-up is merged.
    site.reply_as(before["applicant_email"], app_id, "Ini KTP saya.", [])
    assert last_ledger(site).outcome == "follow_up"


def test_guarantor_answer_from_the_wrong_address_is_refused(site: Site) -> None:
    app_id = site.deliver_fixture("app_nonresident_in_work_complete")
    assert site.show(app_id)["status"] == "awaiting_guarantor"
    attempts = [
        ("stranger", "stranger@example.net"),
        ("applicant", APPLICANT),  # the applicant confirming for the guarantor
        ("look-alike", "dewi.anggraini@rsmitra.example.com.evil.example.net"),
    ]
    for label, sender in attempts:
        site.reply_as(sender, app_id, "SETUJU")
        row = last_ledger(site)
        doc = site.show(app_id)
        assert doc["status"] == "awaiting_guarantor", label
        assert "guarantor_confirmed" not in doc["flags"], label
        assert row.outcome in ("held", "follow_up") and row.application_id == app_id, label
        if row.outcome == "held":
            assert row.reason, label
    # A display name that looks like the guarantor's address does not make it theirs.
    raw = simple_mail(subject=f"Re: [{app_id}] Permohonan SIKM", sender="attacker@example.net")
    raw = raw.replace(b"From: Warga", f'From: "{GUARANTOR}" Warga'.encode(), 1)
    site.deliver(raw.replace(b"Selamat pagi, berikut permohonan saya.", b"SETUJU"))
    site.sikm("poll")
    assert site.show(app_id)["status"] == "awaiting_guarantor"
    assert len(events(site, app_id, "mail_held")) >= 3
    # Control: the guarantor's own SETUJU is accepted.
    site.reply_as(GUARANTOR, app_id, "SETUJU")
    assert last_ledger(site).outcome == "guarantor_answer"
    assert site.show(app_id)["status"] == "under_review"


def test_guarantor_answer_with_failed_authentication_is_not_taken(site: Site) -> None:
    """A forged From (our MX stamped spf/dmarc=fail) does not confirm anything, even
    replying to our request (inbox.trusted_authserv_id names our MX)."""
    site.config.write_text(
        "[inbox]\ntrusted_authserv_id = 'mx.sikm.example.org'\n[outbox]\nreplies_per_hour = 50\n"
    )
    app_id = site.deliver_fixture("app_nonresident_in_work_complete")
    request = site.our_mail_to(app_id, GUARANTOR)
    raw = simple_mail(
        subject=f"Re: [{app_id}] Permohonan SIKM",
        sender=GUARANTOR,
        body="SETUJU",
        in_reply_to=request,
    )
    forged = (
        b"Authentication-Results: mx.sikm.example.org; spf=fail smtp.mailfrom=evil.example.net;"
        b" dkim=none; dmarc=fail header.from=rsmitra.example.com\r\n" + raw
    )
    site.deliver(forged)
    site.sikm("poll")
    doc = site.show(app_id)
    assert doc["status"] == "awaiting_guarantor"
    assert "guarantor_confirmed" not in doc["flags"]
    row = last_ledger(site)
    assert row.outcome == "flagged" and "dmarc=fail" in row.reason
    # Control: the same answer with passing checks is taken.
    site.deliver(
        simple_mail(
            subject=f"Re: [{app_id}] Permohonan SIKM",
            sender=GUARANTOR,
            body="SETUJU",
            in_reply_to=request,
        )
    )
    site.sikm("poll")
    assert site.show(app_id)["status"] == "under_review"


# ---------------------------------------------------------------------------- permits


@pytest.fixture(scope="module")
def offices(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two offices with their own key stores; each issued a permit."""
    paths = []
    for name in ("office-a", "office-b"):
        cfg = write_config(tmp_path_factory.mktemp(name))
        assert cli(cfg, "keys", "init").exit_code == 0
        app = open_app(cfg)
        for n in (1, 2):
            add_application(app, f"SIKM-2020-00090{n}")
        EVIDENCE.append(cfg.parent)
        paths.append(cfg)
    return paths[0], paths[1]


def issue_permit(app: App, app_id: str) -> IssuedPermit:
    """Issue and commit a permit now (the real clock: the keys were made moments ago)."""
    with Session(app.engine, expire_on_commit=False) as s:
        application = s.get(Application, app_id)
        assert application is not None
        issued = PermitIssuer(app.settings, app.files).issue(
            s, application, datetime.now(UTC), "Officer Test"
        )
        s.commit()
    return issued


def verify(cfg: Path, target: str, **env: str) -> tuple[int, dict]:
    result = cli(cfg, "verify", "--json", target, env=env or None)
    assert result.exit_code in (0, 1), result.stderr
    if result.exit_code == 1:
        assert result.stderr.count("\n") == 1  # one line saying why
    return result.exit_code, json.loads(result.stdout)


def test_forged_altered_and_replayed_permits_are_refused(offices: tuple[Path, Path]) -> None:
    cfg_a, cfg_b = offices
    app_a, app_b = open_app(cfg_a), open_app(cfg_b)
    genuine = issue_permit(app_a, "SIKM-2020-000901")
    foreign = issue_permit(app_b, "SIKM-2020-000901")  # same number, another office's keys
    pdf = cfg_a.parent / genuine.filename
    pdf.write_bytes(genuine.pdf)
    code, doc = verify(cfg_a, str(pdf))
    assert code == 0, doc  # control: the genuine permit is valid
    assert verify(cfg_a, genuine.token)[0] == 0

    refused: dict[str, str] = {}
    # A permit made with another key store (a forger's own keys).
    foreign_pdf = cfg_a.parent / "forged.pdf"
    foreign_pdf.write_bytes(foreign.pdf)
    for label, target in (("foreign pdf", str(foreign_pdf)), ("foreign token", foreign.token)):
        code, doc = verify(cfg_a, target)
        assert code == 1 and not doc["valid"], label
        refused[label] = doc["reason_code"]
    # One altered byte: in the PDF's signed content, and in the token.
    data = bytearray(genuine.pdf)
    data[data.index(genuine.number.encode())] ^= 0x01
    altered = cfg_a.parent / "altered.pdf"
    altered.write_bytes(bytes(data))
    code, doc = verify(cfg_a, str(altered))
    assert code == 1
    refused["altered pdf"] = doc["reason_code"]
    mid = len(genuine.token) // 2
    flipped = genuine.token[:mid] + ("B" if genuine.token[mid] == "A" else "A")
    flipped += genuine.token[mid + 1 :]
    code, doc = verify(cfg_a, flipped)
    assert code == 1 and doc["holder"] is None
    refused["altered token"] = doc["reason_code"]
    # Replays: a revoked permit, and a permit past its last day.
    revoked = issue_permit(app_a, "SIKM-2020-000902")
    assert cli(cfg_a, "revoke", revoked.number, "--reason", "data palsu").exit_code == 0
    code, doc = verify(cfg_a, revoked.token)
    assert code == 1
    refused["revoked"] = doc["reason_code"]
    later = f"{(genuine.valid_until + timedelta(days=2)).isoformat()}T09:00:00+07:00"
    code, doc = verify(cfg_a, genuine.token, SIKM_NOW=later)
    assert code == 1
    refused["expired"] = doc["reason_code"]
    print(f"[drill forgery] permits refused: {refused}")
    assert refused["revoked"] == "revoked" and refused["expired"] == "expired"
    assert refused["altered pdf"] == "pdf_signature"
    assert refused["foreign pdf"] != "ok" and refused["foreign token"] != "ok"
    assert genuine.valid_until >= TODAY
    with Session(app_a.engine) as s:
        recorded = s.exec(select(Event).where(Event.action == "permit_revoked")).all()
    assert [e.data["permit"] for e in recorded] == [revoked.number]
