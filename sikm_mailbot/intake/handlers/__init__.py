"""One handler per kind of mail, and the table from a verdict's kind to its handler.

A handler acts on a mail that :mod:`sikm_mailbot.intake.detect` has already
classified: it makes the database changes and queues the reply, in the caller's
transaction, and returns the ledger outcome. It never decides what the mail is.
"""

from __future__ import annotations

from collections.abc import Callable

from sikm_mailbot.intake.detect import Kind, Verdict
from sikm_mailbot.intake.driver import Outcome
from sikm_mailbot.intake.handlers import (
    application,
    bounce,
    command,
    follow_up,
    guarantor,
    junk,
)
from sikm_mailbot.intake.handlers.common import InMail

Handler = Callable[[InMail, Verdict], Outcome]

HANDLERS: dict[Kind, Handler] = {
    Kind.malformed: junk.quarantine,
    Kind.bounce: bounce.handle,
    Kind.auto_reply: junk.ignore,
    Kind.guarantor_answer: guarantor.handle,
    Kind.unbound_status: command.unbound_status,
    Kind.held: follow_up.hold,
    Kind.status: command.status,
    Kind.follow_up: follow_up.merge,
    Kind.forms: command.forms,
    Kind.application: application.handle,
    Kind.question: command.forms,
    Kind.junk: junk.quarantine,
}
