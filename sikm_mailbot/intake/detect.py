"""What kind of mail is this? A pure decision from the mail as read and its facts.

No database, no writes: :func:`detect` walks :data:`PRECEDENCE` and the first rule
that claims the mail gives the :class:`Verdict`. The order of that table is the
whole precedence, each row saying why it stands where it does; the handlers
(:mod:`.handlers`) then act on the verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from sikm_mailbot.intake.facts import Facts, bound_address
from sikm_mailbot.mail import triage
from sikm_mailbot.mail.extract import ReadMessage
from sikm_mailbot.store.models import Application


class Kind(StrEnum):
    """What a mail is, as far as the desk is concerned."""

    malformed = "malformed"  # two From: (or Sender:) headers: who wrote it cannot be told
    bounce = "bounce"  # a delivery report (DSN, MDN) or a bounce
    auto_reply = "auto_reply"  # automatic, list or looping mail: never answered
    guarantor_answer = "guarantor_answer"  # the guarantor writing about their file
    unbound_status = "unbound_status"  # STATUS about a file, not bound to it: not answered
    held = "held"  # about a file but not bound to its applicant: held for the officer
    status = "status"  # STATUS: where does my application stand?
    follow_up = "follow_up"  # the applicant adding to their file
    forms = "forms"  # FORMULIR (or an empty mail): send me the blank forms
    application = "application"  # a new application
    question = "question"  # about the service, with nothing to read: gets the forms
    junk = "junk"  # not for this desk


@dataclass(frozen=True)
class Verdict:
    """The decision: the kind, the application it concerns, and why (for ignored mail)."""

    kind: Kind
    application: Application | None = None
    reason: str = ""


@dataclass(frozen=True)
class Claim:
    """A rule's "this one is mine", with what it found."""

    application: Application | None = None
    reason: str = ""


@dataclass(frozen=True)
class Rule:
    """One row of the precedence table: a kind and the test that claims a mail for it."""

    kind: Kind
    claims: Callable[[ReadMessage, Facts], Claim | None]
    why: str  # why the rule stands where it does


def is_applicant(app: Application, address: str) -> bool:
    """Whether ``address`` is the applicant's bound address (fixed at creation)."""
    return bool(address) and address.lower() == bound_address(app)


def why_not_bound(read: ReadMessage, facts: Facts) -> str:
    """Why a mail about ``facts.referred`` does not speak for its applicant (for the ledger)."""
    app = facts.referred
    if facts.auth.failed:
        return f"sender authentication failed ({', '.join(facts.auth.details)})"
    if app is not None and not is_applicant(app, read.from_addr):
        return "from an address that is not the applicant's"
    return "from the applicant's address, but not a reply to our mail and not authenticated"


# -------------------------------------------------------------------- the tests


def _ambiguous_sender(read: ReadMessage, facts: Facts) -> Claim | None:
    if read.from_headers > 1:
        return Claim(reason=f"{read.from_headers} From: headers (RFC 5322 allows one)")
    if read.sender_headers > 1:
        return Claim(reason=f"{read.sender_headers} Sender: headers (RFC 5322 allows one)")
    if read.from_mailboxes > 1:
        return Claim(reason=f"From: names {read.from_mailboxes} addresses: the sender is unclear")
    return None


def _delivery_report(read: ReadMessage, facts: Facts) -> Claim | None:
    if read.is_report or triage.is_bounce(read.headers):
        return Claim(facts.bounced_application)
    return None


def _automatic(read: ReadMessage, facts: Facts) -> Claim | None:
    reason = triage.no_reply_reason(
        read.headers,
        read.from_addr,
        read.headers.get("return-path", ""),
        own_addresses=facts.own_addresses,
    )
    return Claim(reason=reason) if reason is not None else None


def _from_its_guarantor(read: ReadMessage, facts: Facts) -> Claim | None:
    app = facts.referred
    if app is None or not app.guarantor_email or is_applicant(app, read.from_addr):
        return None
    return Claim(app) if read.from_addr.lower() == app.guarantor_email.lower() else None


