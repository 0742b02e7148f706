"""Text of an email body: HTML to text, quoted/forwarded parts, `Label: value` fields.

The same field parser reads a typed email, a printed/flat form's page text and a
text attachment, so a label means the same thing everywhere (DOMAIN.md: labels
in any case, extra spaces, `:` or no colon).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from sikm_mailbot.domain.vocabulary import FORM_LABELS

# ---------------------------------------------------------------- HTML to text

_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "ul",
    }
)
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript"})
_CELL_TAGS = frozenset({"td", "th"})


class _TextExtractor(HTMLParser):
    """Collects visible text line by line; `<blockquote>` lines get a `> ` prefix."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._line: list[str] = []
        self._line_depth = 0
        self._quote_depth = 0
        self._skip = 0
        self._pre = 0
        self._cells = 0  # cells seen on the current table row

    def _newline(self) -> None:
        text = "".join(self._line).strip()
        if text:
            self.lines.append("> " * self._line_depth + text)
        self._line = []
        self._cells = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag in _CELL_TAGS:
            if self._cells:
                self._line.append("\t")
            self._cells += 1
        elif tag in _BLOCK_TAGS:
            self._newline()
        if tag == "blockquote":
            self._quote_depth += 1
        elif tag == "pre":
            self._pre += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self._newline()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS and tag != "br":
            self._newline()
        if tag == "blockquote":
            self._quote_depth = max(0, self._quote_depth - 1)
        elif tag == "pre":
            self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre:
            parts = data.split("\n")
            for i, part in enumerate(parts):
                if i:
                    self._newline()
                self._append(part)
        else:
            self._append(re.sub(r"\s+", " ", data))

    def _append(self, text: str) -> None:
        if not text:
            return
        if not "".join(self._line).strip():
            self._line_depth = self._quote_depth
        self._line.append(text)


