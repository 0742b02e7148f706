"""The bot's words for codes and dates, Bahasa Indonesia first, English second.

One table per kind of code, so that every mail, every stored problem and the
officer's screen say the same thing the same way. Pure data and formatting: no
templates, no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

from sikm_mailbot.domain.vocabulary import Problem

Words = tuple[str, str]  # (Bahasa Indonesia, English)

WIB = timezone(timedelta(hours=7), "WIB")  # Jakarta time; Indonesia has no DST

STATUS_NAMES_EN: dict[str, str] = {
    "received": "received",
    "incomplete": "waiting for missing documents",
    "under_review": "administrative and technical review",
    "awaiting_guarantor": "waiting for the guarantor's confirmation",
    "issued": "approved, permit issued",
    "rejected": "rejected",
    "cancelled": "cancelled",
}

# What happens next, per state, in plain words.
NEXT_STEPS: dict[str, Words] = {
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

# Rejection reason code → plain sentence. "other" carries the officer's note.
REJECTION_REASONS: dict[str, Words] = {
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

# Cancellation reason code → plain sentence.
CANCEL_REASONS: dict[str, Words] = {
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

TRIP_NAMES: dict[str, Words] = {
    "single": ("Sekali perjalanan", "Single trip"),
    "multiple": ("Berulang", "Multiple trips"),
}


# ----------------------------------------------------------- files we could not use


@dataclass(frozen=True)
class FileProblemWords:
    """How one attachment problem code is said, in the two places it is said."""

    reason: Words  # after the file name in the unreadable list: "ktp.pdf: <reason>"
    advice: Words | None = None  # a whole sentence among the problems to fix; None = generic


_DAMAGED = (
    "file rusak atau isinya tidak bisa dibuka",
    "the file is damaged or its content cannot be opened",
)
_ENCRYPTED = ("file dikunci dengan kata sandi (password)", "the file is locked with a password")
_UNSUPPORTED = (
    "format file ini tidak diterima — kirim sebagai PDF/JPG/PNG, atau DOCX/ODT",
    "this file format is not accepted — send it as PDF/JPG/PNG, or DOCX/ODT",
)
_ARCHIVE = (
    "file berupa ZIP/RAR; kami tidak membuka file terkompresi",
    "the file is a ZIP/RAR archive; we do not open archives",
)
_TOO_LARGE = ("file terlalu besar (paling besar 10 MB)", "the file is too large (10 MB at most)")
_GENERIC_ADVICE = (
    "Berkas tidak dapat dibaca (rusak atau bukan dokumen). Kirim ulang sebagai PDF/JPG/PNG.",
    "The file cannot be read (damaged or not a document). Send it again as PDF/JPG/PNG.",
)

# Attachment problem code (as mail/extract and the intake set it) → its words.
# The short aliases at the end are accepted in the unreadable list only.
FILE_PROBLEMS: dict[str, FileProblemWords] = {
    "attachment_unreadable": FileProblemWords(_DAMAGED, _GENERIC_ADVICE),
    "pdf_encrypted": FileProblemWords(
        _ENCRYPTED,
        (
            "PDF dilindungi kata sandi. Kirim ulang tanpa kata sandi.",
            "The PDF is password-protected. Send it again without a password.",
        ),
    ),
    "unsupported_format": FileProblemWords(
        _UNSUPPORTED,
        (
            "Format berkas tidak diterima. Kirim sebagai PDF, JPG atau PNG, atau DOCX/ODT.",
            "This file format is not accepted. Send it as PDF, JPG or PNG, or DOCX/ODT.",
        ),
    ),
    "archive_not_accepted": FileProblemWords(
        _ARCHIVE,
        (
            "Arsip (zip/rar) tidak dibuka. Lampirkan setiap dokumen secara langsung.",
            "Archives (zip/rar) are not opened. Attach each document itself.",
        ),
    ),
    "file_too_large": FileProblemWords(
        _TOO_LARGE,
        (
            "Berkas terlalu besar. Kirim versi yang lebih kecil (maks. 10 MB).",
            "The file is too large. Send a smaller version (max. 10 MB).",
        ),
    ),
    "too_many_attachments": FileProblemWords(
        (
            "terlalu banyak lampiran dalam satu email; file ini tidak kami baca",
            "too many attachments in one email; this file was not read",
        ),
        (
            "Terlalu banyak lampiran dalam satu email; hanya sebagian yang dibaca.",
            "Too many attachments in one mail; only some were read.",
        ),
    ),
    "form_xfa": FileProblemWords(
        (
            "formulir ini jenis lama (XFA) yang tidak bisa dibaca; pakai formulir resmi kami",
            "this form is an old kind (XFA) that cannot be read; use our official form",
        ),
        (
            "Formulir ini memakai format XFA yang tidak dapat dibaca. Gunakan formulir resmi kami.",
            "This form uses XFA, which cannot be read. Use our official form.",
        ),
    ),
    "too_many_pages": FileProblemWords(
        ("file terlalu banyak halaman", "the file has too many pages")
    ),
    "empty": FileProblemWords(("file kosong", "the file is empty")),
    "timeout": FileProblemWords(
        (
            "file terlalu lama dibuka (mungkin rusak atau terlalu rumit)",
            "the file took too long to open (it may be damaged or too complex)",
        )
    ),
    "encrypted": FileProblemWords(_ENCRYPTED),
    "archive": FileProblemWords(_ARCHIVE),
    "corrupt": FileProblemWords(_DAMAGED),
    "unsupported": FileProblemWords(_UNSUPPORTED),
    "too_large": FileProblemWords(_TOO_LARGE),
}
UNKNOWN_FILE_PROBLEM: Words = ("file tidak bisa dibuka", "the file could not be opened")


def unreadable_reason(code: str) -> Words:
    """Why a file could not be read, as a phrase to put after its name."""
    words = FILE_PROBLEMS.get(code)
    return words.reason if words else UNKNOWN_FILE_PROBLEM


def attachment_problem(filename: str, code: str) -> Problem:
    """The Problem for an attachment that could not be used (``field`` = its file name).

    The message names the file ("IMG.doc: Format berkas tidak diterima. …"), so the
    applicant knows which of the files sent is meant.
    """
    words = FILE_PROBLEMS.get(code)
    advice = (words.advice if words else None) or _GENERIC_ADVICE
    named = f"{filename}: " if filename else ""
    return Problem(
        field=filename, code=code, message_id=named + advice[0], message_en=named + advice[1]
    )


def officer_note_problem(note: str) -> Problem:
    """The officer's request note, shown to the applicant as a problem to fix."""
    return Problem(field="", code="officer_note", message_id=note, message_en=note)


# ------------------------------------------------------------------------- dates

_DAYS_ID = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
_DAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS_ID = (
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
)
_MONTHS_EN = (
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
)


def _as_day(value: object) -> date | None:
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


def format_date_id(value: object) -> str:
    """``Selasa, 26 Mei 2020``; a value that is not a date comes back as typed."""
    day = _as_day(value)
    if day is None:
        return "" if value is None else str(value)
    return f"{_DAYS_ID[day.weekday()]}, {day.day} {_MONTHS_ID[day.month - 1]} {day.year}"


def format_date_en(value: object) -> str:
    """``Tuesday 26 May 2020``; a value that is not a date comes back as typed."""
    day = _as_day(value)
    if day is None:
        return "" if value is None else str(value)
    return f"{_DAYS_EN[day.weekday()]} {day.day} {_MONTHS_EN[day.month - 1]} {day.year}"


def format_time_wib(value: object) -> str:
    """``14:30 WIB`` for a datetime (naive = UTC, as the store keeps it); else ""."""
    if not isinstance(value, datetime):
        return ""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(WIB).strftime("%H:%M WIB")