def _unbound_status(read: ReadMessage, facts: Facts) -> Claim | None:
    app = facts.referred
    if app is None or facts.binding or facts.command != "status":
        return None
    return Claim(app, reason=f"status request not answered: {why_not_bound(read, facts)}")


def _not_bound(read: ReadMessage, facts: Facts) -> Claim | None:
    app = facts.referred
    if app is None or facts.binding:
        return None
    return Claim(app, reason=f"held for the officer: {why_not_bound(read, facts)}")


def _status_of_referred(read: ReadMessage, facts: Facts) -> Claim | None:
    app = facts.referred
    return Claim(app) if app is not None and facts.binding and facts.command == "status" else None


def _from_its_applicant(read: ReadMessage, facts: Facts) -> Claim | None:
    return Claim(facts.referred) if facts.referred is not None and facts.binding else None


def _asks_for_forms(read: ReadMessage, facts: Facts) -> Claim | None:
    return Claim() if facts.command == "forms" else None


def _asks_status(read: ReadMessage, facts: Facts) -> Claim | None:
    # By address alone only when the office MTA vouches for the sender; otherwise
    # the answer names no file (nothing about anyone's file to a forged From).
    if facts.command != "status":
        return None
    return Claim(facts.senders_latest if facts.auth.passed else None)


def _is_application(read: ReadMessage, facts: Facts) -> Claim | None:
    # Our form or statement is a strong sign; any other file counts only in a mail
    # that is about the service (spam with a picture is not an application).
    ours = any(a.kind in ("form", "statement") for a in read.attachments)
    typed = triage.has_form_values(read.fields)
    about = bool(read.attachments) and triage.about_service(read.subject, read.body_new_text)
    return Claim() if typed or ours or about else None


def _mentions_service(read: ReadMessage, facts: Facts) -> Claim | None:
    return Claim() if triage.about_service(read.subject, read.body_new_text) else None


def _anything(read: ReadMessage, facts: Facts) -> Claim | None:
    return Claim(reason="not an application: no form values, no documents, no mention of SIKM")


# The first rule that claims a mail decides what it is.
PRECEDENCE: tuple[Rule, ...] = (
    Rule(
        Kind.malformed,
        _ambiguous_sender,
        "first: with two senders every later rule could be fooled about who wrote",
    ),
    Rule(Kind.bounce, _delivery_report, "a report is never answered, whatever it quotes"),
    Rule(Kind.auto_reply, _automatic, "before every rule that answers or acts on a mail"),
    Rule(
        Kind.guarantor_answer,
        _from_its_guarantor,
        "before the follow-ups: the guarantor's SETUJU refers to the file too",
    ),
    Rule(
        Kind.unbound_status,
        _unbound_status,
        "a STATUS not bound to its file learns nothing, and is not worth the officer's time",
    ),
    Rule(
        Kind.held,
        _not_bound,
        "mail about a file not bound to its applicant changes nothing, whatever it carries",
    ),
    Rule(Kind.status, _status_of_referred, "STATUS in a bound reply is about its file"),
    Rule(Kind.follow_up, _from_its_applicant, "before the commands: a bound reply adds to it"),
    Rule(Kind.forms, _asks_for_forms, "a command carries no documents and no form values"),
    Rule(Kind.status, _asks_status, "STATUS naming no file: the authenticated sender's latest"),
    Rule(Kind.application, _is_application, "a form, our letter, or documents about SIKM"),
    Rule(Kind.question, _mentions_service, "about the service but nothing to read"),
    Rule(Kind.junk, _anything, "last: whatever no rule claimed"),
)


def detect(read: ReadMessage, facts: Facts) -> Verdict:
    """The verdict on ``read``: the first rule of :data:`PRECEDENCE` that claims it."""
    for rule in PRECEDENCE:
        claim = rule.claims(read, facts)
        if claim is not None:
            return Verdict(rule.kind, claim.application, claim.reason)
    raise AssertionError("the last rule claims every mail")  # pragma: no cover
