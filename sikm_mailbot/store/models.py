"""Database tables (SQLModel). Portable SQL only: the store must also run on PostgreSQL.

The schema is created and upgraded by the Alembic migrations in ``migrations/``;
change a table here and add a migration beside it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class LedgerEntry(SQLModel, table=True):
    """One incoming message, recorded once, with how far it got through the stages.

    ``dedupe_key`` makes "the same message seen twice" one row: the normalised
    Message-ID plus sender when the mail has a Message-ID, else the sha256 of the
    raw bytes.
    """

    __tablename__ = "ledger"
    __table_args__ = (
        # Migration 0002: the per-message "recorded already?" lookup and the
        # per-poll "not yet moved out" query.
        Index("ix_ledger_location", "source", "folder", "uidvalidity", "uid"),
        Index("ix_ledger_unmoved", "moved", "source", "folder", "uidvalidity"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=16)  # "imap" | "maildir"
    folder: str = Field(max_length=255)
    uidvalidity: int = 0
    uid: str = Field(max_length=255)
    message_id: str = Field(default="", max_length=998, index=True)
    dedupe_key: str = Field(max_length=128, unique=True)
    sha256: str = Field(max_length=64, index=True)
    size: int
    from_addr: str = Field(default="", max_length=320)
    subject: str = Field(default="", max_length=998)
    received_at: datetime = Field(default_factory=utcnow)
    stage: str = Field(default="recorded", max_length=32, index=True)
    outcome: str = Field(default="", max_length=32)
    reason: str = Field(default="")  # why ignored/quarantined, for the officer
    error: str = Field(default="")
    attempts: int = 0
    moved: bool = False
    application_id: str | None = Field(default=None, max_length=32, index=True)
    updated_at: datetime = Field(default_factory=utcnow)


class SourceState(SQLModel, table=True):
    """The UID watermark of one source folder at one UIDVALIDITY."""

    __tablename__ = "source_state"
    __table_args__ = (UniqueConstraint("source_key", "uidvalidity"),)

    id: int | None = Field(default=None, primary_key=True)
    source_key: str = Field(max_length=512)  # kind://user@host/folder or maildir path
    uidvalidity: int
    last_uid: int = 0
    updated_at: datetime = Field(default_factory=utcnow)


class Lease(SQLModel, table=True):
    """A named lease (e.g. the intake daemon's): one holder at a time, renewed by heartbeat."""

    __tablename__ = "lease"

    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=255)
    expires_at: datetime


class Counter(SQLModel, table=True):
    """Sequence numbers (tracking numbers per year), portable across databases."""

    __tablename__ = "counter"

    name: str = Field(primary_key=True, max_length=64)
    value: int = 0


class Application(SQLModel, table=True):
    """An SIKM application: what was read, what is missing, where it stands."""

    __tablename__ = "application"
    __table_args__ = (
        # Migration 0002: `sikm list --status S`, oldest first.
        Index("ix_application_status_created", "status", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=32)  # tracking number SIKM-YYYY-NNNNNN
    status: str = Field(max_length=32, index=True)
    category: str | None = Field(default=None, max_length=32, index=True)
    trip_type: str | None = Field(default=None, max_length=16)
    applicant_email: str = Field(default="", max_length=320, index=True)
    sender_email: str = Field(default="", max_length=320)
    name: str = Field(default="", max_length=255, index=True)  # normalised nama, for search
    nik_last4: str = Field(default="", max_length=4, index=True)
    guarantor_email: str = Field(default="", max_length=320, index=True)
    fields: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    field_sources: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    missing: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    problems: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    flags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Documents an officer asked for (request-docs) and not yet received, with the
    # officer's note: they stay "missing" whatever the automatic assessment says.
    requested_docs: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    officer_note: str = Field(default="", sa_column_kwargs={"server_default": ""})
    first_message_id: str = Field(default="", max_length=998)  # the citizen's Message-ID
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None  # entered under_review
    due_at: datetime | None = Field(default=None, index=True)
    guarantor_requested_at: datetime | None = None
    guarantor_reminded_at: datetime | None = None
    decided_at: datetime | None = None
    decided_by: str = Field(default="", max_length=255)
    decision_reason: str = Field(default="", max_length=64)
    decision_note: str = Field(default="")
    permit_number: str | None = Field(default=None, max_length=64)
    version: int = 0  # optimistic concurrency: decisions update WHERE version = seen


class Attachment(SQLModel, table=True):
    """A file that came with an application (stored content-addressed, mode 0600)."""

    __tablename__ = "attachment"

    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(foreign_key="application.id", index=True, max_length=32)
    ledger_id: int | None = Field(default=None, foreign_key="ledger.id")
    filename: str = Field(max_length=255)
    kind: str = Field(max_length=32)
    declared_type: str = Field(default="", max_length=255)
    detected_type: str = Field(default="", max_length=32)
    sha256: str = Field(max_length=64)
    size: int
    origin: str = Field(default="", max_length=998)
    problem: str | None = Field(default=None, max_length=64)
    reason: str = Field(default="")
    field_source: str = Field(default="", max_length=32)
    fields: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    text_excerpt: str = Field(default="")
    pages: int | None = None
    width: int | None = None
    height: int | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Event(SQLModel, table=True):
    """Append-only audit trail: every state change and every mail in or out."""

    __tablename__ = "event"

    id: int | None = Field(default=None, primary_key=True)
    application_id: str | None = Field(
        default=None, foreign_key="application.id", index=True, max_length=32
    )
    ledger_id: int | None = Field(default=None, foreign_key="ledger.id", index=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(max_length=255)  # officer name, OS user, or "bot"
    action: str = Field(max_length=64)  # e.g. mail_in, status, mail_out, delivery_failed
    from_status: str | None = Field(default=None, max_length=32)
    to_status: str | None = Field(default=None, max_length=32)
    detail: str = Field(default="")
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class OutboxMessage(SQLModel, table=True):
    """A reply queued for delivery; its Message-ID is fixed when queued."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=998, unique=True)
    application_id: str | None = Field(
        default=None, foreign_key="application.id", index=True, max_length=32
    )
    ledger_id: int | None = Field(default=None, foreign_key="ledger.id", index=True)
    kind: str = Field(max_length=32)  # ack, incomplete, unreadable, forms, status, ...
    to_addr: str = Field(max_length=320, index=True)
    subject: str = Field(default="", max_length=998)
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    status: str = Field(default="queued", max_length=16, index=True)  # queued|sent|failed
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True)
    last_error: str = Field(default="")
    created_at: datetime = Field(default_factory=utcnow, index=True)
    sent_at: datetime | None = None


class Permit(SQLModel, table=True):
    """An issued permit: the sealed token, the signed PDF (in the file store), revocation."""

    __tablename__ = "permit"

    number: str = Field(primary_key=True, max_length=64)
    application_id: str = Field(foreign_key="application.id", index=True, max_length=32)
    token: str
    pdf_sha256: str = Field(max_length=64)
    signer_kid: str = Field(max_length=32)
    issued_at: datetime = Field(default_factory=utcnow)
    valid_from: date
    valid_until: date
    issued_by: str = Field(default="", max_length=255)
    revoked_at: datetime | None = None
    revoked_by: str = Field(default="", max_length=255)
    revoke_reason: str = Field(default="")
