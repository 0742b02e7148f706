"""Header values of one message, decoded leniently: text, addresses, ids, the date.

Nothing here raises on any input: an unreadable header reads as "" (or None).
"""

from __future__ import annotations

import email.utils
import re
from datetime import datetime
from email.header import decode_header
from email.message import Message

from mailparser.utils import get_addresses


def clean_text(text: str) -> str:
    """Undo surrogateescape from undecodable header bytes; drop control characters."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text)


# Mislabelled charsets seen in the wild: decode with the superset.
CHARSET_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "iso-8859-1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "unknown-8bit": "utf-8",
}


def decode_bytes(data: bytes, charset: str | None) -> str:
    """``data`` decoded as ``charset`` (its superset when mislabelled; UTF-8 when unknown)."""
    name = (charset or "utf-8").lower()
    name = CHARSET_SUPERSETS.get(name, name)
    try:
        return data.decode(name, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def raw_header(msg: Message, name: str) -> str:
    """The first occurrence of a header, unparsed and unfolded ("" when absent)."""
    try:
        for key, value in msg.raw_items():
            if key.lower() == name:
                return clean_text(re.sub(r"\r?\n[ \t]*", " ", str(value))).strip()
    except Exception:  # noqa: BLE001
        pass
    return ""


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words leniently (bad bytes become U+FFFD)."""
    if "=?" not in value:
        return clean_text(value)
    try:
        chunks = decode_header(value)
    except Exception:  # noqa: BLE001
        return clean_text(value)
    out = []
    for data, charset in chunks:
        if isinstance(data, str):
            out.append(data)
            continue
        out.append(decode_bytes(data, charset))
    return clean_text("".join(out))


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
        addr = clean_text(addr).strip().strip("<>").lower()
        if addr:
            out.append((decode_words(display).strip(), addr))
    return out


def mailbox_count(msg: Message, name: str) -> int:
    """How many mailboxes an address header names, by the most suspicious reading.

    Parsers disagree on malformed lists (``a@x; b@y`` is one address to one parser
    and two to another); a sender who wrote something that can be read as two
    mailboxes is treated as having written two.
    """
    value = raw_header(msg, name)
    if not value:
        return 0
    lenient = email.utils.getaddresses([value.replace(";", ",")])
    return max(len(addresses(msg, name)), len([a for _, a in lenient if "@" in a]))


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
