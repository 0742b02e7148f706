"""Detection is pure and its precedence is one table: a test per precedence rule."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlmodel import Session, SQLModel, create_engine

from sikm_mailbot.config import Settings
from sikm_mailbot.intake.detect import PRECEDENCE, Kind, detect
from sikm_mailbot.intake.facts import Facts, binding_of, bound_address, gather_facts
from sikm_mailbot.intake.handlers import HANDLERS
from sikm_mailbot.mail.authres import Auth, AuthResult
from sikm_mailbot.mail.extract import ReadAttachment, ReadMessage
from sikm_mailbot.store.models import Application, OutboxMessage

OURS = ("sikm@sikm.example.org",)
APPLICANT = "budi@example.com"
GUARANTOR = "siti@example.org"


def application(**kw: object) -> Application:
    base: dict[str, object] = dict(
        id="SIKM-2020-000001",
        status="awaiting_guarantor",
        applicant_email=APPLICANT,
        sender_email=APPLICANT,
        guarantor_email=GUARANTOR,
    )
    base.update(kw)
    return Application(**base)


def mail(**kw: object) -> ReadMessage:
    base: dict[str, object] = dict(
        message_id="<m1@example.com>",
        subject="Re: [SIKM-2020-000001] Permohonan SIKM",
        from_addr=APPLICANT,
        body_new_text="Terlampir.",
    )
    base.update(kw)
    return ReadMessage(**base)


def facts(**kw: object) -> Facts:
    return Facts(own_addresses=OURS, **kw)  # type: ignore[arg-type]


def pdf(name: str = "ktp.pdf", kind: str = "ktp") -> ReadAttachment:
    return ReadAttachment(filename=name, kind=kind, sha256=name)


REPORT_HEADERS = {"content-type": "multipart/report; report-type=delivery-status"}
AUTO_HEADERS = {"auto-submitted": "auto-replied"}


# ------------------------------------------------------------------ the table


def test_every_kind_has_a_handler_and_every_rule_says_why() -> None:
    assert set(HANDLERS) == set(Kind)
    assert {rule.kind for rule in PRECEDENCE} == set(Kind)
    assert all(rule.why for rule in PRECEDENCE)
    assert PRECEDENCE[0].kind == Kind.malformed and PRECEDENCE[-1].kind == Kind.junk
    order = [rule.kind for rule in PRECEDENCE]
    # Mail about a file that is not bound to it is held before anything acts on it.
    assert order.index(Kind.held) < order.index(Kind.follow_up)
    assert order.index(Kind.unbound_status) < order.index(Kind.held)


# ------------------------------------------------------------------ precedence


@pytest.mark.parametrize(
    ("counts", "says"),
    [
        ({"from_headers": 2}, "2 From: headers"),
        ({"sender_headers": 2}, "2 Sender: headers"),
        ({"from_headers": 1, "from_mailboxes": 2}, "names 2 addresses"),
    ],
)
def test_two_senders_are_quarantined_before_anything_else(counts: dict, says: str) -> None:
    app = application()
    read = mail(
        is_report=True,
        headers={**REPORT_HEADERS, **AUTO_HEADERS},
        from_addr=GUARANTOR,
        body_new_text="SETUJU",
        **counts,
    )
    verdict = detect(read, facts(referred=app, binding="reply", bounced_application=app))
    assert verdict.kind == Kind.malformed and says in verdict.reason
    assert HANDLERS[Kind.malformed] is HANDLERS[Kind.junk]  # quarantined, never answered


def test_a_bounce_beats_everything() -> None:
    app = application()
    read = mail(
        is_report=True,
        headers={**REPORT_HEADERS, **AUTO_HEADERS},
        from_addr=GUARANTOR,
        subject="SETUJU FORMULIR SIKM-2020-000001",
        fields={"nama": "Budi", "nik": "3171"},
        attachments=[pdf("formulir.pdf", "form")],
    )
    verdict = detect(read, facts(referred=app, command="forms", bounced_application=app))
    assert verdict.kind == Kind.bounce and verdict.application is app


def test_a_bounce_by_its_headers_alone() -> None:
    read = mail(headers={"x-failed-recipients": "budi@example.com"})
    assert detect(read, facts(referred=application())).kind == Kind.bounce


def test_an_auto_reply_is_never_answered_even_with_a_tracking_number() -> None:
    app = application(status="incomplete")
    read = mail(headers=AUTO_HEADERS, attachments=[pdf()])
    verdict = detect(read, facts(referred=app))
    assert verdict.kind == Kind.auto_reply and "Auto-Submitted" in verdict.reason


def test_an_auto_reply_beats_a_command_and_the_guarantor() -> None:
    read = mail(headers=AUTO_HEADERS, subject="FORMULIR", body_new_text="")
    assert detect(read, facts(command="forms")).kind == Kind.auto_reply
    read = mail(headers={"x-loop": "sikm@sikm.example.org"}, from_addr=GUARANTOR)
    assert detect(read, facts(referred=application())).kind == Kind.auto_reply


def test_the_guarantors_setuju_referring_to_a_file_is_an_answer_not_a_follow_up() -> None:
    app = application()
    read = mail(from_addr=GUARANTOR.upper(), body_new_text="SETUJU")
    verdict = detect(read, facts(referred=app))
    assert verdict.kind == Kind.guarantor_answer and verdict.application is app


def test_a_guarantor_with_the_applicants_address_is_the_applicant() -> None:
    app = application(guarantor_email=APPLICANT, status="incomplete")
    verdict = detect(mail(body_new_text="SETUJU"), facts(referred=app, binding="reply"))
    assert verdict.kind == Kind.follow_up


def test_a_stranger_about_a_file_changes_nothing_even_with_documents() -> None:
    app = application(status="incomplete")
    read = mail(from_addr="orang@example.net", attachments=[pdf("formulir.pdf", "form")])
    verdict = detect(read, facts(referred=app))
    assert verdict.kind == Kind.held and verdict.application is app
    assert "not the applicant's" in verdict.reason


def test_the_applicants_address_with_a_tracking_number_alone_is_held() -> None:
    app = application(status="incomplete")
    verdict = detect(mail(attachments=[pdf()]), facts(referred=app))
    assert verdict.kind == Kind.held and "not a reply to our mail" in verdict.reason
    failed = AuthResult(Auth.failed, ("dmarc=fail",))
    verdict = detect(mail(attachments=[pdf()]), facts(referred=app, auth=failed))
    assert verdict.kind == Kind.held and "dmarc=fail" in verdict.reason


def test_status_not_bound_to_its_file_is_not_answered() -> None:
    app = application()
    for sender in (APPLICANT, "orang@example.net"):
        verdict = detect(
            mail(subject="STATUS", from_addr=sender), facts(referred=app, command="status")
        )
        assert verdict.kind == Kind.unbound_status and verdict.application is app
        assert verdict.reason.startswith("status request not answered")


def test_status_in_a_reply_is_about_the_referred_file_not_the_latest() -> None:
    referred, latest = application(), application(id="SIKM-2020-000009")
    bound = facts(referred=referred, command="status", binding="reply")
    verdict = detect(mail(subject="STATUS"), bound)
    assert verdict.kind == Kind.status and verdict.application is referred
    passed = AuthResult(Auth.passed, ("dmarc=pass",))
    verdict = detect(
        mail(subject="STATUS"), facts(command="status", senders_latest=latest, auth=passed)
    )
    assert verdict.kind == Kind.status and verdict.application is latest


def test_status_naming_no_file_by_address_alone_names_no_file() -> None:
    latest = application(id="SIKM-2020-000009")
    verdict = detect(mail(subject="STATUS"), facts(command="status", senders_latest=latest))
    assert verdict.kind == Kind.status and verdict.application is None  # "not understood"


def test_a_reply_from_the_applicant_is_a_follow_up_before_any_command() -> None:
    app = application(status="incomplete")
    for binding in ("reply", "authenticated"):
        verdict = detect(
            mail(subject="FORMULIR"), facts(referred=app, command="forms", binding=binding)
        )
        assert verdict.kind == Kind.follow_up and verdict.application is app


def test_commands_without_a_referred_file() -> None:
    assert detect(mail(subject="FORMULIR"), facts(command="forms")).kind == Kind.forms
    verdict = detect(mail(subject="STATUS"), facts(command="status"))
    assert verdict.kind == Kind.status and verdict.application is None  # "not understood"


# ------------------------------------------------------------------ binding


@pytest.mark.parametrize(
    ("sender", "auth", "replies_to_us", "expected"),
    [
        (APPLICANT, Auth.unknown, True, "reply"),
        (APPLICANT.upper(), Auth.unknown, True, "reply"),
        (APPLICANT, Auth.passed, False, "authenticated"),
        (APPLICANT, Auth.unknown, False, ""),  # a tracking number is no authority
        (APPLICANT, Auth.failed, True, ""),  # the office MTA says From is forged
        ("orang@example.net", Auth.passed, True, ""),  # not the bound address
    ],
)
def test_binding(sender: str, auth: Auth, replies_to_us: bool, expected: str) -> None:
    app = application()
    assert binding_of(app, sender, AuthResult(auth), replies_to_us) == expected
    assert binding_of(None, sender, AuthResult(auth), replies_to_us) == ""


def test_the_bound_address_is_not_the_forms_email() -> None:
    app = application(applicant_email="", sender_email="Budi@Example.com")
    assert bound_address(app) == APPLICANT


def test_an_application_is_typed_values_our_form_or_documents_about_sikm() -> None:
    typed = mail(subject="Halo", fields={"nama": "Budi", "nik": "3171010101010001"})
    assert detect(typed, facts()).kind == Kind.application
    ours = mail(subject="Halo", body_new_text="", attachments=[pdf("s.pdf", "statement")])
    assert detect(ours, facts()).kind == Kind.application
    about = mail(subject="Permohonan SIKM", attachments=[pdf("x.jpg", "unknown")])
    assert detect(about, facts()).kind == Kind.application


def test_a_signature_is_not_a_form_and_a_picture_is_not_an_application() -> None:
    signature = mail(subject="Halo", body_new_text="Salam", fields={"email": "a@b.c"})
    assert detect(signature, facts()).kind == Kind.junk
    spam = mail(subject="Promo", body_new_text="murah", attachments=[pdf("a.jpg", "unknown")])
    assert detect(spam, facts()).kind == Kind.junk


def test_a_question_about_the_service_beats_junk() -> None:
    read = mail(subject="Pertanyaan", body_new_text="Bagaimana cara membuat surat izin keluar?")
    assert detect(read, facts()).kind == Kind.question
    junk = detect(mail(subject="Halo", body_new_text="apa kabar"), facts())
    assert junk.kind == Kind.junk and junk.reason.startswith("not an application")


# ------------------------------------------------------------------ facts, read once


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = create_engine(f"sqlite:///{tmp_path / 'facts.db'}")
    SQLModel.metadata.create_all(engine)
    with Session(engine) as s:
        s.add(application(status="incomplete"))
        s.add(
            OutboxMessage(
                message_id="<ours@sikm.example.org>",
                application_id="SIKM-2020-000001",
                kind="incomplete",
                to_addr=APPLICANT,
                raw=b"",
            )
        )
        s.add(
            OutboxMessage(
                message_id="<asked@sikm.example.org>",
                application_id="SIKM-2020-000001",
                kind="guarantor_request",
                to_addr=GUARANTOR,
                raw=b"",
            )
        )
        s.commit()
        yield s


def selects(session: Session) -> list[str]:
    """Collects the SELECT statements the session runs from now on."""
    seen: list[str] = []

    def note(conn, cursor, statement, *args) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(session.get_bind(), "before_cursor_execute", note)
    return seen


def test_a_reply_to_our_mail_is_looked_up_once(session: Session) -> None:
    seen = selects(session)
    read = mail(in_reply_to="<ours@sikm.example.org>", subject="STATUS", body_new_text="")
    got = gather_facts(session, read, Settings())
    assert got.referred is not None and got.referred.id == "SIKM-2020-000001"
    assert got.command == "status" and got.senders_latest is None  # the reply names its file
    assert got.bounced is None
    assert got.binding == "reply" and not got.guarantor_reply
    assert len(seen) == 2  # our outbox message, then its application


def test_our_mail_to_someone_else_refers_but_does_not_bind(session: Session) -> None:
    read = mail(in_reply_to="<asked@sikm.example.org>", attachments=[pdf()])
    got = gather_facts(session, read, Settings())
    assert got.referred is not None and got.binding == "" and not got.guarantor_reply
    assert detect(read, got).kind == Kind.held
    # The guarantor replying to the request sent to them is a guarantor reply.
    read = mail(in_reply_to="<asked@sikm.example.org>", from_addr=GUARANTOR)
    got = gather_facts(session, read, Settings())
    assert got.guarantor_reply and got.binding == ""
    assert detect(read, got).kind == Kind.guarantor_answer


def test_authentication_comes_only_from_the_configured_mta(session: Session) -> None:
    stamped = [f"mx.sikm.example.org; dmarc=pass header.from={APPLICANT.split('@')[1]}"]
    read = mail(auth_results=stamped, attachments=[pdf()])
    unknown = gather_facts(session, read, Settings())
    assert unknown.auth.state is Auth.unknown and unknown.binding == ""
    settings = Settings.model_validate({"inbox": {"trusted_authserv_id": "mx.sikm.example.org"}})
    trusted = gather_facts(session, read, settings)
    assert trusted.auth.passed and trusted.binding == "authenticated"
    assert detect(read, trusted).kind == Kind.follow_up


def test_a_status_request_naming_nothing_finds_the_senders_latest(session: Session) -> None:
    seen = selects(session)
    got = gather_facts(session, mail(subject="STATUS", body_new_text=""), Settings())
    assert got.command == "status" and got.referred is None
    assert got.senders_latest is not None and got.senders_latest.id == "SIKM-2020-000001"
    assert len(seen) == 1
    assert detect(mail(subject="STATUS", body_new_text=""), got).application is None


def test_a_delivery_report_finds_our_mail_and_its_application(session: Session) -> None:
    read = mail(
        is_report=True,
        headers=REPORT_HEADERS,
        report_original_message_id="<ours@sikm.example.org>",
        subject="Undelivered",
    )
    got = gather_facts(session, read, Settings())
    assert got.bounced is not None and got.bounced.kind == "incomplete"
    assert got.bounced_application is not None
    assert detect(read, got).application is got.bounced_application
