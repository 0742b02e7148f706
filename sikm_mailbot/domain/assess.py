"""Assess an application: which fields are wrong, which documents are missing.

A rule chain: each rule is a small function that looks at the application and
returns the problems it finds; `assess` runs them all, orders the problems by
form order then code, and compares the documents with what the category needs.

Interpretations (beyond CONTRACT-READING.md):
- `assess` normalises `fields` again (normalising is idempotent), so it accepts
  raw or normalised values and its problems already include the format problems
  (date_format, phone_invalid, …): callers must not add `normalize_fields`'s
  problems a second time.
- Unknown or missing category: the field rules still run (everyone's required
  fields, NIK, dates, emails, purpose, route); no guarantor is required; the
  missing documents are those every category needs (form, statement, ktp), since
  what else is needed depends on the category the applicant has not told us.
- Unknown trip type: neither tanggal_kembali nor berlaku_sampai is required and
  their date-order rules are skipped (which one applies is unknown).
- period_invalid "longer than 90 days": berlaku_sampai − tanggal_berangkat > 90
  days (1 June → 30 August is allowed, → 31 August is not).
- departure_past: tanggal_berangkat < today − 7 days (exactly 7 days ago is fine).
- guarantor_email_same applies whenever both emails are given, in any category.
- trip_not_jakarta needs both cities: a missing one is reported as `required`.
- Problems are unique per (field, code). Attachment problems come after the
  field problems, ordered by file name then code, with their own messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from sikm_mailbot.domain.nik import check_nik_against_form, nik_problems
from sikm_mailbot.domain.normalize import is_jakarta, normalize_fields
from sikm_mailbot.domain.vocabulary import FORM_LABELS, Assessment, Category, Problem

MAX_PAST_DEPARTURE_DAYS = 7
MAX_PERIOD_DAYS = 90

REQUIRED_FOR_ALL = (
    "nama",
    "nik",
    "tanggal_lahir",
    "jenis_kelamin",
    "alamat",
    "nomor_hp",
    "kategori",
    "jenis_perjalanan",
    "kota_asal",
    "kota_tujuan",
    "tanggal_berangkat",
    "keperluan",
)
REQUIRED_GUARANTOR = ("penjamin_nama", "penjamin_email", "penjamin_hp", "penjamin_hubungan")
CATEGORIES_WITH_GUARANTOR = frozenset({"nonresident_in"})

# Documents per category, in the order the contract lists them.
DOCUMENTS: dict[str, tuple[str, ...]] = {
    "resident_out": ("form", "statement", "ktp", "photo", "rtrw_letter", "work_letter"),
    "nonresident_in": ("form", "statement", "ktp", "photo", "rtrw_letter", "guarantee_letter"),
    "dki_ktp_outside": ("form", "statement", "ktp"),
    "urgent": ("form", "statement", "ktp", "photo", "emergency_letter"),
}
COMMON_DOCUMENTS = ("form", "statement", "ktp")
# A category that proves its purpose with one of two letters: the first for a work
# trip (``sektor`` filled), the second otherwise. nonresident_in: the Jakarta
# workplace letter, else the Jakarta domicile letter (an emergency).
PURPOSE_LETTERS: dict[str, tuple[str, str]] = {"nonresident_in": ("work_letter", "domicile_letter")}

_FORM_ORDER = {key: i for i, key in enumerate(FORM_LABELS)}

_NOT_ALLOWED_PURPOSE = re.compile(
    r"\b(mudik|pulang kampung|halal ?bi ?halal|reuni|reunion|"
    r"silaturahmi|silaturrahmi|silahturahmi|silaturahim|silahturahim)\b"
    r"|\bvisit(ing)? (my |the |our )?(family|relatives|parents)\b|\bfamily visit\b"
    r"|\b(mengunjungi|kunjungan|kunjungi|berkunjung ke) (ke )?(keluarga|saudara|orang ?tua)\b"
)


def needs_guarantor(category: str | None) -> bool:
    """Whether this category names a guarantor, whom the office asks to confirm by email."""
    return category in CATEGORIES_WITH_GUARANTOR


def required_documents(category: str | None, fields: dict[str, str]) -> list[str]:
    """The DocKind values `category` needs, in the contract's order.

    nonresident_in needs work_letter when `sektor` is filled (a work trip), else
    domicile_letter. An unknown category needs the documents common to all.
    """
    docs = list(DOCUMENTS.get(category or "", COMMON_DOCUMENTS))
    letters = PURPOSE_LETTERS.get(category or "")
    if letters:
        work_trip = bool((fields.get("sektor") or "").strip())
        docs.append(letters[0] if work_trip else letters[1])
    return docs


def document_groups() -> dict[str, tuple[tuple[str, ...], ...]]:
    """What each category must send, as groups of alternatives (one of a group is enough).

    The same facts as :func:`required_documents`, for telling people in advance
    (the forms mail), before the form says whether the trip is for work.
    """
    groups: dict[str, tuple[tuple[str, ...], ...]] = {}
    for category, docs in DOCUMENTS.items():
        alternatives: list[tuple[str, ...]] = [(doc,) for doc in docs]
        if category in PURPOSE_LETTERS:
            alternatives.append(PURPOSE_LETTERS[category])
        groups[category] = tuple(alternatives)
    return groups


# ----------------------------------------------------------------- the context


@dataclass
class _Application:
    """What the rules look at: normalised values and the assessment date."""

    fields: dict[str, str]
    format_problems: list[Problem]
    today: date

    @property
    def category(self) -> str | None:
        value = self.fields.get("kategori")
        return value if value in Category.__members__ else None

    @property
    def trip_type(self) -> str | None:
        value = self.fields.get("jenis_perjalanan")
        return value if value in ("single", "multiple") else None

    def has(self, key: str) -> bool:
        return bool(self.fields.get(key, "").strip())

    def date(self, key: str) -> date | None:
        """A normalised (ISO) date field, or None when absent or unreadable."""
        try:
            return date.fromisoformat(self.fields.get(key, ""))
        except ValueError:
            return None


def _label(key: str) -> str:
    return FORM_LABELS.get(key, key)


def _short(value: str, limit: int = 40) -> str:
    """A typed value quoted back in a message: one line, not too long."""
    one_line = " ".join(value.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def _dmy(day: date) -> str:
    return f"{day.day:02d}-{day.month:02d}-{day.year:04d}"


# ----------------------------------------------------------------------- rules

Rule = Callable[[_Application], Iterable[Problem]]


def rule_formats(app: _Application) -> Iterable[Problem]:
    """Values that could not be read (dates, phones, emails, codes)."""
    return app.format_problems


def rule_required(app: _Application) -> Iterable[Problem]:
    """Fields the category and trip type need."""
    needed = list(REQUIRED_FOR_ALL)
    if app.trip_type == "single":
        needed.append("tanggal_kembali")
    elif app.trip_type == "multiple":
        needed.append("berlaku_sampai")
    if needs_guarantor(app.category):
        needed.extend(REQUIRED_GUARANTOR)
    for key in needed:
        if not app.has(key):
            label = _label(key)
            yield Problem(
                key,
                "required",
                f"{label} belum diisi. Mohon lengkapi.",
                f"{label} is empty. Please fill it in.",
            )


def rule_applicant_nik(app: _Application) -> Iterable[Problem]:
    """The applicant's NIK: well formed, and agreeing with birth date and sex."""
    if not app.has("nik"):
        return []
    nik = app.fields["nik"]
    problems = nik_problems(nik, "nik", app.today)
    sex = app.fields.get("jenis_kelamin")
    problems += check_nik_against_form(
        nik, app.date("tanggal_lahir"), sex if sex in ("L", "P") else None, "nik", app.today
    )
    return problems


