"""Text that came from outside, made safe to keep, sign and print.

Citizens' mail can carry terminal escape sequences (ESC, OSC 8 links, clear
screen), other C0/C1 control characters and Unicode bidi overrides that reorder
what an officer reads. :func:`clean` removes them where text enters the bot;
:func:`visible` shows any that remain as harmless symbols, for a terminal;
:func:`unsafe_characters` lets a command refuse them (permit claims);
:func:`json_escaped` keeps them out of raw JSON output.
"""

from __future__ import annotations

import re

# Unicode's Bidi_Control characters: embeddings/overrides (U+202A–U+202E), isolates
# (U+2066–U+2069) and the marks ALM, LRM, RLM (U+061C, U+200E, U+200F).
BIDI_CONTROLS = frozenset(
    chr(c) for c in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
)
# Invisible characters that hide or join text: zero-width space/non-joiner/joiner,
# word joiner, BOM, and the tag characters (U+E0000–U+E007F).
_INVISIBLE = "\u200b-\u200d\u2060\ufeff\U000e0000-\U000e007f"

# C0 controls but TAB and LF, DEL, C1 controls, the bidi controls and the invisibles.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f" + "".join(sorted(BIDI_CONTROLS)) + _INVISIBLE + "]"
)


def unsafe_characters(value: str) -> list[str]:
    """The unsafe characters in ``value``, as ``U+XXXX`` names (empty when clean)."""
    return [f"U+{ord(ch):04X}" for ch in dict.fromkeys(_UNSAFE.findall(value))]


def clean(value: str) -> str:
    """``value`` without control characters (TAB and newlines kept) or bidi controls.

    A carriage return becomes a newline (``\\r\\n`` one newline), so line structure
    survives while ``\\r`` can no longer overwrite what a terminal already shows.
    """
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _UNSAFE.sub("", value)


def visible(value: str) -> str:
    """``value`` for a terminal: each unsafe character shown as a symbol, never obeyed.

    C0 controls become their Unicode control pictures (ESC → ␛), everything else
    unsafe (DEL, C1, bidi) becomes ``<U+XXXX>``.
    """

    def show(m: re.Match[str]) -> str:
        code = ord(m.group(0))
        if code < 0x20:
            return chr(0x2400 + code)
        return f"<U+{code:04X}>"

    return _UNSAFE.sub(show, value.replace("\r\n", "\n"))


def json_escaped(json_text: str) -> str:
    """JSON text with each unsafe character written as a ``\\uXXXX`` escape.

    ``json.dumps(..., ensure_ascii=False)`` escapes C0 controls but leaves DEL, C1
    and bidi characters raw. Outside its strings JSON is ASCII punctuation, so each
    such character sits inside a string, and the escaped document decodes to the
    very same values.
    """
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", json_text)
