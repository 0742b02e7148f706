"""The facts about one mail that only the store and the settings know, gathered once.

Detection (:mod:`.detect`) is pure: it decides from the mail as read plus these
facts. Every read happens here, at most once per mail, and only when the mail
could need it: the mail of ours a delivery report is about, the application a
reply refers to, and the sender's latest application for a STATUS request that
names none.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_
from sqlmodel import Session, select

from sikm_mailbot.config import Settings
from sikm_mailbot.mail import triage
from sikm_mailbot.mail.extract import ReadMessage
from sikm_mailbot.store.models import Application, OutboxMessage


@dataclass(frozen=True)
class Facts:
    """What is known about a mail besides its content."""

    own_addresses: tuple[str, ...] = ()  # ours: mail from them, or naming them in X-Loop, loops
    command: triage.Command | None = None  # FORMULIR / STATUS, read once
    referred: Application | None = None  # the application the mail refers to
    bounced: OutboxMessage | None = None  # our mail a delivery report is about
    bounced_application: Application | None = None  # the application of that mail
    senders_latest: Application | None = None  # for a STATUS request that names no file


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
    referred = _referred(session, read, settings.office.tracking_prefix)
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
    )


def _our_message(session: Session, ids: list[str]) -> OutboxMessage | None:
    """The first of our queued or sent mails among these Message-IDs."""
    ids = [i for i in ids if i]
    if not ids:
        return None
    return session.exec(select(OutboxMessage).where(OutboxMessage.message_id.in_(ids))).first()


def _referred(session: Session, read: ReadMessage, prefix: str) -> Application | None:
    """The application a reply is about: through our Message-ID, else a tracking number."""
    ours = _our_message(session, [read.in_reply_to, *read.references])
    if ours is not None and ours.application_id:
        return session.get(Application, ours.application_id)
    number = triage.find_tracking_number(read.subject, prefix)
    if number:
        return session.get(Application, number)
    return None


def _latest_application_of(session: Session, address: str) -> Application | None:
    """The newest application this address sent or is the applicant of."""
    if not address:
        return None
    address = address.lower()
    return session.exec(
        select(Application)
        .where(
            or_(
                func.lower(Application.applicant_email) == address,
                func.lower(Application.sender_email) == address,
            )
        )
        .order_by(Application.created_at.desc())
    ).first()
