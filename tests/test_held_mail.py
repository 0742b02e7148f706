"""Binding mail to an application: held mail, and the officer's `sikm accept-mail`."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from sikm_mailbot.config import load_settings
from sikm_mailbot.store.models import LedgerEntry, OutboxMessage
from sikm_mailbot.wiring import App
from tests.desk_helpers import Site, make_site
from tests.mailgen import simple_mail

KTP = ("ktp.jpg", "image/jpeg", b"\xff\xd8\xff\xe0" + b"0" * 2000)


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return make_site(tmp_path)


def ledger(site: Site) -> list[LedgerEntry]:
    engine = App(load_settings(site.config)).engine
    with Session(engine) as s:
        return list(s.exec(select(LedgerEntry).order_by(LedgerEntry.id)))


def outbox(site: Site) -> list[OutboxMessage]:
    engine = App(load_settings(site.config)).engine
    with Session(engine) as s:
        return list(s.exec(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_the_form_email_is_data_the_sender_is_the_bound_address(site: Site) -> None:
    app_id = site.deliver_fixture("app_missing_ktp")
    doc = site.show(app_id)
    bound = doc["applicant_email"]
    # A bound follow-up (a reply to our mail) naming another Email changes the value
    # on the form, never the address the file answers to.
    site.reply_as(bound, app_id, "Email: orang.lain@example.net\nIni KTP saya.", [KTP])
    doc = site.show(app_id)
    assert ledger(site)[-1].outcome == "follow_up"
    assert doc["applicant_email"] == bound
    assert doc["applicant"]["email"] == "orang.lain@example.net"
    assert "form_email_differs" in doc["flags"]
    assert {m.to_addr for m in outbox(site)} == {bound}


def test_held_mail_changes_nothing_then_the_officer_accepts_it(site: Site) -> None:
    app_id = site.deliver_fixture("app_missing_ktp")
    before = site.show(app_id)
    bound = before["applicant_email"]
    # From the applicant's address, but no reply to our mail and no authentication:
    # a tracking number is no authority.
    site.reply_as(
        bound, app_id, "Email: penyerang@example.net\nIni KTP saya.", [KTP], replying=False
    )
    held = ledger(site)[-1]
    assert (held.outcome, held.application_id) == ("held", app_id)
    assert "not a reply to our mail" in held.reason
    doc = site.show(app_id)
    assert doc["attachments"] == before["attachments"] and doc["applicant"] == before["applicant"]
    assert doc["mail"] == before["mail"]  # no reply
    assert "held_mail" in doc["flags"]
    assert any(h["action"] == "mail_held" for h in doc["history"])
    listed = site.sikm("mail", "--outcome", "held", "--json")
    assert [m["ledger_id"] for m in listed] == [held.id]

    result = site.sikm("accept-mail", str(held.id), "--officer", "Rina", "--json")
    assert result["outcome"] == "follow_up" and result["application_id"] == app_id
    doc = site.show(app_id)
    assert len(doc["attachments"]) == len(before["attachments"]) + 1
    assert "held_mail" not in doc["flags"] and "form_email_differs" in doc["flags"]
    assert doc["applicant_email"] == bound  # the mail's Email: never moves the file
    (accepted,) = [h for h in doc["history"] if h["action"] == "mail_accepted"]
    assert accepted["actor"] == "Rina"
    last = outbox(site)[-1]
    assert last.to_addr == bound and last.ledger_id == held.id  # the usual reply
    row = ledger(site)[-1]
    assert row.outcome == "follow_up" and "accepted by Rina" in row.reason
    # Once is enough: accepting again is refused, with the reason.
    again = site.sikm("accept-mail", str(held.id), expect=1)
    assert "is not held" in again.stderr


def test_mail_from_a_stranger_is_held_and_accepting_answers_the_applicant(site: Site) -> None:
    app_id = site.deliver_fixture("app_missing_ktp")
    bound = site.show(app_id)["applicant_email"]
    site.reply_as("penyerang@example.net", app_id, "Ini KTP saya.", [KTP])
    held = ledger(site)[-1]
    assert held.outcome == "held" and "not the applicant's" in held.reason
    site.sikm("accept-mail", str(held.id))
    assert outbox(site)[-1].to_addr == bound
    assert "penyerang@example.net" not in {m.to_addr for m in outbox(site)}


def test_accept_mail_refuses_what_is_not_held(site: Site) -> None:
    app_id = site.deliver_fixture("app_missing_ktp")
    first = ledger(site)[-1]
    result = site.sikm("accept-mail", str(first.id), expect=1)
    assert "is not held" in result.stderr and result.stderr.count("\n") == 1
    result = site.sikm("accept-mail", "999", expect=1)
    assert "no incoming mail" in result.stderr
    assert site.show(app_id)["mail"]  # untouched


def test_status_is_answered_only_when_bound(site: Site) -> None:
    app_id = site.deliver_fixture("app_missing_ktp")
    bound = site.show(app_id)["applicant_email"]
    before = len(outbox(site))
    # From the applicant's address, naming the file, but not bound: nothing said.
    site.deliver(simple_mail(subject=f"STATUS {app_id}", sender=bound, body=""))
    site.sikm("poll")
    row = ledger(site)[-1]
    assert row.outcome == "ignored" and row.reason.startswith("status request not answered")
    assert len(outbox(site)) == before
    doc = site.show(app_id)
    assert "held_mail" not in doc["flags"]  # not worth the officer's time
    assert any(h["action"] == "mail_in_ignored" for h in doc["history"])
    # The same as a reply to our mail is answered, at the bound address.
    ours = site.our_mail_to(app_id, bound)
    site.deliver(simple_mail(subject=f"STATUS {app_id}", sender=bound, body="", in_reply_to=ours))
    site.sikm("poll")
    assert ledger(site)[-1].outcome == "status_request"
    assert [(m.kind, m.to_addr) for m in outbox(site)[before:]] == [("status", bound)]


def test_accept_mail_refuses_a_decided_file_and_impossible_ids(site: Site) -> None:
    app_id = site.deliver_fixture("app_missing_ktp")
    bound = site.show(app_id)["applicant_email"]
    site.reply_as(bound, app_id, "Ini KTP saya.", [KTP], replying=False)
    held = ledger(site)[-1]
    assert held.outcome == "held"
    site.sikm("reject", app_id, "--reason", "missing_ktp")
    before = site.show(app_id)
    result = site.sikm("accept-mail", str(held.id), expect=1)
    assert "rejected" in result.stderr and "Traceback" not in result.output
    assert site.show(app_id)["attachments"] == before["attachments"]
    for impossible in ("99999999999999999999999", "0", "-5"):
        result = site.sikm("accept-mail", "--", impossible, expect=1)
        assert "no incoming mail" in result.stderr and "Traceback" not in result.output
