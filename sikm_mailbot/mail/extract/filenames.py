"""Attachment file names: decoded, made safe to show, or made up when missing."""

from __future__ import annotations

import email.utils
import mimetypes
import re
from email.message import Message

from .headers import clean_text, decode_words

MAX_FILENAME = 120


def part_filename(part: Message) -> str:
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
    name = clean_text(name)
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
