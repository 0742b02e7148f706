"""`sikm edit`: an officer enters or corrects what was read, through the real CLI."""

from __future__ import annotations

import email
import email.policy
import json
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlmodel import Session, select

from sikm_mailbot.config import load_settings
from sikm_mailbot.desk.edit import mask_address
from sikm_mailbot.store.models import Event, OutboxMessage
from sikm_mailbot.wiring import App
from tests.desk_helpers import Site, make_site
from tests.mailgen import simple_mail

RESIDENT = "app_resident_out_single_complete"
GUARANTEED = "app_nonresident_in_work_complete"
BIRTHDATE_WRONG = "app_nik_birthdate_mismatch"  # NIK says 20-06-1998, the form 1997


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return make_site(tmp_path)


def mails(site: Site, app_id: str) -> list[OutboxMessage]:
    with Session(App(load_settings(site.config)).engine) as s:
        query = select(OutboxMessage).where(OutboxMessage.application_id == app_id)
        return list(s.exec(query.order_by(OutboxMessage.id)))


def events(site: Site, app_id: str) -> list[Event]:
    with Session(App(load_settings(site.config)).engine) as s:
        query = select(Event).where(Event.application_id == app_id)
        return list(s.exec(query.order_by(Event.id)))


def sent_files(site: Site, seen: frozenset[Path] = frozenset()) -> dict[Path, EmailMessage]:
    """Flush the outbox and read each .eml the file transport wrote (but those ``seen``)."""
    site.sikm("send")
    paths = set((site.root / "var/outbox").glob("*.eml")) - seen
    policy = email.policy.default
    return {p: email.message_from_bytes(p.read_bytes(), policy=policy) for p in paths}


def body(msg: EmailMessage) -> str:
    return "".join(
        part.get_content() for part in msg.walk() if part.get_content_maintype() == "text"
    )


def edit_events(site: Site, app_id: str) -> list[Event]:
    return [e for e in events(site, app_id) if e.action == "edit"]


def test_edit_fixes_a_wrong_value_and_the_file_enters_review(site: Site) -> None:
    app_id = site.deliver_fixture(BIRTHDATE_WRONG)
    assert site.show(app_id)["status"] == "incomplete"
    doc = site.sikm(
        "edit", app_id, "--set", "tanggal_lahir=20/06/1998", "--note", "dicek dengan KTP", "--json"
    )
    assert doc["status"] == "under_review" and doc["problems"] == []
    assert doc["applicant"]["tanggal_lahir"] == "1998-06-20"  # normalised as the intake does
    assert doc["field_sources"]["tanggal_lahir"] == "officer"
    assert doc["edited"]["fields"] == ["tanggal_lahir"]
    last = mails(site, app_id)[-1]
    assert (last.kind, last.to_addr) == ("ack", doc["applicant_email"])
    (event,) = edit_events(site, app_id)
    assert event.actor == "Officer Test" and "tanggal_lahir" in event.detail
    assert "dicek dengan KTP" in event.detail
    assert "edited_in_review" not in doc["flags"]  # it was not in review before


def test_edit_enters_a_missing_field_incomplete_to_review_with_ack(site: Site) -> None:
    app_id = site.deliver_fixture(RESIDENT)
    due = site.show(app_id)["due_at"]
    doc = site.sikm("edit", app_id, "--set", "nama=", "--json")  # cleared: now missing
    assert doc["status"] == "incomplete" and doc["applicant"]["nama"] == ""
    assert mails(site, app_id)[-1].kind == "incomplete"
    result = site.sikm("edit", app_id, "--set", "nama=  budi   santoso ", "--officer", "Rina")
    assert "edited nama" in result.stdout and "under_review" in result.stdout
    doc = site.show(app_id)
    assert doc["status"] == "under_review" and doc["applicant"]["nama"] == "BUDI SANTOSO"
    assert doc["due_at"] == due  # the clock of the first complete assessment is kept
    assert mails(site, app_id)[-1].kind == "ack"
    assert [e.actor for e in edit_events(site, app_id)] == ["Officer Test", "Rina"]


