"""Which document an attachment is (DocKind): by content first, file name second.

The table is CONTRACT-READING.md ("How attachments are recognised"). Pure: the
caller passes what was read (text, AcroForm keys, image size).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sikm_mailbot.domain.vocabulary import FORM_LABELS, DocKind

from .filetypes import ACCEPTED_IMAGES

MIN_IMAGE_SIDE = 100  # smaller images are logos/icons, not documents

# ---------------------------------------------------------------- kind by file name

# Checked in this order: specific words before the generic ones ("foto_ktp" is a KTP).
_NAME_WORDS: list[tuple[str, DocKind]] = [
    ("formulir", DocKind.form),
    ("pernyataan", DocKind.statement),
    ("jaminan", DocKind.guarantee_letter),
    ("penjamin", DocKind.guarantee_letter),
    ("pengantar", DocKind.rtrw_letter),
    ("domisili", DocKind.domicile_letter),
    ("kematian", DocKind.emergency_letter),
    ("sakit", DocKind.emergency_letter),
    ("rujukan", DocKind.emergency_letter),
    ("tugas", DocKind.work_letter),
    ("kerja", DocKind.work_letter),
    ("usaha", DocKind.work_letter),
    ("ktp", DocKind.ktp),
    ("pasfoto", DocKind.photo),
    ("selfie", DocKind.photo),
    ("photo", DocKind.photo),
    ("foto", DocKind.photo),
]
# Short words only count as whole tokens ("kk" is not inside "bukkit").
_NAME_TOKENS: dict[str, DocKind] = {
    "kk": DocKind.ktp,
    "rt": DocKind.rtrw_letter,
    "rw": DocKind.rtrw_letter,
    "rtrw": DocKind.rtrw_letter,
}


def kind_from_name(filename: str) -> DocKind | None:
    """The kind a file name names (ktp, foto, pengantar, …), or None."""
    stem = filename.rsplit(".", 1)[0].lower() if "." in filename else filename.lower()
    for word, kind in _NAME_WORDS:
        if word in stem:
            return kind
    for token in re.split(r"[^a-z0-9]+", stem):
        if token in _NAME_TOKENS:
            return _NAME_TOKENS[token]
    return None


# ---------------------------------------------------------------- kind by content

FORM_TITLE = "FORMULIR PERMOHONAN SIKM"
# First match wins (CONTRACT-READING.md).
_TEXT_CUES: list[tuple[DocKind, tuple[str, ...]]] = [
    (DocKind.form, (FORM_TITLE,)),
    (DocKind.statement, ("SURAT PERNYATAAN",)),
    (DocKind.guarantee_letter, ("SURAT JAMINAN", "SURAT PENJAMINAN")),
    (DocKind.rtrw_letter, ("SURAT PENGANTAR",)),
    (DocKind.domicile_letter, ("KETERANGAN DOMISILI",)),
    (
        DocKind.emergency_letter,
        ("KETERANGAN KEMATIAN", "KETERANGAN SAKIT", "RUJUKAN", "KEADAAN DARURAT"),
    ),
    (
        DocKind.work_letter,
        ("SURAT TUGAS", "KETERANGAN KERJA", "KETERANGAN BEKERJA", "KETERANGAN USAHA"),
    ),
    (DocKind.ktp, ("KARTU TANDA PENDUDUK", "KARTU KELUARGA")),
]
# An AcroForm is ours when it has at least this many of our keys, one of them a trip key
# (a fillable statement letter may well have `nama` and `nik` fields too).
OUR_FORM_MIN_KEYS = 3
_TRIP_KEYS = frozenset(
    {"kategori", "jenis_perjalanan", "kota_asal", "kota_tujuan", "tanggal_berangkat"}
)


def kind_from_text(text: str) -> DocKind | None:
    """The kind named by a document's text cues (case and spacing ignored), or None.

    The cue that appears first in the text wins (ties: the order of _TEXT_CUES):
    a letter's title comes before its body, and real letters name other
    documents in their body — a death certificate "berdasarkan surat pengantar
    RT", a guarantee letter that encloses "surat pernyataan", a statement about
    the data in the "Formulir Permohonan SIKM".
    """
    flat = " ".join(text.upper().split())
    best: tuple[int, int, DocKind] | None = None
    for rank, (kind, cues) in enumerate(_TEXT_CUES):
        for cue in cues:
            at = flat.find(cue)
            if at >= 0 and (best is None or (at, rank) < best[:2]):
                best = (at, rank, kind)
    return best[2] if best is not None else None


def is_our_acroform(keys: Iterable[str]) -> bool:
    """True when AcroForm field keys (already mapped to form keys) are our form's."""
    found = set(keys) & set(FORM_LABELS)
    return len(found) >= OUR_FORM_MIN_KEYS and bool(found & _TRIP_KEYS)


def kind_from_shape(width: int | None, height: int | None) -> DocKind | None:
    """KTP-shaped (landscape 1.4–1.8) or photo-shaped (portrait 1.2–1.6) image, or None."""
    if not width or not height:
        return None
    if width > height and 1.4 <= width / height <= 1.8:
        return DocKind.ktp
    if height > width and 1.2 <= height / width <= 1.6:
        return DocKind.photo
    return None


def classify(
    detected_type: str,
    filename: str,
    *,
    text: str = "",
    acroform_keys: Iterable[str] = (),
    width: int | None = None,
    height: int | None = None,
) -> tuple[str, str]:
    """(DocKind value, English reason) for an attachment, content first.

    PDFs and text: our AcroForm, then text cues, then the file name.
    Images: a file name that names a kind decides; else the shape; tiny images
    (logos) stay unknown.
    """
    by_name = kind_from_name(filename)
    if detected_type in ACCEPTED_IMAGES:
        if by_name is not None:
            return by_name.value, "image; kind from the file name"
        if width and height and min(width, height) < MIN_IMAGE_SIDE:
            return DocKind.unknown.value, "small image (logo or icon?)"
        by_shape = kind_from_shape(width, height)
        if by_shape is not None:
            return by_shape.value, f"image shape {width}x{height}"
        return DocKind.unknown.value, "image of no recognised shape or name"
    if is_our_acroform(acroform_keys):
        return DocKind.form.value, "fillable form with our field names"
    by_text = kind_from_text(text)
    if by_text is not None:
        return by_text.value, "recognised by its text"
    if by_name is not None:
        why = "no text layer (scan?)" if not text.strip() else "text not recognised"
        return by_name.value, f"{why}; kind from the file name"
    return DocKind.unknown.value, "not recognised by text or file name"
