"""A new application: a tracking number, the files, the first assessment, the reply."""

from __future__ import annotations

from sqlmodel import Session, select

from sikm_mailbot.desk.review import review
from sikm_mailbot.domain.vocabulary import Status
from sikm_mailbot.domain.workdays import to_jakarta
from sikm_mailbot.intake.detect import Verdict
from sikm_mailbot.intake.driver import Outcome
from sikm_mailbot.intake.handlers.common import InMail, store_files
from sikm_mailbot.store.models import Application, Counter


def next_tracking_number(session: Session, prefix: str, year: int) -> str:
    """The next tracking number ``PREFIX-YYYY-NNNNNN`` (row-locked where the DB can)."""
    name = f"{prefix}-{year}"
    counter = session.exec(select(Counter).where(Counter.name == name).with_for_update()).first()
    if counter is None:
        counter = Counter(name=name, value=0)
    counter.value += 1
    session.add(counter)
    session.flush()
    return f"{prefix}-{year}-{counter.value:06d}"


def handle(mail: InMail, verdict: Verdict) -> Outcome:
    """Open the file, keep its attachments, assess it and answer the sender."""
    session, read = mail.session, mail.read
    prefix = mail.settings.office.tracking_prefix
    app_id = next_tracking_number(session, prefix, to_jakarta(mail.now).year)
    app = Application(
        id=app_id,
        status=Status.received,
        sender_email=read.from_addr,
        applicant_email=read.from_addr,  # bound now: the form's Email never moves it
        first_message_id=read.message_id,
        created_at=mail.now,
    )
    session.add(app)
    session.flush()
    mail.event(
        "mail_in", application_id=app_id, detail="new application", to_status=Status.received
    )
    if mail.facts.auth.failed:
        app.flags = [*app.flags, "sender_unverified"]
        detail = ", ".join(mail.facts.auth.details)
        mail.event("sender_unverified", application_id=app_id, detail=detail)
    if read.forwarded:
        app.flags = [*app.flags, "forwarded"]
    store_files(mail, app)
    app.field_sources = dict(read.field_sources)
    result = review(session, app, mail.submission(first=True), mail.settings, mail.now)
    mail.answer_review(app, result)
    return mail.done("application", application=app)
