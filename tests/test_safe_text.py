"""Outside text made safe to keep and to print."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sikm_mailbot.domain.safe_text import BIDI_CONTROLS, clean, unsafe_characters, visible

HOSTILE = "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\ \x1b[2J\x9b31m \u202egnp.exe\x07"


def test_clean_removes_escapes_and_bidi_but_keeps_lines() -> None:
    assert clean("Budi\r\nSantoso\tL") == "Budi\nSantoso\tL"
    out = clean(HOSTILE)
    assert "\x1b" not in out and "\u202e" not in out and "\x9b" not in out and "\x07" not in out
    assert "link" in out and "gnp.exe" in out


def test_visible_shows_what_it_defuses() -> None:
    out = visible(HOSTILE)
    assert "\x1b" not in out and "\u202e" not in out
    assert "␛" in out and "<U+202E>" in out and "<U+009B>" in out


def test_unsafe_characters_names_each_once() -> None:
    assert unsafe_characters("ok") == []
    assert unsafe_characters("a\x1bb\x1b\u2067") == ["U+001B", "U+2067"]


@given(st.text(alphabet=st.characters(codec="utf-8")))
def test_no_unsafe_character_survives(value: str) -> None:
    for out in (clean(value), visible(value)):
        assert not unsafe_characters(out)
        assert not any(ch in BIDI_CONTROLS for ch in out)
