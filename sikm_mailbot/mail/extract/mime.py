"""MIME structure of one raw email: body parts, attachments with their origin, reports.

The stdlib email package gives the bytes and the nesting (mail-parser flattens
forwarded messages and re-encodes payloads, LIBRARY-NOTES.md); header values are
decoded in :mod:`.headers`, file names in :mod:`.filenames`. Nothing here raises
on any input: problems become defect names.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from email.message import Message

from sikm_mailbot.mail.dsn import dsn_action

from .body import unflow
from .filenames import part_filename
from .headers import addresses, clean_text, decode_bytes, header_text, message_id, raw_header

MAX_DEPTH = 10
MAX_PARTS = 500


@dataclass
class RawAttachment:
    """An attachment's bytes and MIME facts, before any content check."""

    filename: str
    declared_type: str
    data: bytes
    origin: str
    charset: str | None = None


@dataclass
class ForwardedMessage:
    """A message/rfc822 part: who sent it and its body text."""

    origin: str
    from_addr: str
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)


@dataclass
class MimeReading:
    """What the MIME walk found."""

    message: Message | None = None
    plain: list[str] = field(default_factory=list)  # top-level body parts
    html: list[str] = field(default_factory=list)
    attachments: list[RawAttachment] = field(default_factory=list)
    forwarded: list[ForwardedMessage] = field(default_factory=list)
    is_report: bool = False
    report_original_message_id: str = ""
    dsn_action: str | None = None
    defects: list[str] = field(default_factory=list)
    parts_seen: int = 0


# ---------------------------------------------------------------- parsing


def parse_message(raw: bytes) -> tuple[Message | None, list[str]]:
    """Parse with policy=default; fall back to compat32; (None, defects) if both fail."""
    defects: list[str] = []
    for policy in (email.policy.default, email.policy.compat32):
        try:
            return email.message_from_bytes(raw, policy=policy), defects
        except Exception as exc:  # noqa: BLE001
            defects.append(f"ParseError:{type(exc).__name__}")
    return None, defects


# ---------------------------------------------------------------- the walk


def read_mime(raw: bytes) -> MimeReading:
    """Walk the message: body text, attachments (with origin), forwards, reports."""
    msg, defects = parse_message(raw)
    out = MimeReading(message=msg, defects=defects)
    if msg is None:
        return out
    try:
        _walk(msg, out, origin="", depth=0, sink=None, in_report=False)
    except Exception as exc:  # noqa: BLE001 - keep what the walk found so far
        out.defects.append(f"WalkError:{type(exc).__name__}")
    if out.is_report:  # read from the same parse, not from the raw bytes again
        out.dsn_action = dsn_action(msg)
    return out


def _defect_names(part: Message) -> list[str]:
    try:
        return [type(d).__name__ for d in getattr(part, "defects", [])]
    except Exception:  # noqa: BLE001
        return []


def _walk(
    part: Message,
    out: MimeReading,
    origin: str,
    depth: int,
    sink: ForwardedMessage | None,
    in_report: bool,
) -> None:
    out.parts_seen += 1
    if out.parts_seen > MAX_PARTS:
        if "TooManyParts" not in out.defects:
            out.defects.append("TooManyParts")
        return
    if depth > MAX_DEPTH:
        if "NestingTooDeep" not in out.defects:
            out.defects.append("NestingTooDeep")
        return
    out.defects.extend(_defect_names(part))
    ctype = _content_type(part)

    if ctype == "message/rfc822":
        inner = _inner_message(part)
        if inner is None:
            return
        if in_report:  # the bounced original: remember its id, do not treat as a forward
            out.report_original_message_id = out.report_original_message_id or message_id(
                raw_header(inner, "message-id")
            )
            return
        inner_id = message_id(raw_header(inner, "message-id")) or header_text(inner, "subject")
        sender = addresses(inner, "from")
        fwd = ForwardedMessage(
            origin=f"forwarded:{inner_id[:200]}", from_addr=sender[0][1] if sender else ""
        )
        out.forwarded.append(fwd)
        _walk(inner, out, fwd.origin, depth + 1, fwd, in_report=False)
        return

    if part.is_multipart():
        report = ctype == "multipart/report"
        if report and depth == 0:
            out.is_report = True
        try:
            subparts = list(part.get_payload())
        except Exception:  # noqa: BLE001
            subparts = []
        for sub in subparts:
            if isinstance(sub, Message):
                _walk(sub, out, origin, depth + 1, sink, in_report or report)
        return

    if in_report and _report_part(part, ctype, out):
        return
    if ctype.startswith("message/"):  # other message/* leaves (delivery-status, …)
        return

    filename = part_filename(part)
    try:
        disposition = (part.get_content_disposition() or "").lower()
    except Exception:  # noqa: BLE001
        disposition = ""
    if ctype in ("text/plain", "text/html") and not filename and disposition != "attachment":
        text = _text_payload(part)
        if ctype == "text/plain" and str(part.get_param("format") or "").lower() == "flowed":
            delsp = str(part.get_param("delsp") or "").lower() == "yes"
            text = unflow(text, delsp)  # Thunderbird/Apple Mail soft line breaks
        plain, html = (sink.plain, sink.html) if sink is not None else (out.plain, out.html)
        (plain if ctype == "text/plain" else html).append(text)
        return
    data = _bytes_payload(part)
    if not data and not filename:  # an empty leftover part of broken MIME, not a file
        return
    out.attachments.append(
        RawAttachment(
            filename=filename,
            declared_type=ctype,
            data=data,
            origin=origin,
            charset=_charset(part),
        )
    )


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:  # noqa: BLE001
        return "application/octet-stream"


def _inner_message(part: Message) -> Message | None:
    try:
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            return payload[0]
        if isinstance(payload, str):  # some parsers leave it unparsed
            return email.message_from_string(payload, policy=email.policy.compat32)
    except Exception:  # noqa: BLE001
        pass
    return None


def _report_part(part: Message, ctype: str, out: MimeReading) -> bool:
    """Read the original's Message-ID from a report's parts; True if the part was one."""
    if ctype in ("text/rfc822-headers", "message/disposition-notification"):
        text = _text_payload(part)
        pattern = r"(?im)^(?:original-)?message-id\s*:\s*(.+)$"
        m = re.search(pattern, text)
        if m and not out.report_original_message_id:
            out.report_original_message_id = message_id(m.group(1))
        return True
    return ctype == "message/delivery-status"


def _charset(part: Message) -> str | None:
    try:
        return part.get_content_charset()
    except Exception:  # noqa: BLE001
        return None


def _bytes_payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001
        data = None
    if isinstance(data, bytes):
        return data
    try:
        payload = part.get_payload()
        if isinstance(payload, str):
            return payload.encode("utf-8", "surrogateescape")
    except Exception:  # noqa: BLE001
        pass
    return b""


MAX_BODY_CHARS = 500_000


def _text_payload(part: Message) -> str:
    data = _bytes_payload(part)[: MAX_BODY_CHARS * 2]
    return clean_text(decode_bytes(data, _charset(part)))[:MAX_BODY_CHARS]
