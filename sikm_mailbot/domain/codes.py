"""Words to codes: what a citizen typed for category, trip type, sex, relation, sector.

Each reader folds case and punctuation, accepts Indonesian and English words
(partial phrases too), and never raises. Codes are the vocabulary's values.
:func:`is_jakarta` says whether a typed place is in DKI Jakarta.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from sikm_mailbot.domain.vocabulary import Category, TripType

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


def _fold(text: str) -> str:
    """Lower-case, every non [a-z0-9] run → one space. For matching words only."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", (text or "").lower()).split())


def _as_typed(text: str) -> str:
    """What was typed, lower-cased with its spacing tidied (kept when no code matches)."""
    return " ".join((text or "").split()).lower()


def _code_or_rule(
    folded: str, codes: Collection[str], rules: Iterable[tuple[str, re.Pattern[str]]]
) -> str | None:
    """``folded`` as a code when it is one, else the code of the first rule that matches."""
    if not folded:
        return None
    as_code = folded.replace(" ", "_")
    if as_code in codes:
        return as_code
    return next((code for code, pattern in rules if pattern.search(folded)), None)


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
    return _code_or_rule(_fold(text), Category.__members__, _CATEGORY_RULES)


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
    return _as_typed(text)


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
    return _code_or_rule(_fold(text), SECTORS, _SECTOR_WORDS) or _as_typed(text)


_JAKARTA = re.compile(
    r"\bjakarta\b|\bkepulauan seribu\b|\bkep seribu\b|\bjak(pus|ut|bar|sel|tim)\b|\bdki\b"
)


def is_jakarta(city: str) -> bool:
    """True for a place in DKI Jakarta: Jakarta, its five cities, Kepulauan Seribu.

    Also the usual short forms (Jakpus, Jaksel, …) and "DKI"; "Kota Administrasi"
    and similar prefixes do not matter. Bekasi, Depok, Tangerang, Bogor are not.
    """
    return bool(_JAKARTA.search(_fold(city)))
