"""Typed results of reading one email: the message, its attachments, the limits used."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sikm_mailbot.domain.vocabulary import DocKind
from sikm_mailbot.sandbox import ChildLimits

# Headers that triage needs, by lower-cased name (first occurrence = the topmost).
TRIAGE_HEADERS = (
    "auto-submitted",
    "precedence",
    "list-id",
    "list-unsubscribe",
    "x-auto-response-suppress",
    "x-autoreply",
    "x-autorespond",
    "x-loop",
    "return-path",
    "content-type",
    "x-mailer",
    "user-agent",
)


@dataclass(frozen=True)
class Limits:
    """Resource limits for reading one message.

    The child limits apply per attachment parse; the parent kills a child that
    overruns `child_timeout` (wall clock).
    """

    max_attachments: int = 20
    max_attachment_bytes: int = 10 * 1024 * 1024
    max_pdf_pages: int = 20
    child_timeout: float = 20.0  # wall clock seconds per attachment
    child_cpu_seconds: int = 15
    child_memory_bytes: int = 768 * 1024 * 1024
    max_image_pixels: int = 40_000_000  # Pillow's decompression-bomb threshold

    @property
    def child(self) -> ChildLimits:
        """The sandbox limits for one parse (a Sandbox accepts these Limits directly)."""
        return ChildLimits(
            memory_bytes=self.child_memory_bytes,
            cpu_seconds=self.child_cpu_seconds,
            timeout=self.child_timeout,
        )


@dataclass
class ReadAttachment:
    """One attachment as read and classified (content first, file name second)."""

    filename: str = ""  # decoded (RFC 2047/2231), sanitised for display, never a path
    declared_type: str = ""  # Content-Type as sent
    detected_type: str = "unknown"  # from magic bytes, see attachments.sniff_type
    size: int = 0
    sha256: str = ""
    kind: str = DocKind.unknown.value  # a DocKind value
    origin: str = ""  # "" top level; "forwarded:<Message-ID or subject>" inside message/rfc822
    problem: str | None = None  # a contract attachment problem code
    reason: str = ""  # English, no personal data: why the problem / how it was classified
    fields: dict[str, str] = field(default_factory=dict)  # our form only
    field_source: str = ""  # "acroform" | "page_text" | "ocr" | ""
    text_excerpt: str = ""  # first ~300 chars of text read
    ocr_confidence: float | None = None  # mean OCR word confidence (0-100) when OCR read it
    pages: int | None = None
    width: int | None = None
    height: int | None = None
    data: bytes = field(default=b"", repr=False)


@dataclass
class ReadMessage:
    """One email, read: headers triage needs, body text and fields, attachments."""

    message_id: str = ""
    subject: str = ""
    from_addr: str = ""  # lower-case addr-spec
    from_name: str = ""
    to: list[str] = field(default_factory=list)
    date: datetime | None = None
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    reply_to: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # TRIAGE_HEADERS present
    auth_results: list[str] = field(default_factory=list)  # every Authentication-Results, top first
    from_headers: int = 0  # how many From: header fields (RFC 5322 allows one)
    from_mailboxes: int = 0  # how many addresses the first From: names
    sender_headers: int = 0  # how many Sender: header fields (at most one)
    body_text: str = ""  # the whole body (plain, or text of the HTML)
    body_new_text: str = ""  # without quoted replies, forwarded header blocks, signature
    body_fields: dict[str, str] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)  # merged: acroform > page text > body
    field_sources: dict[str, str] = field(default_factory=dict)
    attachments: list[ReadAttachment] = field(default_factory=list)
    forwarded: bool = False
    forwarded_from: str = ""
    is_report: bool = False  # multipart/report (DSN, MDN)
    report_original_message_id: str = ""
    dsn_action: str | None = None  # a delivery report's most serious Action ("failed" first)
    defects: list[str] = field(default_factory=list)
    too_many_attachments: bool = False
