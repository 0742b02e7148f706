"""Mail that is not answered: automatic mail (recorded) and junk (quarantined)."""

from __future__ import annotations

from sikm_mailbot.intake.detect import Verdict
from sikm_mailbot.intake.driver import Outcome
from sikm_mailbot.intake.handlers.common import InMail
from sikm_mailbot.store import ledger


def ignore(mail: InMail, verdict: Verdict) -> Outcome:
    """Auto-replies, list mail, null senders, our own mail back: recorded, never answered."""
    return mail.done("ignored", reason=verdict.reason)


def quarantine(mail: InMail, verdict: Verdict) -> Outcome:
    """Not for this desk: quarantined with the reason, no reply."""
    return Outcome(
        ledger.STAGE_QUARANTINED, "quarantined", dest="quarantine", reason=verdict.reason
    )
