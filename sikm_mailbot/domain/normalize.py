"""Normalise what citizens type into the form: names, dates, phones, codes.

Dates are read by :mod:`~sikm_mailbot.domain.dates`, words such as the category by
:mod:`~sikm_mailbot.domain.codes` (both re-exported here); this module reads
phones, emails, names and NIK text, and turns a whole form into values and
problems.

Every normaliser is idempotent (normalising a normalised value changes nothing)
and never raises. A value that cannot be read is kept as typed (trimmed) so the
officer sees it, and a Problem says which field and why.

Interpretations (the contract leaves these open):
- Dates are day-first, as written in Indonesia; month-first ("05/20/2020") is
  not guessed and gives `date_format`. Years 1900-2100 only.
- Two-digit years ("20-05-20") are accepted only for travel dates, as 20YY: a
  trip is never in the 1900s. A two-digit birth year is ambiguous (1920 or 2020?)
  and gives `date_format`, asking for four digits.
- Empty values are dropped from the result: the normalised dict holds only the
  fields the applicant actually filled in (plus `email` from the sender).
- `email` defaults to the sender only when the form's email is empty; a typed
  but unreadable email is kept and reported, not silently replaced.
- Keys that are not form fields pass through, trimmed.
- `penjamin_hubungan` and `sektor` that match no known word are kept lower-case
  with no problem (the contract has no code for them; the officer judges).
"""

from __future__ import annotations

import re
from email.utils import parseaddr

from sikm_mailbot.domain.codes import (
    SECTORS,
    category_code,
    is_jakarta,
    relation_code,
    sector_code,
    sex_code,
    trip_type_code,
)
from sikm_mailbot.domain.dates import parse_date
from sikm_mailbot.domain.vocabulary import CATEGORY_NAMES_ID, FORM_LABELS, Problem

__all__ = [
    "SECTORS",
    "category_code",
    "clean_nik_text",
    "is_jakarta",
    "normalize_email",
    "normalize_fields",
    "normalize_name",
    "normalize_phone",
    "parse_date",
    "relation_code",
    "sector_code",
    "sex_code",
    "trip_type_code",
]

NAME_KEYS = ("nama", "penjamin_nama", "tempat_lahir", "kota_asal", "kota_tujuan")
TRAVEL_DATE_KEYS = ("tanggal_berangkat", "tanggal_kembali", "berlaku_sampai")
DATE_KEYS = ("tanggal_lahir", *TRAVEL_DATE_KEYS)
PHONE_KEYS = ("nomor_hp", "penjamin_hp")
EMAIL_KEYS = ("email", "penjamin_email")
NIK_KEYS = ("nik", "penjamin_nik")


# ---------------------------------------------------------------------- phones

_PHONE_NOISE = re.compile(r"[\s\-.()/]+")
_MOBILE = re.compile(r"8[0-9]{8,11}")


def normalize_phone(text: str) -> str | None:
    """An Indonesian mobile number as +628…, or None.

    Accepts 08…, 628…, +62 8…, 0062 8…, +62 (0)8… and a bare 8…, with spaces,
    dashes, dots, slashes and parentheses. A mobile number is 8 followed by 8-11
    digits (10-13 digits written with the leading 0).
    """
    if not isinstance(text, str):
        return None
    t = _PHONE_NOISE.sub("", text.strip())
    for prefix in ("+62", "0062", "62"):
        if t.startswith(prefix):
            t = t[len(prefix) :]
            break
    # "08…" nationally, or "+62 (0)8…" where the trunk 0 was kept after the code.
    if t.startswith("0"):
        t = t[1:]
    return "+62" + t if _MOBILE.fullmatch(t) else None


# ---------------------------------------------------------------------- emails

_EMAIL = re.compile(
    r"(?=.{3,254}$)"
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
)


def normalize_email(text: str) -> str | None:
    """A plausible email address, lower-case, or None.

    Accepts "Name <a@b.id>" and "mailto:" forms. Plausible: one @, a local part
    of ordinary characters (≤ 64) and a dotted domain ending in a 2+ letter TLD.
    """
    if not isinstance(text, str):
        return None
    t = text.strip()
    if "<" in t:
        t = parseaddr(t)[1]
    t = t.strip().lower()
    if t.startswith("mailto:"):
        t = t[len("mailto:") :]
    if not _EMAIL.fullmatch(t) or len(t.split("@", 1)[0]) > 64:
        return None
    return t


# ----------------------------------------------------------------------- names


def normalize_name(text: str) -> str:
    """Trim, collapse inner whitespace, upper-case (names, places)."""
    return " ".join((text or "").split()).upper()


def clean_nik_text(text: str) -> str:
    """Digits only when the NIK is digits with spaces/dots/dashes; else trimmed."""
    t = (text or "").strip()
    digits = re.sub(r"[\s.\-]+", "", t)
    return digits if re.fullmatch(r"[0-9]+", digits) else t