def rule_guarantor_nik(app: _Application) -> Iterable[Problem]:
    """The guarantor's NIK, checked whenever it is given."""
    if not app.has("penjamin_nik"):
        return []
    return nik_problems(app.fields["penjamin_nik"], "penjamin_nik", app.today)


def rule_departure_past(app: _Application) -> Iterable[Problem]:
    """A departure more than 7 days before the assessment date."""
    departure = app.date("tanggal_berangkat")
    # Subtract the dates, not a timedelta from today: no overflow near date.min.
    if departure and (app.today - departure).days > MAX_PAST_DEPARTURE_DAYS:
        label = _label("tanggal_berangkat")
        yield Problem(
            "tanggal_berangkat",
            "departure_past",
            f"{label} ({_dmy(departure)}) sudah lewat lebih dari "
            f"{MAX_PAST_DEPARTURE_DAYS} hari. Mohon tulis tanggal perjalanan yang benar.",
            f"{label} (departure date, {_dmy(departure)}) is more than "
            f"{MAX_PAST_DEPARTURE_DAYS} days ago. Please give your real travel date.",
        )


def rule_return_before_departure(app: _Application) -> Iterable[Problem]:
    """Single trip: the return is not before the departure."""
    departure, back = app.date("tanggal_berangkat"), app.date("tanggal_kembali")
    if app.trip_type == "single" and departure and back and back < departure:
        kembali, berangkat = _label("tanggal_kembali"), _label("tanggal_berangkat")
        yield Problem(
            "tanggal_kembali",
            "return_before_departure",
            f"{kembali} ({_dmy(back)}) lebih awal dari {berangkat} ({_dmy(departure)}). "
            "Mohon periksa lagi.",
            f"{kembali} (return date, {_dmy(back)}) is before {berangkat} "
            f"(departure date, {_dmy(departure)}). Please check the dates.",
        )


