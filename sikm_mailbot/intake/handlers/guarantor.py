"""The guarantor's SETUJU / TOLAK, from the guarantor's own address only."""

from __future__ import annotations

from sikm_mailbot.desk import guarantor as desk_guarantor
from sikm_mailbot.domain.vocabulary import Status
from sikm_mailbot.intake.detect import Verdict
from sikm_mailbot.intake.driver import Outcome
from sikm_mailbot.intake.handlers.common import InMail
from sikm_mailbot.mail import triage


def handle(mail: InMail, verdict: Verdict) -> Outcome:
    """Act on a clear, authenticated answer while the file waits for it.

    A refusal also counts while the file is back in review after a confirmation
    (the guarantor withdraws). Mail that fails sender authentication, is unclear,
    or comes when no answer is expected is flagged for the officer and changes
    nothing.
    """
    app = verdict.application
    assert app is not None  # detect gives the referred application
    read = mail.read
    answer = triage.guarantor_answer(read.subject, read.body_new_text)
    failures = triage.auth_failures(read.headers)
    withdrawal = answer == "refuse" and app.status == Status.under_review
    if answer and not failures and (app.status == Status.awaiting_guarantor or withdrawal):
        desk_guarantor.answered(
            mail.session, app, answer, mail.settings, mail.now, ledger_id=mail.entry.id
        )
        return mail.done("guarantor_answer", application=app)
    if failures:
        flag, detail = "guarantor_unverified", f"guarantor answer failed {', '.join(failures)}"
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
