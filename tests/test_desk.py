"""The officer's desk through the real CLI against a real database."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import Session, select

from sikm_mailbot.config import load_settings
from sikm_mailbot.desk.decisions import REJECTION_CODES
from sikm_mailbot.store.models import Application, Event, OutboxMessage
from sikm_mailbot.wiring import App
from tests.desk_helpers import Site, make_site

COMPLETE = {
    "resident_out": "app_resident_out_single_complete",
    "nonresident_in": "app_nonresident_in_work_complete",
    "dki_ktp_outside": "app_dki_ktp_outside_forwarded",
    "urgent": "app_urgent_death_complete",
}


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return make_site(tmp_path)


def mails(site: Site, app_id: str) -> list[OutboxMessage]:
    engine = App(load_settings(site.config)).engine
    with Session(engine) as s:
        return list(
            s.exec(
                select(OutboxMessage)
                .where(OutboxMessage.application_id == app_id)
                .order_by(OutboxMessage.id)
            )
        )


def test_reject_for_each_reason_tells_the_applicant(site: Site) -> None:
    for reason in REJECTION_CODES:
        app_id = site.deliver_fixture(COMPLETE["resident_out"])
        assert site.show(app_id)["status"] == "under_review"
        args = ["reject", app_id, "--reason", reason]
        if reason == "other":
            args += ["--note", "Surat tugas sudah kedaluwarsa."]
        doc = site.sikm(*args, "--json")
        assert doc["status"] == "rejected" and doc["decision_reason"] == reason
        assert doc["decided_by"] == "Officer Test"
        last = [h for h in doc["history"] if h["to_status"]][-1]
        assert (last["actor"], last["to_status"]) == ("Officer Test", "rejected")
        rejection = [m for m in mails(site, app_id) if m.kind == "rejection"]
        assert len(rejection) == 1 and rejection[0].to_addr == doc["applicant_email"]


def test_reject_other_needs_a_note_and_unknown_reason_is_usage_error(site: Site) -> None:
    app_id = site.deliver_fixture(COMPLETE["resident_out"])
    result = site.sikm("reject", app_id, "--reason", "other", expect=2)
    assert "needs a note" in result.stderr and "--note" in result.stderr  # the flag to fix
    site.sikm("reject", app_id, "--reason", "looks_fishy", expect=2)
    assert site.show(app_id)["status"] == "under_review"


def test_request_docs_then_complete_by_reply(site: Site) -> None:
    app_id = site.deliver_fixture(COMPLETE["urgent"])
    doc = site.sikm(
        "request-docs",
        app_id,
        "--missing",
        "emergency_letter",
        "--note",
        "Surat kematian harus dari kelurahan.",
        "--json",
    )
    assert doc["status"] == "incomplete" and "emergency_letter" in doc["missing"]
    assert [m.kind for m in mails(site, app_id)][-1] == "incomplete"
    pdf = Path(__file__).resolve().parents[1] / "templates/forms/surat-pernyataan.pdf"
    letter = _letter_pdf("SURAT KETERANGAN KEMATIAN")
    site.reply_as(
        doc["applicant_email"],
        app_id,
        "Berikut suratnya.",
        [("surat kematian kelurahan.pdf", "application/pdf", letter)],
    )
    doc = site.show(app_id)
    assert doc["status"] == "under_review", doc["missing"]
    assert pdf.exists()


def _letter_pdf(title: str) -> bytes:
    from io import BytesIO

    from reportlab.pdfgen import canvas

    buf = BytesIO()
    c = canvas.Canvas(buf, invariant=1)
    c.drawString(72, 760, title)
    c.drawString(72, 740, "Yang bertanda tangan di bawah ini menerangkan ...")
    c.save()
    return buf.getvalue()


def test_guarantor_confirms_then_officer_approves_is_refused_before(site: Site) -> None:
    app_id = site.deliver_fixture(COMPLETE["nonresident_in"])
    doc = site.show(app_id)
    assert doc["status"] == "awaiting_guarantor"
    guarantor = doc["guarantor"]["penjamin_email"]
    request = [m for m in mails(site, app_id) if m.kind == "guarantor_request"]
    assert len(request) == 1 and request[0].to_addr == guarantor
    site.sikm("approve", app_id, expect=1)  # not before the guarantor confirms
    # someone else answering for the guarantor changes nothing
    site.reply_as("mallory@example.net", app_id, "SETUJU")
    doc = site.show(app_id)
    assert doc["status"] == "awaiting_guarantor" and "held_mail" in doc["flags"]
    site.reply_as(guarantor, app_id, "SETUJU, saya menjamin.")
    doc = site.show(app_id)
    assert doc["status"] == "under_review" and "guarantor_confirmed" in doc["flags"]
    assert any(h["actor"].startswith("guarantor") for h in doc["history"])


def test_guarantor_refuses(site: Site) -> None:
    app_id = site.deliver_fixture(COMPLETE["nonresident_in"])
    guarantor = site.show(app_id)["guarantor"]["penjamin_email"]
    site.reply_as(guarantor, app_id, "TOLAK. Saya tidak kenal orang ini.")
    doc = site.show(app_id)
    assert doc["status"] == "rejected" and doc["decision_reason"] == "guarantor_refused"
    assert [m.kind for m in mails(site, app_id)][-1] == "rejection"


def test_guarantor_silent_reminded_once_then_cancelled(site: Site) -> None:
    app_id = site.deliver_fixture(COMPLETE["nonresident_in"])
    app = App(load_settings(site.config))
    from datetime import datetime, timedelta

    start = datetime.fromisoformat(site.now)
    for hours, expected in (
        (24, {"reminded": 0, "cancelled": 0}),
        (49, {"reminded": 1, "cancelled": 0}),
        (50, {"reminded": 0, "cancelled": 0}),
        (73, {"reminded": 0, "cancelled": 1}),
    ):
        app.now = lambda h=hours: start + timedelta(hours=h)
        assert app.guarantor_sweep() == expected, hours
    doc = site.show(app_id)
    assert doc["status"] == "cancelled" and doc["decision_reason"] == "guarantor_timeout"
    kinds = [m.kind for m in mails(site, app_id)]
    assert kinds.count("guarantor_reminder") == 1 and kinds[-1] == "cancelled"


def test_illegal_transitions_are_refused(site: Site) -> None:
    app_id = site.deliver_fixture("app_missing_ktp")
    assert site.show(app_id)["status"] == "incomplete"
    result = site.sikm("approve", app_id, expect=1)
    assert "only an application under review" in result.output
    site.sikm("cancel", app_id, "--note", "Pemohon membatalkan lewat telepon.")
    for args in (
        ("approve", app_id),
        ("reject", app_id, "--reason", "missing_ktp"),
        ("request-docs", app_id, "--missing", "ktp"),
        ("cancel", app_id, "--note", "again"),
    ):
        site.sikm(*args, expect=1)
    site.sikm("show", "SIKM-2020-999999", expect=1)
    site.sikm("cancel", app_id, expect=2)  # --note is required


def test_two_officers_deciding_at_once_one_wins(site: Site) -> None:
    ids = [site.deliver_fixture(COMPLETE["resident_out"]) for _ in range(4)]
    env = {"SIKM_NOW": site.now, "PATH": "/usr/bin:/bin"}
    for app_id in ids:
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "sikm_mailbot.cli",
                    "--config",
                    str(site.config),
                    "reject",
                    app_id,
                    "--reason",
                    reason,
                    "--officer",
                    who,
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for reason, who in (("missing_ktp", "Ani"), ("no_signature", "Budi"))
        ]
        codes = sorted(p.wait(timeout=120) for p in procs)
        assert codes == [0, 1], [p.stderr.read() for p in procs]
        doc = site.show(app_id)
        decisions = [h for h in doc["history"] if h["to_status"] == "rejected"]
        assert len(decisions) == 1
        assert len([m for m in mails(site, app_id) if m.kind == "rejection"]) == 1


def test_stats_match_independent_counts(site: Site) -> None:
    for name in (
        "app_missing_ktp",
        "app_missing_statement",
        COMPLETE["resident_out"],
        COMPLETE["urgent"],
        COMPLETE["nonresident_in"],
        COMPLETE["dki_ktp_outside"],
    ):
        site.deliver_fixture(name)
    first = site.sikm("list", "--json")[0]["id"]
    site.sikm("reject", first, "--reason", "missing_ktp")
    engine = App(load_settings(site.config)).engine
    with Session(engine) as s:
        statuses = Counter(a.status for a in s.exec(select(Application)))
        events = s.exec(select(Event)).all()
    doc = site.sikm("stats", "--json")
    assert doc["received"] == sum(statuses.values()) == 6
    assert doc["incomplete"] == statuses["incomplete"]
    assert doc["in_review"] == statuses["under_review"] + statuses["received"]
    assert doc["awaiting_guarantor"] == statuses["awaiting_guarantor"]
    assert doc["rejected"] == statuses["rejected"] == 1
    assert doc["issued"] == statuses["issued"]
    assert doc["today_intake"] == 6
    assert all(e.actor for e in events)


def test_list_filters(site: Site) -> None:
    a = site.deliver_fixture("app_missing_ktp")
    b = site.deliver_fixture(COMPLETE["urgent"])
    rows = site.sikm("list", "--json")
    assert [r["id"] for r in rows] == [a, b]  # oldest first
    assert [r["id"] for r in site.sikm("list", "--status", "incomplete", "--json")] == [a]
    assert [r["id"] for r in site.sikm("list", "--category", "urgent", "--json")] == [b]
    nik4 = site.show(b)["applicant"]["nik"][-4:]
    assert b in [r["id"] for r in site.sikm("list", "--search", nik4, "--json")]
    assert all("*" in r["nik"] for r in rows)  # the list never shows a full NIK
    site.sikm("list", "--status", "bogus", expect=2)


def test_every_category_from_mail_to_verified_permit(site: Site, tmp_path: Path) -> None:
    import email
    import email.policy

    site.sikm("keys", "init")
    for category, fixture in COMPLETE.items():
        app_id = site.deliver_fixture(fixture)
        doc = site.show(app_id)
        if category == "nonresident_in":
            assert doc["status"] == "awaiting_guarantor"
            site.reply_as(doc["guarantor"]["penjamin_email"], app_id, "SETUJU")
        assert site.show(app_id)["status"] == "under_review"
        doc = site.sikm("approve", app_id, "--json")
        assert doc["status"] == "issued" and doc["permit_number"] == f"{app_id}-P1"
        (permit_mail,) = [m for m in mails(site, app_id) if m.kind == "permit"]
        msg = email.message_from_bytes(permit_mail.raw, policy=email.policy.default)
        (pdf,) = [p for p in msg.iter_attachments() if p.get_content_type() == "application/pdf"]
        path = tmp_path / f"{category}.pdf"
        path.write_bytes(pdf.get_content())
        # at the checkpoint, on the first day of validity
        issued_day, site.now = site.now, f"{doc['applicant']['tanggal_berangkat']}T12:00:00+07:00"
        verdict = site.sikm("verify", str(path), "--json")
        site.now = issued_day
        assert verdict["valid"] is True
        assert verdict["permit_number"] == doc["permit_number"]
        site.sikm("approve", app_id, expect=1)  # decided once, never twice
    assert site.sikm("stats", "--json")["issued"] == len(COMPLETE)


def test_officer_request_survives_a_reply_without_the_document(site: Site) -> None:
    app_id = site.deliver_fixture(COMPLETE["resident_out"])
    note = "Surat tugas harus menyebut nama Anda."
    site.sikm("request-docs", app_id, "--missing", "work_letter", "--note", note)
    applicant = site.show(app_id)["applicant_email"]
    site.reply_as(applicant, app_id, "Baik, akan saya kirim besok.")
    doc = site.show(app_id)
    assert doc["status"] == "incomplete" and "work_letter" in doc["missing"]
    assert any(p["code"] == "officer_note" for p in doc["problems"])
    last = mails(site, app_id)[-1]
    assert last.kind == "incomplete" and note.encode() in last.raw.replace(b"=\r\n", b"")
    site.reply_as(
        applicant,
        app_id,
        "Ini surat tugasnya.",
        [("surat tugas.pdf", "application/pdf", _letter_pdf("SURAT TUGAS"))],
    )
    doc = site.show(app_id)
    assert doc["status"] == "under_review" and doc["missing"] == []
    assert not any(p["code"] == "officer_note" for p in doc["problems"])


def test_new_guarantor_must_confirm_again(site: Site) -> None:
    app_id = site.deliver_fixture(COMPLETE["nonresident_in"])
    doc = site.show(app_id)
    site.reply_as(doc["guarantor"]["penjamin_email"], app_id, "SETUJU")
    site.sikm("request-docs", app_id, "--missing", "ktp")
    ktp = _letter_pdf("KARTU TANDA PENDUDUK")
    site.reply_as(
        doc["applicant_email"],
        app_id,
        "Email Penjamin: penjamin.baru@example.org\nNama Penjamin: Joko Baru",
        [("ktp.pdf", "application/pdf", ktp)],
    )
    doc = site.show(app_id)
    assert doc["guarantor"]["penjamin_email"] == "penjamin.baru@example.org"
    assert doc["status"] == "awaiting_guarantor" and "guarantor_confirmed" not in doc["flags"]
    requests = [m for m in mails(site, app_id) if m.kind == "guarantor_request"]
    assert [m.to_addr for m in requests][-1] == "penjamin.baru@example.org"
    site.sikm("approve", app_id, expect=1)


def test_guarantor_answer_failing_authentication_changes_nothing(site: Site) -> None:
    from tests.mailgen import simple_mail

    app_id = site.deliver_fixture(COMPLETE["nonresident_in"])
    guarantor = site.show(app_id)["guarantor"]["penjamin_email"]
    forged = simple_mail(subject=f"Re: [{app_id}] Permohonan SIKM", sender=guarantor, body="SETUJU")
    forged = b"Authentication-Results: mx.sikm.example.org; dmarc=fail\r\n" + forged
    site.deliver(forged)
    site.sikm("poll")
    doc = site.show(app_id)
    assert doc["status"] == "awaiting_guarantor" and "guarantor_unverified" in doc["flags"]


def test_applicant_fixes_own_guarantor_email_by_reply(site: Site) -> None:
    app_id = site.deliver_fixture("app_guarantor_email_same")
    doc = site.show(app_id)
    assert doc["status"] == "incomplete"
    site.reply_as(doc["applicant_email"], app_id, "Email Penjamin: hadi.susanto@example.org")
    doc = site.show(app_id)
    assert doc["guarantor"]["penjamin_email"] == "hadi.susanto@example.org"
    assert doc["status"] == "awaiting_guarantor"


def test_many_applicants_same_guarantor_are_capped_per_day(site: Site) -> None:
    """Anyone may name anyone as guarantor: at most guarantor_mails_per_day (5) requests
    a day reach one address; the rest wait, flagged for the officer, with the reason."""
    (site.root / "config.toml").write_text(
        "[outbox]\nreplies_per_hour = 50\nguarantor_mails_per_day = 5\n"
    )
    ids = [site.deliver_fixture(COMPLETE["nonresident_in"]) for _ in range(7)]
    asked = [
        app_id
        for app_id in ids
        if [m.kind for m in mails(site, app_id)].count("guarantor_request") == 1
    ]
    assert asked == ids[:5]
    for app_id in ids[5:]:
        doc = site.show(app_id)
        assert doc["status"] == "awaiting_guarantor" and "guarantor_mail_held" in doc["flags"]
        held = [h for h in doc["history"] if h["action"] == "reply_suppressed"]
        assert held and "guarantor mails to this address in the last 24 hours" in held[0]["detail"]
