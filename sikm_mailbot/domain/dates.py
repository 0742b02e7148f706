"""Reading a date as people write it in Indonesia: day first, month names in two languages."""

from __future__ import annotations

import re
from datetime import date

_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "januari january jan",
        "februari pebruari february feb peb",
        "maret march mar",
        "april apr",
        "mei may",
        "juni june jun",
        "juli july jul",
        "agustus august agu agt ags aug",
        "september sept sep",
        "oktober october okt oct",
        "november nopember nov nop",
        "desember december des dec",
    ),
    start=1,
):
    for _name in _names.split():
        _MONTHS[_name] = _number

_WEEKDAY = (
    r"(?:senin|selasa|rabu|kamis|jumat|jum'at|sabtu|minggu|ahad|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"mon|tue|wed|thu|fri|sat|sun)\.?,?\s+"
)
_NUMERIC_DMY = re.compile(r"([0-9]{1,2})([-/.])([0-9]{1,2})\2([0-9]{4})")
_NUMERIC_DMY2 = re.compile(r"([0-9]{1,2})([-/.])([0-9]{1,2})\2([0-9]{2})")
_NUMERIC_ISO = re.compile(r"([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})(?:[t ][0-9:.]+z?)?")
_NAMED_DMY = re.compile(r"([0-9]{1,2})[\s\-/.]*([a-z]+)\.?[\s\-/.,]+([0-9]{4})")
_NAMED_MDY = re.compile(r"([a-z]+)\.?\s+([0-9]{1,2}),?\s+([0-9]{4})")


def _make_date(year: int, month: int, day: int) -> date | None:
    if not 1900 <= year <= 2100:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_date(text: str, *, two_digit_year: bool = False) -> date | None:
    """Read a date as people write it in Indonesia; None when it cannot be read.

    Accepts DD-MM-YYYY, DD/MM/YYYY, DD.MM.YYYY, YYYY-MM-DD (a trailing time is
    ignored), and month names in Indonesian or English, full or abbreviated
    ("20 Mei 2020", "20-Agt-2020", "20 Okt. 2020", "May 20, 2020"), with or
    without a weekday in front ("Rabu, 20 Mei 2020"). With `two_digit_year`,
    DD-MM-YY is read as 20YY.
    """
    if not isinstance(text, str):
        return None
    t = " ".join(text.strip().lower().split())
    t = re.sub(r"^" + _WEEKDAY, "", t)
    if m := _NUMERIC_DMY.fullmatch(t):
        return _make_date(int(m[4]), int(m[3]), int(m[1]))
    if m := _NUMERIC_ISO.fullmatch(t):
        return _make_date(int(m[1]), int(m[3]), int(m[4]))
    if two_digit_year and (m := _NUMERIC_DMY2.fullmatch(t)):
        return _make_date(2000 + int(m[4]), int(m[3]), int(m[1]))
    if (m := _NAMED_DMY.fullmatch(t)) and m[2] in _MONTHS:
        return _make_date(int(m[3]), _MONTHS[m[2]], int(m[1]))
    if (m := _NAMED_MDY.fullmatch(t)) and m[1] in _MONTHS:
        return _make_date(int(m[3]), _MONTHS[m[1]], int(m[2]))
    return None