def rule_period(app: _Application) -> Iterable[Problem]:
    """Multiple trip: the period ends after it starts and lasts at most 90 days."""
    start, end = app.date("tanggal_berangkat"), app.date("berlaku_sampai")
    if app.trip_type != "multiple" or not start or not end:
        return
    sampai, berangkat = _label("berlaku_sampai"), _label("tanggal_berangkat")
    if end < start:
        yield Problem(
            "berlaku_sampai",
            "period_invalid",
            f"{sampai} ({_dmy(end)}) lebih awal dari {berangkat} ({_dmy(start)}). "
            "Mohon periksa lagi.",
            f"{sampai} (end of the period, {_dmy(end)}) is before {berangkat} "
            f"(first travel date, {_dmy(start)}). Please check the dates.",
        )
    elif (end - start).days > MAX_PERIOD_DAYS:
        days = (end - start).days
        yield Problem(
            "berlaku_sampai",
            "period_invalid",
            f"Masa berlaku terlalu panjang: {_dmy(start)} sampai {_dmy(end)} adalah {days} "
            f"hari, paling lama {MAX_PERIOD_DAYS} hari. Mohon perbaiki {sampai}.",
            f"The period asked is too long: {_dmy(start)} to {_dmy(end)} is {days} days, "
            f"at most {MAX_PERIOD_DAYS} days are allowed. Please correct {sampai}.",
        )


def rule_guarantor_email(app: _Application) -> Iterable[Problem]:
    """The guarantor confirms by email, so it must be someone else's address."""
    own, guarantor = app.fields.get("email", ""), app.fields.get("penjamin_email", "")
    if own and guarantor and own.strip().lower() == guarantor.strip().lower():
        label, own_label = _label("penjamin_email"), _label("email")
        yield Problem(
            "penjamin_email",
            "guarantor_email_same",
            f"{label} tidak boleh sama dengan {own_label} pemohon. "
            "Penjamin harus memakai alamat emailnya sendiri.",
            f"{label} (guarantor's email) must not be the same as your own {own_label}. "
            "The guarantor must use their own address.",
        )


def rule_purpose(app: _Application) -> Iterable[Problem]:
    """Mudik, halalbihalal, reunions, silaturahmi, family visits: not allowed (except urgent)."""
    purpose = " ".join(re.sub(r"[^a-z0-9]+", " ", app.fields.get("keperluan", "").lower()).split())
    if app.category != "urgent" and _NOT_ALLOWED_PURPOSE.search(purpose):
        label = _label("keperluan")
        yield Problem(
            "keperluan",
            "purpose_not_allowed",
            f"{label} ini tidak diizinkan: mudik, halalbihalal, reuni, silaturahmi atau "
            "mengunjungi keluarga tidak bisa mendapat SIKM.",
            f"This {label} (purpose) is not allowed: going home for Eid (mudik), "
            "halalbihalal, reunions, silaturahmi or visiting family cannot get an SIKM.",
        )


def rule_touches_jakarta(app: _Application) -> Iterable[Problem]:
    """An SIKM is for leaving or entering Jakarta: one end must be in DKI Jakarta."""
    origin, destination = app.fields.get("kota_asal", ""), app.fields.get("kota_tujuan", "")
    if origin and destination and not (is_jakarta(origin) or is_jakarta(destination)):
        asal, tujuan = _label("kota_asal"), _label("kota_tujuan")
        origin, destination = _short(origin), _short(destination)
        yield Problem(
            "kota_asal",
            "trip_not_jakarta",
            f"SIKM hanya untuk perjalanan keluar atau masuk Jakarta, tetapi {asal} ({origin}) "
            f"dan {tujuan} ({destination}) keduanya di luar DKI Jakarta.",
            f"An SIKM is only for travel out of or into Jakarta, but {asal} ({origin}) and "
            f"{tujuan} ({destination}) are both outside DKI Jakarta.",
        )


RULES: list[Rule] = [
    rule_formats,
    rule_required,
    rule_applicant_nik,
    rule_guarantor_nik,
    rule_departure_past,
    rule_return_before_departure,
    rule_period,
    rule_guarantor_email,
    rule_purpose,
    rule_touches_jakarta,
]


# ------------------------------------------------------------------ assessment


def _order(problems: Iterable[Problem]) -> list[Problem]:
    """Unique per (field, code); form fields in form order, then the rest by name."""
    unique: dict[tuple[str, str], Problem] = {}
    for problem in problems:
        unique.setdefault((problem.field, problem.code), problem)
    return sorted(
        unique.values(),
        key=lambda p: (_FORM_ORDER.get(p.field, len(_FORM_ORDER)), p.field, p.code),
    )


def assess(
    fields: dict[str, str],
    documents: Iterable[str],
    attachment_problems: Iterable[Problem] = (),
    *,
    today: date,
    form_found: bool,
) -> Assessment:
    """Judge an application: what is wrong with the fields, which documents are missing.

    `fields`: the form values (normalised or raw: they are normalised again).
    `documents`: DocKind values of the attachments that were readable.
    `attachment_problems`: problems with attachments, passed through.
    `today`: the assessment date. `form_found`: False → "form" is missing (the
    form counts only by this flag, whatever `documents` says).
    Complete = nothing missing and no problems.
    """
    values, format_problems = normalize_fields(dict(fields or {}))
    app = _Application(values, format_problems, today)
    problems: list[Problem] = []
    for rule in RULES:
        problems.extend(rule(app))
    problems.extend(attachment_problems)
    problems = _order(problems)

    have = {str(kind) for kind in documents} - {"form"}
    if form_found:
        have.add("form")
    missing = sorted({doc for doc in required_documents(app.category, values) if doc not in have})
    return Assessment(complete=not missing and not problems, missing=missing, problems=problems)
