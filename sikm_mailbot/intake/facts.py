"""The facts about one mail that only the store and the settings know, gathered once.

Detection (:mod:`.detect`) is pure: it decides from the mail as read plus these
facts. Every read happens here, at most once per mail, and only when the mail
could need it: the mail of ours a delivery report is about, the application a
reply refers to, whether the mail is *bound* to it (see :func:`binding_of`), and
the sender's latest application for a STATUS request that names none.

Binding (the README's policy): a mail speaks for an application's applicant only
when it comes from the application's bound address and either replies to a mail
we sent to that very address (our Message-ID in In-Reply-To/References) or passes
the office MTA's authentication. A tracking number only says which file a mail is
about; it never gives authority.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, select

from sikm_mailbot.config import Settings
from sikm_mailbot.mail import triage
from sikm_mailbot.mail.authres import UNKNOWN, AuthResult, authenticate
from sikm_mailbot.mail.extract import ReadMessage
from sikm_mailbot.store.models import Application, OutboxMessage

GUARANTOR_KINDS = ("guarantor_request", "guarantor_reminder")


def bound_address(app: Application) -> str:
    """The address an application is bound to: fixed when it was created (lower-case)."""
    return (app.applicant_email or app.sender_email).lower()


@dataclass(frozen=True)
class Facts:
    """What is known about a mail besides its content."""

    own_addresses: tuple[str, ...] = ()  # ours: mail from them, or naming them in X-Loop, loops
    command: triage.Command | None = None  # FORMULIR / STATUS, read once
    referred: Application | None = None  # the application the mail refers to
    bounced: OutboxMessage | None = None  # our mail a delivery report is about
    bounced_application: Application | None = None  # the application of that mail
    senders_latest: Application | None = None  # for a STATUS request that names no file
    auth: AuthResult = UNKNOWN  # the office MTA's verdict on the sender (RFC 8601)
    replies_to_us: bool = False  # In-Reply-To/References name our mail to this very sender
    binding: str = ""  # how the mail binds to ``referred``: "reply", "authenticated" or ""
    guarantor_reply: bool = False  # it replies to our guarantor mail to this sender, for referred


def gather_facts(session: Session, read: ReadMessage, settings: Settings) -> Facts:
    """Look up what detection and the handlers need about ``read`` (reads only)."""
    command = triage.command_of(
        read.subject,
        read.body_new_text,
        bool(read.attachments),
        triage.has_form_values(read.fields),
    )
    bounced = bounced_application = None
    if read.is_report or triage.is_bounce(read.headers):
        bounced = _our_message(session, [read.report_original_message_id, *read.references])
        if bounced is not None and bounced.application_id:
            bounced_application = session.get(Application, bounced.application_id)
    auth = authenticate(read.auth_results, read.from_addr, settings.inbox.trusted_authserv_id)
    ours = _our_messages(session, [read.in_reply_to, *read.references])
    sender = read.from_addr.lower()
    to_sender = [m for m in ours if m.application_id and m.to_addr.lower() == sender]
    referred = _referred(session, read, to_sender or ours, settings.office.tracking_prefix)
    replies_to_us = referred is not None and any(m.application_id == referred.id for m in to_sender)
    guarantor_reply = referred is not None and any(
        m.application_id == referred.id and m.kind in GUARANTOR_KINDS for m in to_sender
    )
    latest = None
    if command == "status" and referred is None:
        latest = _latest_application_of(session, read.from_addr)
    return Facts(
        own_addresses=(settings.office.address,),
        command=command,
        referred=referred,
        bounced=bounced,
        bounced_application=bounced_application,
        senders_latest=latest,
        auth=auth,
        replies_to_us=replies_to_us,
        binding=binding_of(referred, sender, auth, replies_to_us),
        guarantor_reply=guarantor_reply,
    )


def binding_of(app: Application | None, sender: str, auth: AuthResult, replies_to_us: bool) -> str:
    """How a mail from ``sender`` binds to ``app``: "reply", "authenticated" or "" (not).

    Never when authentication failed, and only from the bound address.
    """
    if app is None or auth.failed or not sender or sender.lower() != bound_address(app):
        return ""
    if replies_to_us:
        return "reply"
    return "authenticated" if auth.passed else ""


def _our_message(session: Session, ids: list[str]) -> OutboxMessage | None:
    """The first of our queued or sent mails among these Message-IDs."""
    found = _our_messages(session, ids)
    return found[0] if found else None


def _our_messages(session: Session, ids: list[str]) -> list[OutboxMessage]:
    """Our queued or sent mails among these Message-IDs, in the order the ids come."""
    ids = list(dict.fromkeys(i for i in ids if i))[:100]
    if not ids:
        return []
    rows = session.exec(select(OutboxMessage).where(OutboxMessage.message_id.in_(ids))).all()
    order = {mid: n for n, mid in enumerate(ids)}
    return sorted(rows, key=lambda m: order.get(m.message_id, len(order)))


def _referred(
    session: Session, read: ReadMessage, ours: list[OutboxMessage], prefix: str
) -> Application | None:
    """The application a mail is about: through our Message-ID, else a tracking number."""
    for mail in ours:
        if mail.application_id:
            return session.get(Application, mail.application_id)
    number = triage.find_tracking_number(read.subject, prefix)
    if number:
        return session.get(Application, number)
    return None


def _latest_application_of(session: Session, address: str) -> Application | None:
    """The newest application bound to this address."""
    if not address:
        return None
    address = address.lower()
    return session.exec(
        select(Application)
        .where(
            func.lower(Application.applicant_email) == address  # the bound address only
        )
        .order_by(Application.created_at.desc())
    ).first()
