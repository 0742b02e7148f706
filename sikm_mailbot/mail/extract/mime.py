"""MIME structure of one raw email: headers, body parts, attachments with their origin.

The stdlib email package gives the bytes and the nesting (mail-parser flattens
forwarded messages and re-encodes payloads, LIBRARY-NOTES.md); mail-parser's
helpers decode headers and addresses leniently. Nothing here raises on any input:
problems become defect names.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.header import decode_header
from email.message import Message

from mailparser.utils import get_addresses

from .body import unflow

MAX_DEPTH = 10
MAX_PARTS = 500
MAX_FILENAME = 120


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


def _clean(text: str) -> str:
    """Undo surrogateescape from undecodable header bytes; drop control characters."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text)


def raw_header(msg: Message, name: str) -> str:
    """The first occurrence of a header, unparsed and unfolded ("" when absent)."""
    try:
        for key, value in msg.raw_items():
            if key.lower() == name:
                return _clean(re.sub(r"\r?\n[ \t]*", " ", str(value))).strip()
    except Exception:  # noqa: BLE001
        pass
    return ""


# Mislabelled charsets seen in the wild: decode with the superset.
_CHARSET_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "iso-8859-1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "unknown-8bit": "utf-8",
}


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words leniently (bad bytes become U+FFFD)."""
    if "=?" not in value:
        return _clean(value)
    try:
        chunks = decode_header(value)
    except Exception:  # noqa: BLE001
        return _clean(value)
    out = []
    for data, charset in chunks:
        if isinstance(data, str):
            out.append(data)
            continue
        cs = (charset or "utf-8").lower()
        cs = _CHARSET_SUPERSETS.get(cs, cs)
        try:
            out.append(data.decode(cs, "replace"))
        except LookupError:
            out.append(data.decode("utf-8", "replace"))
    return _clean("".join(out))


def header_text(msg: Message, name: str) -> str:
    """A header decoded from RFC 2047 encoded words (lenient)."""
    return decode_words(raw_header(msg, name))


def addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    """(display name, lower-case addr-spec) pairs of an address header."""
    value = raw_header(msg, name)
    if not value:
        return []
    try:
        pairs = get_addresses(value)
    except Exception:  # noqa: BLE001
        pairs = email.utils.getaddresses([value])
    out = []
    for display, addr in pairs:
        addr = _clean(addr).strip().strip("<>").lower()
        if addr:
            out.append((decode_words(display).strip(), addr))
    return out


def message_id(value: str) -> str:
    """The <id> of a Message-ID-like header (the raw value if it has no brackets)."""
    m = re.search(r"<[^<>\s]+>", value)
    return m.group(0) if m else value.strip()[:500]


def message_ids(value: str) -> list[str]:
    """All <id> tokens of a References-like header."""
    return re.findall(r"<[^<>\s]+>", value)[:100]


def header_date(msg: Message) -> datetime | None:
    """The Date header, or None when absent or unreadable."""
    value = raw_header(msg, "date")
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value)
    except Exception:  # noqa: BLE001
        return None


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

    filename = _filename(part)
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
    charset = (_charset(part) or "utf-8").lower()
    charset = _CHARSET_SUPERSETS.get(charset, charset)
    try:
        text = data.decode(charset, errors="replace")
    except LookupError:
        text = data.decode("utf-8", errors="replace")
    return _clean(text)[:MAX_BODY_CHARS]


def _filename(part: Message) -> str:
    """The decoded file name (RFC 2231 via the stdlib, RFC 2047 words decoded), or ""."""
    name = None
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001
        name = None
    if not name:
        try:
            name = part.get_param("name")
            if isinstance(name, tuple):  # RFC 2231 triple
                name = email.utils.collapse_rfc2231_value(name)
        except Exception:  # noqa: BLE001
            name = None
    if not name:
        return ""
    name = str(name)
    return sanitize_filename(decode_words(name))


def sanitize_filename(name: str) -> str:
    """A display-safe file name: no directories, no control characters, bounded length."""
    name = _clean(name)
    name = re.split(r"[\\/]", name)[-1]
    name = re.sub(r"\s+", " ", name).strip().lstrip(".").strip()
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:10] if dot else ""
        name = (stem or name)[: MAX_FILENAME - len(ext) - 1] + ("." + ext if ext else "")
    return name


_EXT_BY_TYPE = {
    "pdf": "pdf",
    "jpeg": "jpg",
    "png": "png",
    "webp": "webp",
    "gif": "gif",
    "tiff": "tif",
    "bmp": "bmp",
    "heic": "heic",
    "zip": "zip",
    "rar": "rar",
    "7z": "7z",
    "docx": "docx",
    "doc": "doc",
    "tnef": "dat",
    "text": "txt",
}


def fallback_filename(index: int, detected_type: str, declared_type: str) -> str:
    """A name for an attachment sent without one: "attachment-1.pdf"."""
    ext = _EXT_BY_TYPE.get(detected_type)
    if ext is None:
        guess = mimetypes.guess_extension(declared_type or "") or ".bin"
        ext = guess.lstrip(".")
    return f"attachment-{index}.{ext}"
