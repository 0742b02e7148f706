"""Normalise what citizens type into the form: names, dates, phones, codes.

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
from datetime import date
from email.utils import parseaddr

from sikm_mailbot.domain.vocabulary import (
    CATEGORY_NAMES_ID,
    FORM_LABELS,
    Category,
    Problem,
    TripType,
)

NAME_KEYS = ("nama", "penjamin_nama", "tempat_lahir", "kota_asal", "kota_tujuan")
TRAVEL_DATE_KEYS = ("tanggal_berangkat", "tanggal_kembali", "berlaku_sampai")
DATE_KEYS = ("tanggal_lahir", *TRAVEL_DATE_KEYS)
PHONE_KEYS = ("nomor_hp", "penjamin_hp")
EMAIL_KEYS = ("email", "penjamin_email")
NIK_KEYS = ("nik", "penjamin_nik")

SECTORS = (
    "kesehatan",
    "keuangan",
    "industri_strategis",
    "pangan",
    "logistik",
    "layanan_dasar",
    "energi",
    "perhotelan",
    "tik",
    "konstruksi",
    "kebutuhan_sehari_hari",
)

# ---------------------------------------------------------------- text helpers


def _fold(text: str) -> str:
    """Lower-case, every non [a-z0-9] run → one space. For matching words only."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", (text or "").lower()).split())


def _shown(value: str, limit: int = 40) -> str:
    """A typed value made safe to quote back in a message: one line, short."""
    one_line = " ".join("".join(c if c.isprintable() else " " for c in value).split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def _label(key: str) -> str:
    return FORM_LABELS.get(key, key)


# ----------------------------------------------------------------------- dates

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


# ----------------------------------------------------------------------- codes

# First match wins; the order matters ("keluar Jabodetabek" contains "luar
# Jabodetabek", so the word boundary and the order keep them apart).
_CATEGORY_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("urgent", re.compile(r"\b(mendesak|darurat|kedaruratan|urgent|emergency)\b")),
    (
        "dki_ktp_outside",
        re.compile(
            r"\bdomisili luar\b|\bliving outside\b|\bdki ktp outside\b"
            r"|\b(ktp|kk) dki\b.*\b(luar|domisili|berdomisili)\b"
            r"|\b(dki|jakarta) ktp\b.*\b(outside|luar)\b"
        ),
    ),
    (
        "nonresident_in",
        re.compile(
            r"\bnon ?resident\b|\bluar jabodetabek\b.*\bmasuk\b|\bmasuk (ke )?(jakarta|dki)\b"
            r"|\bcoming into\b|\binto jakarta\b"
        ),
    ),
    (
        "resident_out",
        re.compile(
            r"\bresident out\b|\bkeluar (jabodetabek|jakarta|dki)\b|\bdki keluar\b"
            r"|\btravell?ing out\b|\bout of jabodetabek\b|\bleaving jakarta\b"
        ),
    ),
]


def category_code(text: str) -> str | None:
    """The Category code for a code or an Indonesian/English name (partial ok)."""
    t = _fold(text)
    if not t:
        return None
    if t.replace(" ", "_") in Category.__members__:
        return t.replace(" ", "_")
    for code, pattern in _CATEGORY_RULES:
        if pattern.search(t):
            return code
    return None


_SINGLE = re.compile(r"\b(single|sekali|satu kali|1 kali|sekali jalan|once|one (time|trip|way))\b")
_MULTIPLE = re.compile(r"\b(multiple|multi|berulang|berkali kali|repeated|recurring)\b")


def trip_type_code(text: str) -> str | None:
    """The trip type: "single" for Sekali/single, "multiple" for Berulang; None if unclear.

    A value naming both (an untouched "Sekali / Berulang") is unclear.
    """
    t = _fold(text)
    if t in TripType.__members__:
        return t
    single, multiple = bool(_SINGLE.search(t)), bool(_MULTIPLE.search(t))
    if single != multiple:
        return "single" if single else "multiple"
    return None


_SEX = {
    "L": {"l", "lk", "laki", "laki laki", "lelaki", "pria", "male", "m", "man"},
    "P": {"p", "pr", "perempuan", "wanita", "female", "f", "w", "woman"},
}


def sex_code(text: str) -> str | None:
    """The sex code "L" or "P" from L/P, Laki-laki/Perempuan, Pria/Wanita, Male/Female."""
    t = _fold(text)
    for code, words in _SEX.items():
        if t in words:
            return code
    return None


_RELATION = {
    "keluarga": re.compile(
        r"\b(keluarga|family|relative|saudara|orang ?tua|suami|istri|anak|kakak|adik|paman|bibi)\b"
    ),
    "perusahaan": re.compile(
        r"\b(perusahaan|perusahan|company|employer|kantor|instansi|atasan|pt|cv)\b"
    ),
}


def relation_code(text: str) -> str:
    """The guarantor relation "keluarga"/"perusahaan" when clear; else the text lower-cased."""
    t = _fold(text)
    found = [code for code, pattern in _RELATION.items() if pattern.search(t)]
    if len(found) == 1:
        return found[0]
    return " ".join((text or "").split()).lower()


_SECTOR_WORDS: list[tuple[str, re.Pattern[str]]] = [
    (code, re.compile(r"\b(" + words + r")\b"))
    for code, words in (
        ("industri_strategis", r"industri strategis|strategic industry|strategic"),
        ("kebutuhan_sehari_hari", r"kebutuhan sehari hari|daily needs|retail|ritel|minimarket"),
        ("layanan_dasar", r"layanan dasar|basic services?|utilitas|utilit(y|ies)|objek vital"),
        (
            "kesehatan",
            r"kesehatan|health|healthcare|medis|medical|rumah sakit|hospital|klinik|farmasi",
        ),
        ("keuangan", r"keuangan|finance|financial|bank|perbankan|banking|asuransi"),
        ("pangan", r"pangan|food|makanan|minuman"),
        ("logistik", r"logistik|logistics?|ekspedisi|kurir|courier|distribusi"),
        ("energi", r"energi|energy|listrik|migas|minyak|gas"),
        ("perhotelan", r"perhotelan|hotel|hospitality"),
        ("tik", r"tik|ict|teknologi informasi|information technology|telekomunikasi"),
        ("konstruksi", r"konstruksi|construction|kontraktor"),
    )
]


def sector_code(text: str) -> str:
    """A sector code (kesehatan, keuangan, …) when recognised; else lower-cased text."""
    t = _fold(text)
    if t.replace(" ", "_") in SECTORS:
        return t.replace(" ", "_")
    for code, pattern in _SECTOR_WORDS:
        if pattern.search(t):
            return code
    return " ".join((text or "").split()).lower()


_JAKARTA = re.compile(
    r"\bjakarta\b|\bkepulauan seribu\b|\bkep seribu\b|\bjak(pus|ut|bar|sel|tim)\b|\bdki\b"
)


def is_jakarta(city: str) -> bool:
    """True for a place in DKI Jakarta: Jakarta, its five cities, Kepulauan Seribu.

    Also the usual short forms (Jakpus, Jaksel, …) and "DKI"; "Kota Administrasi"
    and similar prefixes do not matter. Bekasi, Depok, Tangerang, Bogor are not.
    """
    return bool(_JAKARTA.search(_fold(city)))


def clean_nik_text(text: str) -> str:
    """Digits only when the NIK is digits with spaces/dots/dashes; else trimmed."""
    t = (text or "").strip()
    digits = re.sub(r"[\s.\-]+", "", t)
    return digits if re.fullmatch(r"[0-9]+", digits) else t


# ------------------------------------------------------------------- the form


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
