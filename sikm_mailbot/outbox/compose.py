"""Rendering the bot's mails: Jinja2 templates, Bahasa Indonesia first, English below.

Each kind of mail has three templates in ``templates/email``: ``<kind>.subject.j2``
(one line), ``<kind>.txt.j2`` (plain text) and ``<kind>.html.j2`` (HTML, autoescaped).
The words that depend on data — status names, next steps, rejection and
cancellation reasons, unreadable-file reasons, documents per category — live in
the tables below, so every template says the same thing the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

from sikm_mailbot.config import OfficeSettings
from sikm_mailbot.domain.assess import DOCUMENTS
from sikm_mailbot.domain.vocabulary import (
    CATEGORY_NAMES_EN,
    CATEGORY_NAMES_ID,
    DOC_NAMES_EN,
    DOC_NAMES_ID,
    FORM_LABELS,
    STATUS_NAMES_ID,
    Category,
    DocKind,
)
from sikm_mailbot.errors import SikmError
from sikm_mailbot.resources import email_templates_dir
from sikm_mailbot.store.models import Application

KINDS: tuple[str, ...] = (
    "ack",
    "incomplete",
    "unreadable",
    "forms",
    "status",
    "rejection",
    "permit",
    "guarantor_request",
    "guarantor_reminder",
    "cancelled",
    "not_understood",
)

WIB = timezone(timedelta(hours=7), "WIB")  # Jakarta time; Indonesia has no DST
GUARANTOR_WINDOW = timedelta(hours=72)

STATUS_NAMES_EN: dict[str, str] = {
    "received": "received",
    "incomplete": "waiting for missing documents",
    "under_review": "administrative and technical review",
    "awaiting_guarantor": "waiting for the guarantor's confirmation",
    "issued": "approved, permit issued",
    "rejected": "rejected",
    "cancelled": "cancelled",
}

# What happens next, per state, in plain words (id, en).
NEXT_STEPS: dict[str, tuple[str, str]] = {
    "received": (
        "Kami sedang memeriksa kelengkapan berkas Anda.",
        "We are checking that your documents are complete.",
    ),
    "incomplete": (
        "Kami menunggu dokumen yang masih kurang. Balas email kami sebelumnya "
        "dan lampirkan dokumen yang diminta.",
        "We are waiting for the missing documents. Reply to our earlier email "
        "and attach the documents we asked for.",
    ),
    "under_review": (
        "Petugas sedang meneliti berkas Anda. Hasilnya kami kirim lewat email.",
        "An officer is reviewing your file. We will email you the result.",
    ),
    "awaiting_guarantor": (
        "Kami menunggu jawaban penjamin Anda. Mohon minta penjamin membalas email "
        "dari kami (periksa juga folder spam).",
        "We are waiting for your guarantor's answer. Please ask your guarantor to "
        "reply to our email (check the spam folder too).",
    ),
    "issued": (
        "SIKM Anda sudah terbit dan sudah kami kirim ke email Anda.",
        "Your permit has been issued and emailed to you.",
    ),
    "rejected": (
        "Permohonan ini ditolak. Anda boleh mengajukan permohonan baru.",
        "This application was rejected. You may send a new application.",
    ),
    "cancelled": (
        "Permohonan ini dibatalkan. Anda boleh mengajukan permohonan baru.",
        "This application was cancelled. You may send a new application.",
    ),
}

# Rejection reason code → plain sentence (id, en). "other" carries the officer's note.
REJECTION_REASONS: dict[str, tuple[str, str]] = {
    "no_signature": (
        "Surat Pernyataan belum ditandatangani atau belum diberi stempel.",
        "The statement letter has no signature or stamp.",
    ),
    "letter_not_naming_applicant": (
        "Surat tugas atau surat keterangan kerja tidak menyebut nama Anda.",
        "The assignment or employment letter does not name you.",
    ),
    "trip_not_jakarta": (
        "Perjalanan yang Anda ajukan tidak keluar dari atau masuk ke Jakarta, "
        "jadi tidak memerlukan SIKM.",
        "The trip you applied for does not leave or enter Jakarta, so it needs no permit.",
    ),
    "no_guarantor": (
        "Data penjamin tidak ada. Kategori Anda wajib punya penjamin di Jakarta.",
        "There is no guarantor. Your category needs a guarantor in Jakarta.",
    ),
    "guarantor_email_same": (
        "Email penjamin sama dengan email Anda. Penjamin harus memakai emailnya sendiri.",
        "The guarantor's email is the same as yours. The guarantor must use their own email.",
    ),
    "purpose_not_allowed": (
        "Keperluan perjalanan tidak termasuk yang diizinkan "
        "(misalnya mudik, kunjungan keluarga, halalbihalal, reuni).",
        "The purpose of the trip is not allowed "
        "(for example mudik, family visits, halalbihalal, reunions).",
    ),
    "missing_ktp": (
        "Scan atau foto KTP tidak ada atau tidak terbaca.",
        "The KTP scan or photo is missing or cannot be read.",
    ),
    "guarantor_refused": (
        "Penjamin Anda menolak menjamin perjalanan ini.",
        "Your guarantor refused to guarantee this trip.",
    ),
    "other": (
        "Berkas tidak memenuhi syarat. Lihat catatan petugas.",
        "The application does not meet the requirements. See the officer's note.",
    ),
}

# Cancellation reason code → plain sentence (id, en).
CANCEL_REASONS: dict[str, tuple[str, str]] = {
    "guarantor_timeout": (
        "Penjamin tidak menjawab dalam 3 x 24 jam.",
        "The guarantor did not answer within 72 hours.",
    ),
    "incomplete_timeout": (
        "Dokumen yang kurang tidak kami terima dalam batas waktu.",
        "We did not receive the missing documents in time.",
    ),
    "applicant_request": (
        "Dibatalkan atas permintaan Anda.",
        "Cancelled at your request.",
    ),
    "other": (
        "Permohonan dibatalkan oleh petugas.",
        "The application was cancelled by an officer.",
    ),
}

# Why a file could not be read: attachment problem code (as extract/ and pipeline.py
# set it) → plain words (id, en). Short aliases are accepted too.
_ENCRYPTED = ("file dikunci dengan kata sandi (password)", "the file is locked with a password")
_ARCHIVE = (
    "file berupa ZIP/RAR; kami tidak membuka file terkompresi",
    "the file is a ZIP/RAR archive; we do not open archives",
)
_UNSUPPORTED = ("jenis file ini tidak bisa kami baca", "we cannot read this type of file")
_TOO_LARGE = ("file terlalu besar (paling besar 10 MB)", "the file is too large (10 MB at most)")
_DAMAGED = (
    "file rusak atau isinya tidak bisa dibuka",
    "the file is damaged or its content cannot be opened",
)
UNREADABLE_REASONS: dict[str, tuple[str, str]] = {
    "attachment_unreadable": _DAMAGED,
    "pdf_encrypted": _ENCRYPTED,
    "unsupported_format": _UNSUPPORTED,
    "archive_not_accepted": _ARCHIVE,
    "file_too_large": _TOO_LARGE,
    "too_many_attachments": (
        "terlalu banyak lampiran dalam satu email; file ini tidak kami baca",
        "too many attachments in one email; this file was not read",
    ),
    "form_xfa": (
        "formulir ini jenis lama (XFA) yang tidak bisa dibaca; pakai formulir resmi kami",
        "this form is an old kind (XFA) that cannot be read; use our official form",
    ),
    "encrypted": _ENCRYPTED,
    "archive": _ARCHIVE,
    "corrupt": _DAMAGED,
    "unsupported": _UNSUPPORTED,
    "too_large": _TOO_LARGE,
    "too_many_pages": ("file terlalu banyak halaman", "the file has too many pages"),
    "empty": ("file kosong", "the file is empty"),
    "timeout": (
        "file terlalu lama dibuka (mungkin rusak atau terlalu rumit)",
        "the file took too long to open (it may be damaged or too complex)",
    ),
}
_UNREADABLE_FALLBACK = ("file tidak bisa dibuka", "the file could not be opened")

TRIP_NAMES: dict[str, tuple[str, str]] = {
    "single": ("Sekali perjalanan", "Single trip"),
    "multiple": ("Berulang", "Multiple trips"),
}


def _required_docs() -> dict[str, tuple[tuple[str, ...], ...]]:
    """Documents per category from assess.DOCUMENTS (one source of truth); each entry
    is a group of alternatives, one of which is enough. nonresident_in also needs the
    Jakarta workplace letter (work trip) or the domicile letter (emergency)."""
    table = {cat: tuple((doc,) for doc in docs) for cat, docs in DOCUMENTS.items()}
    table[Category.nonresident_in] = (
        *table[Category.nonresident_in],
        (DocKind.work_letter, DocKind.domicile_letter),
    )
    return table


# The forms mail renders this table; the assessment uses the same one.
REQUIRED_DOCS: dict[str, tuple[tuple[str, ...], ...]] = _required_docs()

_DAYS_ID = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
_DAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS_ID = [
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
]
_MONTHS_EN = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


class ReplyError(SikmError):
    """A reply cannot be rendered (unknown kind, missing template, missing value)."""


@dataclass(frozen=True)
class RenderedReply:
    """A rendered mail: one-line subject, plain text and HTML alternatives."""

    kind: str
    subject: str
    text: str
    html: str


def _as_day(value: Any) -> date | None:
    """A date from a datetime (shown in Jakarta time), a date, or a form string."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)  # the store keeps UTC
        return aware.astimezone(WIB).date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for fmt in ("%d-%m-%Y", "%d/%m/%Y", "%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def format_date_id(value: Any) -> str:
    """``Selasa, 26 Mei 2020``; a value that is not a date comes back as typed."""
    day = _as_day(value)
    if day is None:
        return "" if value is None else str(value)
    return f"{_DAYS_ID[day.weekday()]}, {day.day} {_MONTHS_ID[day.month - 1]} {day.year}"


def format_date_en(value: Any) -> str:
    """``Tuesday 26 May 2020``; a value that is not a date comes back as typed."""
    day = _as_day(value)
    if day is None:
        return "" if value is None else str(value)
    return f"{_DAYS_EN[day.weekday()]} {day.day} {_MONTHS_EN[day.month - 1]} {day.year}"


def _time_wib(value: Any) -> str:
    """``14:30 WIB`` for a datetime (naive = UTC, as the store keeps it); else ""."""
    if not isinstance(value, datetime):
        return ""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(WIB).strftime("%H:%M WIB")


def _doc_group(group: Iterable[str]) -> dict[str, str]:
    kinds = list(group)
    return {
        "kinds": " ".join(kinds),
        "id": " atau ".join(DOC_NAMES_ID.get(k, k) for k in kinds),
        "en": " or ".join(DOC_NAMES_EN.get(k, k) for k in kinds),
    }


def category_documents() -> list[dict[str, Any]]:
    """The documents per category, from :data:`REQUIRED_DOCS`, ready for templates."""
    return [
        {
            "code": str(code),
            "name_id": CATEGORY_NAMES_ID[code],
            "name_en": CATEGORY_NAMES_EN[code],
            "docs": [_doc_group(g) for g in groups],
        }
        for code, groups in REQUIRED_DOCS.items()
    ]


def _problem_label(field: str) -> tuple[str, str]:
    if field in FORM_LABELS:
        return FORM_LABELS[field], FORM_LABELS[field]
    if field in DOC_NAMES_ID:
        return DOC_NAMES_ID[field], DOC_NAMES_EN[field]
    return "", ""


def _problems(items: Iterable[Any]) -> list[dict[str, str]]:
    out = []
    for p in items:
        d = p.as_dict() if hasattr(p, "as_dict") else dict(p)
        label_id, label_en = _problem_label(str(d.get("field", "")))
        out.append(
            {
                "field": str(d.get("field", "")),
                "code": str(d.get("code", "")),
                "label_id": label_id,
                "label_en": label_en,
                "message_id": str(d.get("message_id", "")),
                "message_en": str(d.get("message_en", "")),
            }
        )
    return out


def _unreadable(items: Iterable[Any]) -> list[dict[str, str]]:
    """Files we could not read: dicts or Attachment rows (filename, problem, reason)."""
    out = []
    for item in items:
        get = item.get if isinstance(item, Mapping) else lambda k, _i=item: getattr(_i, k, None)
        code = str(get("problem") or "")
        words = UNREADABLE_REASONS.get(code, _UNREADABLE_FALLBACK)
        out.append(
            {
                "filename": str(get("filename") or "(tanpa nama / no name)"),
                "reason_id": str(get("reason_id") or words[0]),
                "reason_en": str(get("reason_en") or words[1]),
            }
        )
    return out


def _example_tracking(prefix: str) -> str:
    return f"{prefix}-2020-000123"


def build_context(
    app: Application | None, *, office: OfficeSettings | None = None, **extra: Any
) -> dict[str, Any]:
    """Everything a template may use, with every key present (empty when unknown).

    From ``app``: tracking number, status words, category and trip names, form
    fields, missing documents (names in both languages), problems, due date and
    guarantor deadline in both languages, decision reason. ``extra`` adds or
    overrides keys; these are read specially: ``unreadable`` (files: dicts or
    Attachment rows with filename/problem), ``attached_files`` (names of files
    attached to this mail), ``cancel_reason``, ``reason``/``note`` (rejection),
    ``permit_number``, ``valid_from``/``valid_until`` (dates), ``missing``,
    ``problems``, ``deadline``.
    """
    office = office or OfficeSettings()
    fields: dict[str, Any] = dict(app.fields) if app else {}
    status = app.status if app else ""
    category = (app.category if app else None) or ""
    trip = (app.trip_type if app else None) or ""
    missing = list(extra.pop("missing", app.missing if app else []))
    problems = list(extra.pop("problems", app.problems if app else []))
    reason = str(extra.pop("reason", (app.decision_reason if app else "") or ""))
    note = str(extra.pop("note", (app.decision_note if app else "") or ""))
    cancel_reason = str(extra.pop("cancel_reason", reason if status == "cancelled" else ""))
    requested = app.guarantor_requested_at if app else None
    deadline = extra.pop("deadline", requested + GUARANTOR_WINDOW if requested else None)
    due = extra.pop("due_at", app.due_at if app else None)
    multiple = trip == "multiple"
    valid_from = extra.pop("valid_from", fields.get("tanggal_berangkat"))
    valid_until = extra.pop(
        "valid_until", fields.get("berlaku_sampai" if multiple else "tanggal_kembali")
    )
    rej = REJECTION_REASONS.get(reason, REJECTION_REASONS["other"])
    cancel = CANCEL_REASONS.get(cancel_reason, CANCEL_REASONS["other"])
    next_step = NEXT_STEPS.get(status, ("", ""))
    ctx: dict[str, Any] = {
        "office": {"name": office.name, "address": office.address},
        "tracking_id": app.id if app else "",
        "example_tracking": _example_tracking(office.tracking_prefix),
        "name": str(fields.get("nama") or (app.name if app else "") or ""),
        "fields": fields,
        "status": status,
        "status_id": STATUS_NAMES_ID.get(status, status),
        "status_en": STATUS_NAMES_EN.get(status, status),
        "next_id": next_step[0],
        "next_en": next_step[1],
        "category": category,
        "category_id": CATEGORY_NAMES_ID.get(category, ""),
        "category_en": CATEGORY_NAMES_EN.get(category, ""),
        "trip_type": trip,
        "trip_id": TRIP_NAMES.get(trip, ("", ""))[0],
        "trip_en": TRIP_NAMES.get(trip, ("", ""))[1],
        "origin": str(fields.get("kota_asal") or ""),
        "destination": str(fields.get("kota_tujuan") or ""),
        "purpose": str(fields.get("keperluan") or ""),
        "depart_id": format_date_id(fields.get("tanggal_berangkat")),
        "depart_en": format_date_en(fields.get("tanggal_berangkat")),
        "return_id": format_date_id(fields.get("tanggal_kembali")),
        "return_en": format_date_en(fields.get("tanggal_kembali")),
        "until_id": format_date_id(fields.get("berlaku_sampai")),
        "until_en": format_date_en(fields.get("berlaku_sampai")),
        "guarantor_name": str(fields.get("penjamin_nama") or ""),
        "missing": [
            {"kind": k, "name_id": DOC_NAMES_ID.get(k, k), "name_en": DOC_NAMES_EN.get(k, k)}
            for k in missing
        ],
        "problems": _problems(problems),
        "unreadable": _unreadable(extra.pop("unreadable", [])),
        "attached_files": [str(f) for f in extra.pop("attached_files", [])],
        "categories": category_documents(),
        "due_id": format_date_id(due),
        "due_en": format_date_en(due),
        "deadline_id": format_date_id(deadline),
        "deadline_en": format_date_en(deadline),
        "deadline_time": _time_wib(deadline),
        "reason": reason,
        "reason_id": rej[0],
        "reason_en": rej[1],
        "note": note,
        "cancel_reason": cancel_reason,
        "cancel_id": cancel[0],
        "cancel_en": cancel[1],
        "permit_number": str(extra.pop("permit_number", (app.permit_number if app else "") or "")),
        "valid_from_id": format_date_id(valid_from),
        "valid_from_en": format_date_en(valid_from),
        "valid_until_id": format_date_id(valid_until),
        "valid_until_en": format_date_en(valid_until),
    }
    ctx.update(extra)
    return ctx


def _environment(template_dir: Path | None, *, html: bool) -> Environment:
    search = [str(template_dir)] if template_dir else []
    search.append(str(email_templates_dir()))
    return Environment(
        loader=FileSystemLoader(search),
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


_ENVS: dict[tuple[str, bool], Environment] = {}


def _env(template_dir: Path | None, html: bool) -> Environment:
    key = (str(template_dir or ""), html)
    if key not in _ENVS:
        _ENVS[key] = _environment(template_dir, html=html)
    return _ENVS[key]


def _one_line(text: str) -> str:
    """Subjects are one line with no control characters (header injection)."""
    return re.sub(r"\s+", " ", re.sub(r"[\x00-\x1f\x7f]", " ", text)).strip()


def render(
    kind: str,
    context: Mapping[str, Any],
    office: OfficeSettings,
    *,
    template_dir: Path | None = None,
) -> RenderedReply:
    """Render mail ``kind`` with ``context`` (usually from :func:`build_context`).

    ``template_dir`` (e.g. from settings) is searched before the shipped templates,
    file by file, so an office can override one template. The subject always starts
    with ``[tracking number]`` when the context has one. Raises :class:`ReplyError`
    for an unknown kind or a template that uses a value the context lacks.
    """
    if kind not in KINDS:
        raise ReplyError(f"unknown reply kind {kind!r}; known: {', '.join(KINDS)}")
    ctx = dict(context)
    ctx.setdefault("office", {"name": office.name, "address": office.address})
    try:
        subject = _env(template_dir, False).get_template(f"{kind}.subject.j2").render(ctx)
        text = _env(template_dir, False).get_template(f"{kind}.txt.j2").render(ctx)
        html = _env(template_dir, True).get_template(f"{kind}.html.j2").render(ctx)
    except TemplateNotFound as exc:
        raise ReplyError(f"template missing for {kind!r}: {exc.name}") from exc
    except Exception as exc:  # StrictUndefined and template errors: name the kind
        raise ReplyError(f"cannot render {kind!r}: {exc}") from exc
    subject = _one_line(subject)
    tracking = str(ctx.get("tracking_id") or "")
    if tracking and f"[{tracking}]" not in subject:
        subject = f"[{tracking}] {subject}"
    return RenderedReply(kind=kind, subject=subject, text=text, html=html)
