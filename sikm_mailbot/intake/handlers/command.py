"""Commands: FORMULIR (the blank forms) and STATUS (where does my file stand?)."""

from __future__ import annotations

from sikm_mailbot.intake.detect import Verdict
from sikm_mailbot.intake.driver import Outcome
from sikm_mailbot.intake.handlers.common import InMail
from sikm_mailbot.outbox.compose import MailDetails
from sikm_mailbot.outbox.notify import OutgoingFile
from sikm_mailbot.resources import blank_forms


def forms(mail: InMail, verdict: Verdict) -> Outcome:
    """Send the blank forms and the documents list (also the answer to a question)."""
    files = tuple(OutgoingFile(name, "application/pdf", data) for name, data in blank_forms())
    details = MailDetails(attached_files=tuple(f.filename for f in files))
    mail.reply("forms", details=details, attachments=files)
    return mail.done("forms_request")


def status(mail: InMail, verdict: Verdict) -> Outcome:
    """The state of the application the mail is about; "not understood" when there is none."""
    app = verdict.application
    if app is None:
        mail.reply("not_understood")
        return mail.done("status_request", reason="no application from this sender")
    mail.event("mail_in", application_id=app.id, detail="status request")
    mail.reply("status", app)
    return mail.done("status_request", application=app)


def unbound_status(mail: InMail, verdict: Verdict) -> Outcome:
    """A STATUS about a file it is not bound to: noted on the file, never answered."""
    app = verdict.application
    assert app is not None  # detect gives the referred application
    mail.event("mail_in_ignored", application_id=app.id, detail=verdict.reason)
    return mail.done("ignored", application=app, reason=verdict.reason)
