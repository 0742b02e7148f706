"""Text of an email body: format=flowed undone, and what was typed now split from quotes.

HTML bodies become text in :mod:`.html_text`; `Label: value` fields are read by
:mod:`.fields` (both re-exported here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .fields import parse_fields
from .html_text import html_to_text

__all__ = [
    "BodyParts",
    "ForwardedBlock",
    "html_to_text",
    "parse_fields",
    "split_body",
    "unflow",
]

# ---------------------------------------------------------------- format=flowed


def unflow(text: str, delsp: bool = False) -> str:
    """Undo RFC 3676 format=flowed (Thunderbird, Apple Mail): rejoin soft-broken lines.

    A line ending in a space continues on the next line (with `delsp=yes` that
    space is dropped); "-- " (the signature mark) never flows; space-stuffing
    is removed; quote depth (`>` prefix) must match to join. Never raises.
    """
    out: list[str] = []
    pending: str | None = None
    pending_depth = -1
    for raw in text.split("\n"):
        raw = raw.rstrip("\r")
        depth = len(raw) - len(raw.lstrip(">"))
        line = raw[depth:]
        if line.startswith(" "):  # space-stuffed (or the space after ">")
            line = line[1:]
        if pending is not None and depth != pending_depth:
            out.append(pending)
            pending = None
        if pending is not None:
            line = pending + line
            pending = None
        soft = line.endswith(" ") and line.rstrip(" ") != "--" and line != "-- "
        if soft:
            pending, pending_depth = (line[:-1] if delsp else line), depth
            continue
        out.append((">" * depth + " " if depth else "") + line)
    if pending is not None:
        out.append((">" * pending_depth + " " if pending_depth else "") + pending)
    return "\n".join(out)


# ---------------------------------------------------------------- replies and forwards

_ATTRIBUTION_END = re.compile(
    r"(?:wrote|menulis|schrieb|a écrit|ha scritto|escribió)\s*:\s*$", re.I
)
_ATTRIBUTION_START = re.compile(r"^(?:On|Pada|Am|Le|Il|El)\s", re.I)
_ORIGINAL_MARKERS = re.compile(
    r"^\s*-{2,}\s*(?:Original Message|Pesan Asli|Pesan Awal|Message d'origine)\s*-{2,}\s*$", re.I
)
_FORWARD_MARKERS = re.compile(
    r"^\s*(?:-{2,}\s*(?:Forwarded message|Forwarded Message|Pesan yang diteruskan|"
    r"Pesan terusan|Message transféré)\s*-{2,}|Begin forwarded message:|"
    r"-{2,}\s*Forwarded by .*)\s*$",
    re.I,
)
_HEADER_LINE = re.compile(
    r"^\s*\*?(From|Dari|Sent|Dikirim|Date|Tanggal|To|Kepada|Cc|Subject|Subjek|Perihal)\*?\s*:",
    re.I,
)
_OUTLOOK_RULE = re.compile(r"^\s*_{10,}\s*$")
_EMAIL_RE = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass
class ForwardedBlock:
    """An inline-forwarded message found in a body."""

    from_addr: str = ""
    text: str = ""


@dataclass
class BodyParts:
    """A body split into what the sender typed now and what they quoted."""

    new_text: str = ""
    quoted_text: str = ""
    signature: str = ""
    forwarded: list[ForwardedBlock] = field(default_factory=list)


def _is_outlook_header(lines: list[str], i: int) -> bool:
    """A From:/Dari: line followed by Sent:/Date: within a few lines (Outlook reply)."""
    if not re.match(r"^\s*\*?(From|Dari)\*?\s*:", lines[i], re.I):
        return False
    window = lines[i + 1 : i + 5]
    return any(re.match(r"^\s*\*?(Sent|Dikirim|Date|Tanggal)\*?\s*:", w, re.I) for w in window)


def _attribution_at(lines: list[str], i: int) -> int:
    """Number of lines (1 or 2) of an "On … wrote:" attribution starting at i, else 0."""
    line = lines[i]
    if not _ATTRIBUTION_START.match(line.strip()):
        return 0
    if _ATTRIBUTION_END.search(line):
        return 1
    if i + 1 < len(lines) and _ATTRIBUTION_END.search(lines[i + 1]) and len(line) < 300:
        return 2
    return 0


def _forwarded_block(lines: list[str]) -> ForwardedBlock:
    """Skip the header block (From:/Date:/Subject:/To: lines) of a forward; keep its body."""
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    from_addr = ""
    while i < len(lines) and (_HEADER_LINE.match(lines[i]) or lines[i].startswith((" ", "\t"))):
        if not lines[i].strip():
            break
        if re.match(r"^\s*\*?(From|Dari)\*?\s*:", lines[i], re.I) and not from_addr:
            m = _EMAIL_RE.search(lines[i])
            from_addr = m.group(0).lower() if m else ""
        i += 1
    body = [ln for ln in lines[i:] if not ln.lstrip().startswith(">")]
    return ForwardedBlock(from_addr=from_addr, text="\n".join(body).strip())


def split_body(text: str) -> BodyParts:
    """Split a plain-text body into new text, quoted text, signature and inline forwards.

    Quoted: `>` lines; everything after "On … wrote:" / "Pada … menulis:",
    "-----Original Message-----" or an Outlook "From: … Sent: …" block.
    An inline forward ("---------- Forwarded message ---------") ends the new
    text; its header block is dropped and its body kept as a ForwardedBlock.
    A signature starts at a "-- " line. Never raises.
    """
    parts = BodyParts()
    try:
        lines = text.splitlines()
        new: list[str] = []
        quoted: list[str] = []
        sig: list[str] = []
        in_sig = False
        i = 0
        while i < len(lines):
            line = lines[i]
            if _FORWARD_MARKERS.match(line):
                parts.forwarded.append(_forwarded_block(lines[i + 1 :]))
                break
            n_attr = _attribution_at(lines, i)
            if (
                n_attr
                or _ORIGINAL_MARKERS.match(line)
                or _is_outlook_header(lines, i)
                or (
                    _OUTLOOK_RULE.match(line)
                    and any(
                        _is_outlook_header(lines, j) for j in range(i + 1, min(i + 3, len(lines)))
                    )
                )
            ):
                quoted.extend(lines[i:])
                break
            if line.lstrip().startswith(">"):
                quoted.append(line)
            elif line in ("-- ", "--") or in_sig:
                in_sig = True
                sig.append(line)
            else:
                new.append(line)
            i += 1
        parts.new_text = "\n".join(new).strip()
        parts.quoted_text = "\n".join(quoted).strip()
        parts.signature = "\n".join(sig).strip()
    except Exception:  # noqa: BLE001
        parts.new_text = text
    return parts