def test_edit_in_review_stays_in_review_flagged_with_the_status_mail(site: Site) -> None:
    app_id = site.deliver_fixture(RESIDENT)
    before = site.show(app_id)
    moves = len([h for h in before["history"] if h["to_status"]])
    doc = site.sikm("edit", app_id, "--set", "alamat=Jl. Kenanga No. 7, Jakarta", "--json")
    assert doc["status"] == "under_review" and "edited_in_review" in doc["flags"]
    assert doc["due_at"] == before["due_at"]
    assert len([h for h in doc["history"] if h["to_status"]]) == moves  # no status move
    assert [m["kind"] for m in doc["edited"]["mails"]] == ["status"]
    # the same values again change nothing: no event, no mail
    count = len(mails(site, app_id))
    again = site.sikm("edit", app_id, "--set", "alamat=Jl. Kenanga No. 7, Jakarta", "--json")
    assert again["edited"] == {"fields": [], "mails": []} and len(mails(site, app_id)) == count
    assert len(edit_events(site, app_id)) == 1


def test_unknown_field_bad_value_and_bad_syntax_are_usage_errors(site: Site) -> None:
    app_id = site.deliver_fixture(RESIDENT)
    result = site.sikm("edit", app_id, "--set", "hobi=catur", expect=2)
    assert "hobi" in result.stderr and "tanggal_lahir" in result.stderr  # the valid keys
    result = site.sikm("edit", app_id, "--set", "tanggal_lahir=31-02-1990", expect=2)
    assert "tanggal_lahir" in result.stderr
    site.sikm("edit", app_id, "--set", "nama", expect=2)  # no "="
    site.sikm("edit", app_id, "--set", "nama=A", "--set", "nama=B", expect=2)
    site.sikm("edit", app_id, "--set", "email=", expect=2)  # the bound address stays
    site.sikm("edit", app_id, expect=2)  # --set is required
    site.sikm("edit", app_id, "--set", "nama=" + "A" * 201, expect=2)  # a name, not a book
    assert edit_events(site, app_id) == []


def test_edit_cleans_values_and_never_binds_the_guarantors_address(site: Site) -> None:
    app_id = site.deliver_fixture("app_nonresident_in_work_complete")
    doc = site.show(app_id)
    guarantor = doc["guarantor"]["penjamin_email"]
    assert guarantor
    result = site.sikm("edit", app_id, "--set", f"email={guarantor.upper()}", expect=2)
    assert "guarantor" in result.stderr
    assert site.show(app_id)["applicant_email"] == doc["applicant_email"]
    site.sikm("edit", app_id, "--set", "nama=BUDI\u202eX\u200fY\x1b[2J")
    assert site.show(app_id)["applicant"]["nama"] == "BUDIXY[2J"


def test_edit_refused_once_decided_or_unknown(site: Site) -> None:
    app_id = site.deliver_fixture(RESIDENT)
    site.sikm("reject", app_id, "--reason", "no_signature")
    result = site.sikm("edit", app_id, "--set", "nama=Budi", expect=1)
    assert "rejected" in result.stderr
    site.sikm("edit", "SIKM-2020-999999", "--set", "nama=Budi", expect=1)
    assert site.show(app_id)["applicant"]["nama"] != "BUDI"


