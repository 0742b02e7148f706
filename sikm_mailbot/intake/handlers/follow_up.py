"""Mail about an existing application: the applicant's follow-up, or someone else's."""

from __future__ import annotations

from sikm_mailbot.desk.review import review
from sikm_mailbot.domain.vocabulary import Status
from sikm_mailbot.intake.detect import Verdict
from sikm_mailbot.intake.driver import Outcome
from sikm_mailbot.intake.handlers.common import InMail, store_files
from sikm_mailbot.mail import triage


def merge(mail: InMail, verdict: Verdict) -> Outcome:
    """Add the applicant's documents and values to their file, then re-assess it.

    Once the file is past the incomplete stage nothing changes: the officer is
    told something new came in, and the applicant gets the status.
    """
    app = verdict.application
    assert app is not None  # detect gives the referred application
    read = mail.read
    mail.event("mail_in", application_id=app.id, detail="follow-up from the applicant")
    store_files(mail, app)
    if app.status in (Status.received, Status.incomplete):
        app.field_sources = {**app.field_sources, **read.field_sources}
        result = review(mail.session, app, mail.submission(first=False), mail.settings, mail.now)
        mail.answer_review(app, result)
    else:
        mail.event(
            "note",
            application_id=app.id,
            detail=f"follow-up received while {app.status}; status unchanged",
        )
        if read.attachments or triage.has_form_values(read.fields):
            # The officer must see what came in before deciding.
            mail.flag(app, "new_documents")
        mail.reply("status", app)
    return mail.done("follow_up", application=app)


def flag_foreign(mail: InMail, verdict: Verdict) -> Outcome:
    """Someone else writing about an application changes nothing; the officer is told."""
    app = verdict.application
    assert app is not None  # detect gives the referred application
    mail.event(
        "mail_in_flagged",
        application_id=app.id,
        detail="mail about this application from another address; not merged",
    )
    mail.flag(app, "foreign_follow_up")
    return mail.done(
        "flagged",
        application=app,
        reason="follow-up from an address that is not the applicant's",
    )
