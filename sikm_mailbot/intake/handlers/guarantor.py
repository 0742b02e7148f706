"""The guarantor's SETUJU / TOLAK: a reply to our request, from the guarantor's address."""

from __future__ import annotations

from sikm_mailbot.desk import guarantor as desk_guarantor
from sikm_mailbot.domain.vocabulary import Status
from sikm_mailbot.intake.detect import Verdict
from sikm_mailbot.intake.driver import Outcome
from sikm_mailbot.intake.handlers.common import InMail
from sikm_mailbot.mail import triage


def handle(mail: InMail, verdict: Verdict) -> Outcome:
    """Act on a clear answer that replies to our request while the file waits for it.

    It counts only when its In-Reply-To/References name our guarantor request (or
    reminder) sent to this address for this file, and authentication did not fail.
    A refusal also counts while the file is back in review after a confirmation
    (the guarantor withdraws). Anything else is flagged for the officer and changes
    nothing.
    """
    app = verdict.application
    assert app is not None  # detect gives the referred application
    read, facts = mail.read, mail.facts
    answer = triage.guarantor_answer(read.subject, read.body_new_text)
    withdrawal = answer == "refuse" and app.status == Status.under_review
    trusted = facts.guarantor_reply and not facts.auth.failed
    if answer and trusted and (app.status == Status.awaiting_guarantor or withdrawal):
        desk_guarantor.answered(
            mail.session, app, answer, mail.settings, mail.now, ledger_id=mail.entry.id
        )
        return mail.done("guarantor_answer", application=app)
    if facts.auth.failed:
        failed = ", ".join(facts.auth.details)
        flag, detail = "guarantor_unverified", f"guarantor answer failed authentication ({failed})"
    elif not facts.guarantor_reply:
        flag, detail = (
            "guarantor_unverified",
            "guarantor mail that does not reply to our request to this address",
        )
    elif answer is None:
        flag, detail = "guarantor_unclear", "guarantor mail without a clear SETUJU/TOLAK"
    else:
        flag, detail = "guarantor_unclear", f"guarantor answer while {app.status}"
    mail.event(
        "mail_in_flagged",
        application_id=app.id,
        actor=f"guarantor <{app.guarantor_email}>",
        detail=detail,
    )
    mail.flag(app, flag)
    return mail.done("flagged", application=app, reason=detail)