def html_to_text(html: str) -> str:
    """Visible text of an HTML document, one block per line (never raises)."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: BLE001 - html.parser is lenient; keep what we have
        pass
    parser._newline()
    return "\n".join(parser.lines).strip()


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


# ---------------------------------------------------------------- fields

_SEP_WORDS = r"[\s_]+"


def _alias_pattern(words: list[str]) -> str:
    return _SEP_WORDS.join(re.escape(w) for w in words)


def _build_aliases() -> list[tuple[str, str]]:
    """(regex, key) for every label and key spelling, longest first."""
    aliases: dict[str, str] = {}
    for key, label in FORM_LABELS.items():
        for spelling in (label, key):
            words = spelling.lower().replace("_", " ").split()
            aliases.setdefault(" ".join(words), key)
    ordered = sorted(aliases.items(), key=lambda kv: -len(kv[0]))
    return [(_alias_pattern(text.split()), key) for text, key in ordered]


_ALIASES = _build_aliases()
_LABEL_RE = re.compile(
    r"(?P<label>" + "|".join(f"(?P<k{i}>{pat})" for i, (pat, _) in enumerate(_ALIASES)) + r")",
    re.IGNORECASE,
)
# Bullets and numbering before a label: "- ", "* ", "• ", "1. ", "1) ", "(a) ", "a. ".
_BULLET_RE = re.compile(r"^(?:[-*•·▪►+]+|\(?\d{1,3}[.)]|\(?[a-zA-Z][.)])\s+")
# Explicit separators: ":" (also full-width), "=", or a dash with spaces around it
# (a dash without spaces is part of a value such as 15-05-1990).
_SEP_RE = re.compile(r"^[ \t]*(?:[:：=]|[ \t][-–—](?=[ \t]|$))[ \t]*")
_NO_COLON_RE = re.compile(r"^(?:\t|[ \t]{2,}|[ \t])")
# A value that itself looks like "Another Label: …" means the line was not ours.
_LOOKS_LABELLED = re.compile(r"^[^\W\d][\w .]{0,30}:(?:\s|$)")
_PLACEHOLDER_RE = re.compile(r"^[\s_.\-…·]*$")


def _match_line(line: str) -> tuple[str, str, bool] | None:
    """(key, value, explicit_separator) when the line is a labelled field."""
    m = _LABEL_RE.match(line)
    if m is None:
        return None
    key = next(_ALIASES[i][1] for i in range(len(_ALIASES)) if m.group(f"k{i}") is not None)
    rest = line[m.end() :]
    sep = _SEP_RE.match(rest)
    if sep is not None:
        return key, rest[sep.end() :].strip(), True
    if rest == "" or rest.isspace():
        return key, "", False
    gap = _NO_COLON_RE.match(rest)
    if gap is None:  # "NIKAH …": the label is only the start of a longer word
        return None
    value = rest[gap.end() :].strip()
    if _LOOKS_LABELLED.match(value):
        return None
    return key, value, False


def _clean_value(value: str) -> str:
    value = value.strip().strip("\u200b\ufeff").strip()
    if _PLACEHOLDER_RE.match(value):
        return ""
    return re.sub(r"\s+", " ", value)


# No-break and other Unicode spaces (Outlook/Word put U+00A0 before a colon) read as a space.
_ODD_SPACES = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
# A next-line value is refused when it looks like a heading or an introduction:
# "3) Lampiran", "a) …", "• …", a line ending in ":"; "B. Perjalanan / Trip" too, except
# under a name label ("M. Yusuf" is a name).
_HEADING_RE = re.compile(r"^(?:\(?\d{1,2}[.)]\s|\(?[A-Za-z]\)\s|[-*•·▪►]\s)|:\s*$")
_LETTER_HEADING_RE = re.compile(r"^[A-Za-z]\.\s")
_NAME_KEYS = frozenset({"nama", "penjamin_nama"})
MAX_NEXT_LINE_VALUE = 200
MIN_NEXT_LINE_PAIRS = 2


def _line_hit(line: str) -> tuple[str, str, bool] | None:
    """_match_line, also after a leading bullet or number."""
    hit = _match_line(line)
    if hit is None:
        stripped = _BULLET_RE.sub("", line, count=1)
        if stripped != line:
            hit = _match_line(stripped)
    return hit


def _prepared_lines(text: str) -> list[str]:
    out = []
    for raw_line in text.splitlines():
        line = _ODD_SPACES.sub(" ", raw_line).strip().lstrip("\ufeff\u200b").strip()
        out.append("" if len(line) > 2000 else line)
    return out


def _next_line_value(lines: list[str], hits: list, i: int) -> int | None:
    """Index of the line holding the value of the lone label at i, or None.

    The value is the next non-blank line (one blank line may sit between) when it
    is not itself a label line with a separator, not a lone label, not quoted,
    not a heading/introduction, and not too long.
    """
    j = i + 1
    if j < len(lines) and not lines[j]:
        j += 1
    if j >= len(lines) or not lines[j]:
        return None
    cand, hit = lines[j], hits[j]
    if hit is not None:
        _key, value, explicit = hit
        if explicit or not _clean_value(value):
            return None
    if (
        cand.startswith(">")
        or len(cand) > MAX_NEXT_LINE_VALUE
        or _HEADING_RE.search(cand)
        or (_LETTER_HEADING_RE.match(cand) and hits[i][0] not in _NAME_KEYS)
        or _LOOKS_LABELLED.match(cand)
        or not _clean_value(cand)
    ):
        return None
    return j


def parse_fields(text: str) -> dict[str, str]:
    """Read `Label: value` lines into {form key: raw value}.

    Labels are FORM_LABELS (or the keys themselves), case-insensitive, with any
    spacing; the separator is `:`, `=`, ` - ` or whitespace; bullets and
    numbering before a label are ignored; a value ends at the end of its line.
    The longest label wins ("NIK Penjamin" is not "NIK"). Per key the first
    non-empty value wins. Never raises.

    Label-above-value layouts (a label alone on its line, the value on the
    next: bold labels in Writer, table cells split by the PDF or HTML
    renderer) are read only when the text as a whole is laid out that way —
    at least two such pairs, and most lone labels followed by a value — so a
    blank form's "Pekerjaan" is never paired with the heading under it. A value
    on the label's own line wins over a next-line value.
    """
    found: dict[str, str] = {}
    try:
        lines = _prepared_lines(text)
        hits = [_line_hit(line) if line else None for line in lines]
        lone = [i for i, h in enumerate(hits) if h is not None and not _clean_value(h[1])]
        pairs = {i: j for i in lone if (j := _next_line_value(lines, hits, i)) is not None}
        use_next = len(pairs) >= MIN_NEXT_LINE_PAIRS and 2 * len(pairs) >= len(lone)
        below: dict[str, str] = {}
        consumed: set[int] = set()
        for i, hit in enumerate(hits):
            if hit is None or i in consumed:
                continue
            key, value, _explicit = hit
            value = _clean_value(value)
            if not value and use_next and i in pairs:
                consumed.add(pairs[i])
                below.setdefault(key, _clean_value(lines[pairs[i]]))
                continue
            if value and not found.get(key):
                found[key] = value
        for key, value in below.items():
            if value and not found.get(key):
                found[key] = value
    except Exception:  # noqa: BLE001 - parsing must never break intake
        pass
    return found


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
