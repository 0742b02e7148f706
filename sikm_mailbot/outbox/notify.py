"""The one road out: every mail the bot sends is a :class:`Notice` given to :func:`notify`.

Intake replies and the desk's decision and guarantor mails alike: the notice says
what to send (a compose kind and its typed details), to whom (exactly one
address), about which application, threaded how, and with which files. ``notify``
renders it, and queues it in the caller's transaction (see :mod:`.queue`).

Threading differs by road, on purpose:

* an answer to an incoming mail (:meth:`Threading.answering`) is In-Reply-To that
  mail, keeping its References: the citizen's client shows it in their thread;
* a mail about an application that no mail caused right now — a decision, the
  guarantor's request (:meth:`Threading.on_application`) — is threaded on the
  applicant's first mail, the one that opened the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from sikm_mailbot.config import Settings
from sikm_mailbot.outbox.compose import NO_DETAILS, MailDetails, build_context, render
from sikm_mailbot.outbox.queue import enqueue
from sikm_mailbot.store.audit import BOT
from sikm_mailbot.store.models import Application, OutboxMessage


@dataclass(frozen=True)
class Threading:
    """In-Reply-To and References of a mail (untrusted ids; the queue keeps valid ones)."""

    in_reply_to: str = ""
    references: tuple[str, ...] = ()

    @classmethod
    def answering(cls, message_id: str, references: Sequence[str]) -> Threading:
        """An answer to the incoming mail ``message_id`` with its ``references``."""
        return cls(message_id, tuple(references))

    @classmethod
    def on_application(cls, app: Application) -> Threading:
        """A mail about ``app``, threaded on the applicant's first mail."""
        first = app.first_message_id
        return cls(first, (first,) if first else ())


@dataclass(frozen=True)
class OutgoingFile:
    """A file attached to our mail."""

    filename: str
    mime_type: str
    data: bytes


@dataclass(frozen=True)
class Notice:
    """One mail to send: the request every sender fills in."""

    kind: str  # a compose.KINDS value
    to: str  # exactly one recipient address
    application: Application | None = None
    thread: Threading = Threading()
    details: MailDetails = NO_DETAILS
    attachments: tuple[OutgoingFile, ...] = ()
    ledger_id: int | None = None  # the incoming mail that caused it, if any
    actor: str = BOT  # who caused it, for the audit trail

    @classmethod
    def about(
        cls,
        app: Application,
        kind: str,
        *,
        to: str | None = None,
        actor: str = BOT,
        details: MailDetails = NO_DETAILS,
        attachments: tuple[OutgoingFile, ...] = (),
    ) -> Notice:
        """A mail about ``app`` to its applicant (or ``to``), threaded on their first mail."""
        return cls(
            kind=kind,
            to=to or app.applicant_email or app.sender_email,
            application=app,
            thread=Threading.on_application(app),
            details=details,
            attachments=attachments,
            actor=actor,
        )


def notify(
    session: Session, notice: Notice, settings: Settings, *, now: datetime
) -> OutboxMessage | None:
    """Render ``notice`` and queue it in ``session`` (no commit); None when suppressed.

    Suppressed (with a ``reply_suppressed`` event) when the recipient is not one
    valid address or the per-recipient cap is reached. Raises
    :class:`~sikm_mailbot.outbox.compose.ReplyError` for an unknown kind or a
    broken template, so the caller's transaction fails as a whole.
    """
    context = build_context(
        notice.application, office=settings.office, desk=settings.desk, details=notice.details
    )
    rendered = render(notice.kind, context, settings.office)
    return enqueue(session, notice, rendered, settings, now=now)
