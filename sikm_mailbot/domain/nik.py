"""The NIK (Nomor Induk Kependudukan): parse, check against the form, mask.

A NIK is 16 digits: province (2) + regency/city (2) + district (2) + birth date
DDMMYY, where women add 40 to the day, + a 4-digit serial from 0001 (DOMAIN.md).
python-stdnum takes the day modulo 40 and checks no sex, so the rules are ours.

The area digits are where the NIK was first issued, not where the person lives:
nothing here derives domicile from them, and the province code is not checked
against a list (the contract has no code for it; an officer sees the NIK).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from sikm_mailbot.domain.vocabulary import FORM_LABELS, Problem

MAX_AGE_YEARS = 120

# Separators people type inside a NIK ("3171 0112 9000 0001", "3171.0112...").
_SEPARATORS = re.compile(r"[\s.\-]+")
_SIXTEEN_DIGITS = re.compile(r"[0-9]{16}")


@dataclass
class NikInfo:
    """What a NIK says. Parts are None when the NIK is not 16 digits.

    `birth_date` is None when the date part is impossible; `sex` is "L" (day
    01-31) or "P" (day 41-71) or None; `problems` holds contract codes
    (nik_format, nik_date, nik_serial), empty for a valid NIK.
    """

    nik: str
    province: str | None = None
    regency: str | None = None
    district: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    serial: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """True when the NIK has no problem of its own."""
        return not self.problems


def clean_nik(text: str) -> str:
    """Trim and drop the spaces, dots and dashes people type inside a NIK."""
    return _SEPARATORS.sub("", text or "")


def _birth_date(day: int, month: int, yy: int, today: date) -> date | None:
    """The birth date for DD MM YY: the latest century not in the future, age ≤ 120.

    Tries the most recent year ending in YY that is not after this year, then the
    century before (a 29 February may exist in only one of them).
    """
    latest = today.year - ((today.year - yy) % 100)
    for year in (latest, latest - 100):
        if year < 1:
            continue
        try:
            born = date(year, month, day)
        except ValueError:
            continue
        if born > today:
            continue
        # Age in whole years on `today`.
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        if age <= MAX_AGE_YEARS:
            return born
        return None
    return None


def parse_nik(text: str, today: date | None = None) -> NikInfo:
    """Parse a NIK into its parts; never raises.

    `today` anchors the 2-digit birth year (default: the system date): the century
    is chosen so the birth date is not in the future and the age is at most 120.
    Spaces, dots and dashes are ignored; anything else that is not 16 ASCII digits
    gives `nik_format` and no parts.
    """
    today = today or date.today()
    nik = clean_nik(text if isinstance(text, str) else "")
    if not _SIXTEEN_DIGITS.fullmatch(nik):
        return NikInfo(nik=nik, problems=["nik_format"])

    problems: list[str] = []
    day, month, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    sex: str | None = None
    if 1 <= day <= 31:
        sex = "L"
    elif 41 <= day <= 71:
        sex, day = "P", day - 40
    born = _birth_date(day, month, yy, today) if sex else None
    if born is None:
        problems.append("nik_date")
    serial = nik[12:16]
    if serial == "0000":
        problems.append("nik_serial")
    return NikInfo(
        nik=nik,
        province=nik[0:2],
        regency=nik[2:4],
        district=nik[4:6],
        birth_date=born,
        sex=sex,
        serial=serial,
        problems=problems,
    )


def mask_nik(nik: str) -> str:
    """Mask a NIK for logs and lists: `************1234`, never more than 4 digits.

    Only ASCII digits are kept. A value of fewer than 8 digits is masked entirely,
    since its last 4 would be most of it.
    """
    digits = re.sub(r"[^0-9]", "", nik if isinstance(nik, str) else "")
    if len(digits) < 8:
        return "*" * len(digits)
    return "*" * (len(digits) - 4) + digits[-4:]


def _label(field_key: str) -> str:
    return FORM_LABELS.get(field_key, field_key)


_SEX_WORDS = {"L": ("laki-laki", "male"), "P": ("perempuan", "female")}


def nik_problems(text: str, field_key: str = "nik", today: date | None = None) -> list[Problem]:
    """The NIK's own problems (nik_format, nik_date, nik_serial) as messages."""
    label = _label(field_key)
    info = parse_nik(text, today)
    messages = {
        "nik_format": (
            f"{label} harus 16 angka, persis seperti tertulis di KTP.",
            f"{label} must be exactly 16 digits, as printed on the KTP (identity card).",
        ),
        "nik_date": (
            f"{label} tidak benar: angka tanggal lahir di dalamnya (angka ke-7 sampai ke-12) "
            "tidak mungkin. Mohon periksa lagi sesuai KTP.",
            f"{label} is not right: the birth date inside it (digits 7 to 12) is impossible. "
            "Please check it against the KTP.",
        ),
        "nik_serial": (
            f"{label} tidak benar: 4 angka terakhir tidak mungkin 0000. "
            "Mohon periksa lagi sesuai KTP.",
            f"{label} is not right: the last 4 digits cannot be 0000. "
            "Please check it against the KTP.",
        ),
    }
    return [Problem(field_key, code, *messages[code]) for code in info.problems]


def check_nik_against_form(
    nik: str,
    tanggal_lahir: date | None,
    jenis_kelamin: str | None,
    field: str = "nik",
    today: date | None = None,
) -> list[Problem]:
    """Compare the NIK's birth date and sex with the form's; mismatch problems only.

    Nothing is reported when the NIK itself is unreadable (its own problems say
    so) or a form value is missing/unknown. The NIK holds only a 2-digit year, so
    birth dates are compared on day, month and the last two digits of the year:
    a century cannot disagree. Problems carry `field` (the NIK's form key).
    """
    info = parse_nik(nik, today)
    problems: list[Problem] = []
    born = info.birth_date
    if born is not None and tanggal_lahir is not None:
        same = (born.day, born.month, born.year % 100) == (
            tanggal_lahir.day,
            tanggal_lahir.month,
            tanggal_lahir.year % 100,
        )
        if not same:
            shown = born.strftime("%d-%m-") + f"{born.year:04d}"
            problems.append(
                Problem(
                    field,
                    "nik_birthdate_mismatch",
                    f"{_label('tanggal_lahir')} tidak sesuai dengan {_label(field)} "
                    f"({_label(field)} menunjukkan {shown}).",
                    f"{_label('tanggal_lahir')} (date of birth) does not match the "
                    f"{_label(field)} (the {_label(field)} says {shown}).",
                )
            )
    known_sex = info.sex is not None and info.birth_date is not None
    if known_sex and jenis_kelamin in _SEX_WORDS and jenis_kelamin != info.sex:
        word_id, word_en = _SEX_WORDS[info.sex]
        problems.append(
            Problem(
                field,
                "nik_sex_mismatch",
                f"{_label('jenis_kelamin')} tidak sesuai dengan {_label(field)} "
                f"({_label(field)} menunjukkan {word_id}).",
                f"{_label('jenis_kelamin')} (sex) does not match the {_label(field)} "
                f"(the {_label(field)} says {word_en}).",
            )
        )
    return problems