# ------------------------------------------------------------------- the form


def _shown(value: str, limit: int = 40) -> str:
    """A typed value made safe to quote back in a message: one line, short."""
    one_line = " ".join("".join(c if c.isprintable() else " " for c in value).split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def _label(key: str) -> str:
    return FORM_LABELS.get(key, key)


def _problem(key: str, code: str, value: str) -> Problem:
    label, shown = _label(key), _shown(value)
    if code == "date_format":
        return Problem(
            key,
            code,
            f'{label} tidak dapat dibaca ("{shown}"). Tulis tanggal seperti 20-05-2020.',
            f'{label} (a date) could not be read ("{shown}"). '
            "Please write it like 20-05-2020 (day-month-year).",
        )
    if code == "phone_invalid":
        return Problem(
            key,
            code,
            f'{label} bukan nomor HP Indonesia yang benar ("{shown}"). '
            "Tulis seperti 0812 3456 7890.",
            f'{label} is not an Indonesian mobile number ("{shown}"). '
            "Please write it like 0812 3456 7890 or +62 812 3456 7890.",
        )
    if code == "email_invalid":
        return Problem(
            key,
            code,
            f'{label} bukan alamat email yang benar ("{shown}"). '
            "Periksa lagi penulisannya, harus ada tanda @ dan nama domain.",
            f'{label} is not a valid email address ("{shown}"). '
            "Please check it: it needs an @ and a domain name.",
        )
    if code == "category_unknown":
        options = ", ".join(CATEGORY_NAMES_ID.values())
        return Problem(
            key,
            code,
            f'{label} tidak dikenali ("{shown}"). Tulis salah satu: {options}.',
            f'{label} (applicant category) was not recognised ("{shown}"). '
            f"Please write one of: {options}.",
        )
    if code == "trip_type_unknown":
        return Problem(
            key,
            code,
            f'{label} tidak dikenali ("{shown}"). Tulis Sekali atau Berulang.',
            f'{label} (trip type) was not recognised ("{shown}"). '
            "Please write Sekali (one trip) or Berulang (repeated trips).",
        )
    if code == "sex_unknown":
        return Problem(
            key,
            code,
            f'{label} tidak dikenali ("{shown}"). Tulis L (laki-laki) atau P (perempuan).',
            f'{label} (sex) was not recognised ("{shown}"). Please write L (male) or P (female).',
        )
    raise ValueError(f"no message for {code}")  # programming error, not input


def _normalize_one(key: str, value: str) -> tuple[str, str | None]:
    """(normalised value, problem code or None) for one field."""
    if key in NAME_KEYS:
        return normalize_name(value), None
    if key in DATE_KEYS:
        parsed = parse_date(value, two_digit_year=key in TRAVEL_DATE_KEYS)
        return (parsed.isoformat(), None) if parsed else (value, "date_format")
    if key in PHONE_KEYS:
        phone = normalize_phone(value)
        return (phone, None) if phone else (value, "phone_invalid")
    if key in EMAIL_KEYS:
        address = normalize_email(value)
        return (address, None) if address else (value, "email_invalid")
    if key in NIK_KEYS:
        return clean_nik_text(value), None
    if key == "kategori":
        code = category_code(value)
        return (code, None) if code else (value, "category_unknown")
    if key == "jenis_perjalanan":
        code = trip_type_code(value)
        return (code, None) if code else (value, "trip_type_unknown")
    if key == "jenis_kelamin":
        code = sex_code(value)
        return (code, None) if code else (value, "sex_unknown")
    if key == "penjamin_hubungan":
        return relation_code(value), None
    if key == "sektor":
        return sector_code(value), None
    return value, None


def normalize_fields(raw: dict[str, str], sender: str = "") -> tuple[dict[str, str], list[Problem]]:
    """Normalise form values per the contract; return (values, problems).

    Names upper-case, dates ISO, phones +628…, codes for kategori,
    jenis_perjalanan, jenis_kelamin, penjamin_hubungan and sektor, emails
    lower-case, NIKs digits only. `email` defaults to `sender` when empty.
    Problems (in form order): date_format, phone_invalid, email_invalid,
    category_unknown, trip_type_unknown, sex_unknown. Never raises.
    """
    values: dict[str, str] = {}
    problems: list[Problem] = []
    for key, raw_value in (raw or {}).items():
        if raw_value is None:
            continue
        value = (raw_value if isinstance(raw_value, str) else str(raw_value)).strip()
        if not value:
            continue
        normalised, code = _normalize_one(str(key), value)
        values[str(key)] = normalised
        if code:
            problems.append(_problem(str(key), code, value))
    if not values.get("email") and sender:
        address = normalize_email(sender)
        if address:
            values["email"] = address
    order = {key: i for i, key in enumerate(FORM_LABELS)}
    problems.sort(key=lambda p: (order.get(p.field, len(order)), p.field, p.code))
    return values, problems