def test_email_rebinding_tells_the_old_address_and_decisions_follow(site: Site) -> None:
    app_id = site.deliver_fixture(RESIDENT)
    old = site.show(app_id)["applicant_email"]
    new = "nadia.baru@example.org"
    before = frozenset(sent_files(site))
    doc = site.sikm("edit", app_id, "--set", f"email={new}", "--json")
    assert doc["applicant_email"] == new and doc["applicant"]["email"] == new
    assert doc["field_sources"]["email"] == "officer"
    assert doc["status"] == "under_review"
    fresh = sent_files(site, before).values()
    by_recipient = {m["To"]: m for m in fresh}
    assert len(by_recipient) == len(fresh) == 2
    assert set(by_recipient) == {old, new}
    told = by_recipient[old]
    assert "Alamat email permohonan diubah" in told["Subject"] and app_id in told["Subject"]
    text = body(told)
    assert mask_address(new) == "n***@example.org" and "n***@example.org" in text
    assert new not in text and doc["applicant"]["nama"] not in text  # no personal data
    assert doc["applicant"]["nik"] not in text
    assert "Status" in by_recipient[new]["Subject"]
    (event,) = edit_events(site, app_id)
    assert (
        event.detail == f"officer edit: email changed from {mask_address(old)} to n***@example.org"
    )
    # a decision goes to the new address only
    site.sikm("keys", "init")
    site.sikm("approve", app_id)
    permit = [m for m in mails(site, app_id) if m.kind == "permit"]
    assert [m.to_addr for m in permit] == [new]


def test_binding_the_forms_own_email_is_a_rebinding(site: Site) -> None:
    app_id = site.deliver_fixture(RESIDENT)
    old = site.show(app_id)["applicant_email"]
    site.sikm("edit", app_id, "--set", "email=Nadia.Baru@Example.org")
    doc = site.sikm("edit", app_id, "--set", f"email={old.upper()}", "--json")
    assert doc["applicant_email"] == old  # back again, normalised to lower case
    assert [m["to"] for m in doc["edited"]["mails"]] == ["nadia.baru@example.org", old]


def test_nik_never_in_full_in_audit_or_mail(site: Site) -> None:
    app_id = site.deliver_fixture(BIRTHDATE_WRONG)
    old_nik = site.show(app_id)["applicant"]["nik"]
    new_nik = "3175082006970014"  # agrees with the form's 20-06-1997
    doc = site.sikm("edit", app_id, "--set", f"nik={new_nik}", "--json")
    assert doc["status"] == "under_review" and doc["nik"] == "************0014"
    (event,) = edit_events(site, app_id)
    assert event.detail == "officer edit: nik changed" and event.data["fields"] == ["nik"]
    for e in events(site, app_id):
        text = e.detail + json.dumps(e.data)
        assert new_nik not in text and old_nik not in text
    for m in mails(site, app_id):
        assert new_nik.encode() not in m.raw and old_nik.encode() not in m.raw
    history = site.show(app_id)["history"]
    assert any(h["action"] == "edit" and h["actor"] == "Officer Test" for h in history)


def test_new_guarantor_while_waiting_is_asked_again(site: Site) -> None:
    app_id = site.deliver_fixture(GUARANTEED)
    assert site.show(app_id)["status"] == "awaiting_guarantor"
    site.sikm("edit", app_id, "--set", "pekerjaan=Perawat")
    asked = [m.to_addr for m in mails(site, app_id) if m.kind == "guarantor_request"]
    assert len(asked) == 1  # an unrelated edit does not ask the guarantor again
    doc = site.sikm("edit", app_id, "--set", "penjamin_email=joko.baru@example.org", "--json")
    assert doc["status"] == "awaiting_guarantor" and "edited_in_review" in doc["flags"]
    asked = [m.to_addr for m in mails(site, app_id) if m.kind == "guarantor_request"]
    assert asked[-1] == "joko.baru@example.org" and len(asked) == 2
    # the new guarantor answers our request to them, as their mail client threads it
    (request,) = [m for m in mails(site, app_id) if m.to_addr == "joko.baru@example.org"]
    answer = simple_mail(
        subject=f"Re: {request.subject}", sender="joko.baru@example.org", body="SETUJU"
    )
    thread = f"In-Reply-To: {request.message_id}\r\nReferences: {request.message_id}\r\n"
    site.deliver(thread.encode() + answer)
    site.sikm("poll")
    assert site.show(app_id)["status"] == "under_review"
