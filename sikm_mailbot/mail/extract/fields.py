"""`Label: value` fields in free text: a typed email, a printed form's page text, a text file.

The same parser reads all of them, so a label means the same thing everywhere
(DOMAIN.md: labels in any case, extra spaces, `:` or no colon).
"""

from __future__ import annotations

import re

from sikm_mailbot.domain.vocabulary import FORM_LABELS

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
