"""read_message: one raw email in, one ReadMessage out (never raises)."""

from __future__ import annotations

import time
from typing import Any

from sikm_mailbot.sandbox import Sandbox, shared_sandbox

from .attachments import read_attachment
from .body import split_body
from .cleaning import clean_message
from .fields import parse_fields
from .filenames import fallback_filename
from .filetypes import sniff_type
from .headers import (
    addresses,
    header_date,
    header_text,
    mailbox_count,
    message_id,
    message_ids,
    raw_header,
)
from .html_text import html_to_text
from .mime import read_mime
from .model import TRIAGE_HEADERS, Limits, ReadAttachment, ReadMessage


class _MessageBudget:
    """The sandbox seen through one message's time budget.

    Every job gets at most the time left of ``limits.child_timeout`` for the whole
    message, so a mail with twenty slow PDFs takes one parse timeout, not twenty.
    Files not reached in time get an error reply (an unreadable-attachment reason).
    """

    def __init__(self, sandbox: Sandbox, seconds: float) -> None:
        self.sandbox = sandbox
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def run(self, op: str, data: bytes, **options: Any) -> dict[str, Any]:
        left = self.deadline - time.monotonic()
        if left <= 0.05:
            return {
                "ok": False,
                "error": f"not read: the {self.seconds:g} s for reading this "
                "message's files ran out",
            }
        return self.sandbox.run(op, data, timeout=left, **options)


def read_message(
    raw: bytes, limits: Limits = Limits(), *, sandbox: Sandbox | None = None
) -> ReadMessage:
    """Read one raw email into a structured, classified ReadMessage.

    PDFs and images are parsed in `sandbox` (default: a process-wide worker for
    these limits, kept between messages), all of them together within
    ``limits.child_timeout`` seconds. Never raises: anything that goes wrong
    becomes a defect name or an attachment problem.
    """
    try:
        budget = _MessageBudget(sandbox or shared_sandbox(limits), limits.child_timeout)
        return _read(raw, limits, budget)  # type: ignore[arg-type] - a Sandbox look-alike
    except Exception as exc:  # noqa: BLE001 - the last line of defence for intake
        return ReadMessage(defects=[f"ExtractionFailed:{type(exc).__name__}"])


def _body_text(plain: list[str], html: list[str]) -> str:
    if any(p.strip() for p in plain):
        return "\n".join(p.rstrip() for p in plain).strip()
    return "\n".join(html_to_text(h) for h in html).strip()


def _merge(into: dict[str, str], values: dict[str, str]) -> None:
    for key, value in values.items():
        if value and not into.get(key):
            into[key] = value


def _read(raw: bytes, limits: Limits, sandbox: Sandbox) -> ReadMessage:
    mime = read_mime(raw if isinstance(raw, bytes) else bytes(raw))
    out = ReadMessage(defects=list(dict.fromkeys(mime.defects)))
    msg = mime.message
    if msg is not None:
        out.message_id = message_id(raw_header(msg, "message-id"))
        out.subject = header_text(msg, "subject")
        sender = addresses(msg, "from")
        if sender:
            out.from_name, out.from_addr = sender[0]
        out.to = [addr for _, addr in addresses(msg, "to")]
        out.date = header_date(msg)
        out.in_reply_to = message_id(raw_header(msg, "in-reply-to"))
        out.references = message_ids(raw_header(msg, "references"))
        reply_to = addresses(msg, "reply-to")
        out.reply_to = reply_to[0][1] if reply_to else ""
        out.auth_results = _all_values(msg, "authentication-results")
        out.from_headers = len(_all_values(msg, "from"))
        out.from_mailboxes = mailbox_count(msg, "from")
        out.sender_headers = len(_all_values(msg, "sender"))
        for name in TRIAGE_HEADERS:
            value = header_text(msg, name) if name != "return-path" else raw_header(msg, name)
            if value or _has_header(msg, name):
                out.headers[name] = value
    out.is_report = mime.is_report
    out.report_original_message_id = mime.report_original_message_id
    out.dsn_action = mime.dsn_action

    # Body: what was typed now, plus the bodies of forwarded messages (for fields).
    out.body_text = _body_text(mime.plain, mime.html)
    parts = split_body(out.body_text)
    out.body_new_text = parts.new_text
    _merge(out.body_fields, parse_fields(parts.new_text))
    for fwd in mime.forwarded:
        inner = split_body(_body_text(fwd.plain, fwd.html))
        _merge(out.body_fields, parse_fields(inner.new_text))
        for block in inner.forwarded:
            _merge(out.body_fields, parse_fields(block.text))
    for block in parts.forwarded:
        _merge(out.body_fields, parse_fields(block.text))
    out.forwarded = bool(mime.forwarded or parts.forwarded)
    senders = [f.from_addr for f in mime.forwarded] + [b.from_addr for b in parts.forwarded]
    out.forwarded_from = next((s for s in senders if s), "")

    # Attachments: the first max_attachments are read, in message order.
    raws = mime.attachments
    if len(raws) > limits.max_attachments:
        out.too_many_attachments = True
        raws = raws[: limits.max_attachments]
    for index, item in enumerate(raws, start=1):
        name = item.filename or fallback_filename(index, sniff_type(item.data), item.declared_type)
        out.attachments.append(
            read_attachment(
                item.data, name, item.declared_type, item.origin, limits, sandbox, item.charset
            )
        )

    _merge_fields(out)
    return clean_message(out)  # control and bidi characters go here, once


def _all_values(msg: object, name: str) -> list[str]:
    """Every value of header ``name``, topmost first, unfolded (for authentication)."""
    try:
        return [
            " ".join(str(v).split())
            for k, v in msg.raw_items()  # type: ignore[attr-defined]
            if k.lower() == name
        ]
    except Exception:  # noqa: BLE001
        return []


def _has_header(msg: object, name: str) -> bool:
    try:
        return any(k.lower() == name for k, _ in msg.raw_items())  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001
        return False


def _merge_fields(out: ReadMessage) -> None:
    """fields = our-form AcroForm > form page text > body; per key first non-empty wins."""
    ranked: list[tuple[str, ReadAttachment | None]] = []
    for source in ("acroform", "page_text", "ocr"):
        ranked += [(source, a) for a in out.attachments if a.field_source == source]
    for source, att in [*ranked, ("body", None)]:
        values = att.fields if att is not None else out.body_fields
        label = f"{source}:{att.filename}" if att is not None else "body"
        for key, value in values.items():
            if value and not out.fields.get(key):
                out.fields[key] = value
                out.field_sources[key] = label
