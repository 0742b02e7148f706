"""Mail about an existing application: the applicant's bound follow-up, or held mail."""

from __future__ import annotations

from sikm_mailbot.desk.review import review
from sikm_mailbot.domain.vocabulary import Status
from sikm_mailbot.intake.detect import Verdict
from sikm_mailbot.intake.driver import Outcome
from sikm_mailbot.intake.handlers.common import InMail, store_files
from sikm_mailbot.mail import triage

HELD_FLAG = "held_mail"  # the application has mail waiting for the officer's word


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


def hold(mail: InMail, verdict: Verdict) -> Outcome:
    """Mail about a file that is not bound to its applicant: recorded, held, unanswered.

    Nothing of it reaches the application (no files, no values); the officer sees
    the flag and the event, and may accept it with ``sikm accept-mail LEDGER_ID``.
    """
    app = verdict.application
    assert app is not None  # detect gives the referred application
    mail.event(
        "mail_held",
        application_id=app.id,
        detail=f"mail from <{mail.read.from_addr}> {verdict.reason}; not merged",
        data={"from": mail.read.from_addr, "auth": mail.facts.auth.state.value},
    )
    mail.flag(app, HELD_FLAG)
    return mail.done("held", application=app, reason=verdict.reason)
