"""A delivery report: matched to our mail, told to the officers, never answered."""

from __future__ import annotations

from sikm_mailbot.intake.detect import Verdict
from sikm_mailbot.intake.driver import Outcome
from sikm_mailbot.intake.handlers.common import InMail


def handle(mail: InMail, verdict: Verdict) -> Outcome:
    """A failure flags the application (``delivery_failed``); a delay or receipt is a note."""
    ours, app = mail.facts.bounced, verdict.application
    if ours is None:
        return mail.done("ignored", reason="delivery report (not for our mail)")
    action = mail.read.dsn_action
    if mail.read.is_report and action != "failed":
        # "delayed", "delivered", a read receipt: worth a note, not an alarm.
        mail.event(
            "delivery_report",
            application_id=ours.application_id,
            detail=f"our {ours.kind} mail: {action or 'report'}",
        )
        return mail.done(
            "ignored", application=app, reason=f"delivery report ({action or 'not a failure'})"
        )
    mail.event(
        "delivery_failed",
        application_id=ours.application_id,
        detail=f"our {ours.kind} mail {ours.message_id} bounced",
    )
    if app is not None:
        mail.flag(app, "delivery_failed")
    return mail.done("ignored", application=app, reason=f"bounce of our {ours.kind} mail")
