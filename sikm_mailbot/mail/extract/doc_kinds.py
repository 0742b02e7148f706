"""Which document an attachment is (DocKind): by what it says and looks like first.

Content decides: our AcroForm's keys, then the text (a text layer or OCR) scored
against the table of :mod:`.doc_cues`, then — for an image with (almost) no
text — one frontal face makes a pas foto. File name and shape only break ties,
or speak when the content says nothing. Pure: the caller passes what was read
(text, AcroForm keys, image size, number of faces).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sikm_mailbot.domain.vocabulary import FORM_LABELS, DocKind

from .doc_cues import MIN_SCORE, Score, is_textless, score_text
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
    ("meninggal", DocKind.emergency_letter),
    ("rawat", DocKind.emergency_letter),
    ("tugas", DocKind.work_letter),
    ("kerja", DocKind.work_letter),
    ("usaha", DocKind.work_letter),
    ("kelurahan", DocKind.rtrw_letter),
    ("lurah", DocKind.rtrw_letter),
    ("ktp", DocKind.ktp),
    ("keluarga", DocKind.ktp),  # kartu keluarga (KK) counts as the KTP
    ("kitas", DocKind.kitas),
    ("kitap", DocKind.kitas),
    ("paspor", DocKind.passport),
    ("pasfoto", DocKind.photo),
    ("selfie", DocKind.photo),
    ("photo", DocKind.photo),  # "passport_photo" is a pas foto
    ("foto", DocKind.photo),
    ("passport", DocKind.passport),
]
# Short words only count as whole tokens ("kk" is not inside "bukkit").
_NAME_TOKENS: dict[str, DocKind] = {
    "kk": DocKind.ktp,
    "rt": DocKind.rtrw_letter,
    "rw": DocKind.rtrw_letter,
    "rtrw": DocKind.rtrw_letter,
    "desa": DocKind.rtrw_letter,
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
# Kinds printed on a card (landscape, with the holder's face): the shape favours them.
CARD_KINDS = frozenset({DocKind.ktp, DocKind.kitas, DocKind.passport})
# An AcroForm is ours when it has at least this many of our keys, one of them a trip key
# (a fillable statement letter may well have `nama` and `nik` fields too).
OUR_FORM_MIN_KEYS = 3
NEAR_MISS = 2  # text this close to MIN_SCORE counts when the name or card shape agrees
_TRIP_KEYS = frozenset(
    {"kategori", "jenis_perjalanan", "kota_asal", "kota_tujuan", "tanggal_berangkat"}
)


@dataclass(frozen=True)
class Verdict:
    """What a document was taken for, and why (English, for the officer)."""

    kind: DocKind
    reason: str
    label: str = ""  # the table row that decided ("kk", "kelurahan_letter"), if the text did
    score: int = 0


def _shape(width: int | None, height: int | None) -> str:
    """The image's shape: card (landscape 1.4–1.8), portrait, or "" (unknown, other)."""
    if not width or not height:
        return ""
    if width > height and 1.4 <= width / height <= 1.8:
        return "card"
    return "portrait" if height > width else ""


def _break_tie(tied: list[Score], filename: str, width: int | None, height: int | None) -> Score:
    """Of equally scored profiles: the one the file name names, then the one the shape fits."""
    named = kind_from_name(filename)
    for score in tied:
        if score.profile.kind == named:
            return score
    shape = _shape(width, height)
    for score in tied:
        if shape and (score.profile.kind in CARD_KINDS) == (shape == "card"):
            return score
    return tied[0]


def _near_miss(
    scores: list[Score], filename: str, width: int | None, height: int | None
) -> tuple[Score, str] | None:
    """A profile just short of MIN_SCORE that the file name or a card's shape confirms.

    A small, sharp card photo may show only "PROVINSI … NIK … 3174…": too little
    text alone, enough with the card's shape. Name and shape never outweigh text.
    """
    named = kind_from_name(filename)
    card = _shape(width, height) == "card"
    for score in scores:
        if score.points < MIN_SCORE - NEAR_MISS:
            break
        if score.profile.kind == DocKind.unknown:
            continue
        if score.profile.kind == named:
            return score, "its text and file name"
        if card and score.profile.kind in CARD_KINDS:
            return score, "its text and card shape"
    return None


def text_verdict(
    text: str, *, filename: str = "", width: int | None = None, height: int | None = None
) -> Verdict | None:
    """The kind the text says (score ≥ MIN_SCORE), ties broken by name then shape; or None."""
    if not text.strip():
        return None
    scores = score_text(text)
    best, how = scores[0], "its text"
    if best.points < MIN_SCORE:
        near = _near_miss(scores, filename, width, height)
        if near is None:
            return None
        best, how = near
    tied = [s for s in scores if s.points == best.points]
    if len({s.profile.kind for s in tied}) > 1:
        best = _break_tie(tied, filename, width, height)
    note = f" ({best.profile.note})" if best.profile.note else ""
    reason = f"recognised by {how}{note}"
    return Verdict(best.profile.kind, reason, best.profile.name, best.points)


def kind_from_text(text: str) -> DocKind | None:
    """The kind a document's text names, or None (case, spacing and OCR noise tolerated).

    The table of :mod:`.doc_cues` is scored; the text's first title weighs most:
    real letters name other documents in their body — a death certificate
    "berdasarkan surat pengantar RT", a guarantee letter that encloses "surat
    pernyataan", a statement about the data in the "Formulir Permohonan SIKM".
    A text recognised as something we do not ask for (a health certificate) is None.
    """
    verdict = text_verdict(text)
    if verdict is None or verdict.kind == DocKind.unknown:
        return None
    return verdict.kind


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


def _image_without_text(
    filename: str, width: int | None, height: int | None, faces: int | None, *, read: bool
) -> Verdict:
    """An image whose text (if any was read) says nothing: face, then name, then shape."""
    by_name = kind_from_name(filename)
    if not read or faces is None:  # nothing to go on but the name and the shape
        if by_name is not None:
            return Verdict(by_name, "image; kind from the file name")
        if width and height and min(width, height) < MIN_IMAGE_SIDE:
            return Verdict(DocKind.unknown, "small image (logo or icon?)")
        by_shape = kind_from_shape(width, height)
        if by_shape is not None:
            return Verdict(by_shape, f"image shape {width}x{height}")
        return Verdict(DocKind.unknown, "image of no recognised shape or name")
    if width and height and min(width, height) < MIN_IMAGE_SIDE:
        return Verdict(DocKind.unknown, "small image (logo or icon?)")
    if faces == 1:
        if by_name in CARD_KINDS:  # a card has its holder's face; its text was not read
            return Verdict(by_name, "a face and no readable text; kind from the file name")
        return Verdict(DocKind.photo, "one face and no text: a photo")
    if by_name is not None:
        return Verdict(by_name, "no readable text; kind from the file name")
    if faces > 1:
        return Verdict(DocKind.unknown, f"{faces} faces and no text: not a pas foto")
    return Verdict(DocKind.unknown, "no face and no readable text")


def classify_content(
    text: str | None,
    *,
    width: int | None = None,
    height: int | None = None,
    faces: int | None = None,
    filename: str = "",
) -> Verdict:
    """What an image or scanned page is, by what it says and looks like.

    ``text``: its text layer or OCR (None: not read, e.g. no OCR engine).
    ``faces``: frontal faces found (:func:`.faces.count_faces`; None: not looked).
    Order: the text's verdict (a KTP has a face too: text wins); then, with
    (almost) no text, one face is a photo; then the file name; then the shape —
    the last only when nothing was read (a portrait is no longer a photo when
    OCR and the face detector found nothing in it).
    """
    if text is not None:
        verdict = text_verdict(text, filename=filename, width=width, height=height)
        if verdict is not None:
            return verdict
        if not is_textless(text):
            by_name = kind_from_name(filename)
            if by_name is not None:
                return Verdict(by_name, "text not recognised; kind from the file name")
            return Verdict(DocKind.unknown, "text not recognised")
    return _image_without_text(filename, width, height, faces, read=text is not None)


def classify(
    detected_type: str,
    filename: str,
    *,
    text: str = "",
    acroform_keys: Iterable[str] = (),
    width: int | None = None,
    height: int | None = None,
    faces: int | None = None,
) -> tuple[str, str]:
    """(DocKind value, English reason) for an attachment, content first.

    PDFs, office files and text: our AcroForm, then the text, then the file name.
    Images: :func:`classify_content` — the text (OCR) when there is some, one face
    with no text a photo, then the file name, then the shape. Without OCR text
    and faces (``text=""``, ``faces=None``) an image goes by name, then shape.
    """
    if detected_type in ACCEPTED_IMAGES:
        read = bool(text.strip()) or faces is not None
        verdict = classify_content(
            text if read else None, width=width, height=height, faces=faces, filename=filename
        )
        reason = verdict.reason
        if verdict.label and not reason.startswith("image"):
            reason = f"image; {reason}"
        return verdict.kind.value, reason
    if is_our_acroform(acroform_keys):
        return DocKind.form.value, "fillable form with our field names"
    by_text = text_verdict(text, filename=filename)
    if by_text is not None:
        return by_text.kind.value, by_text.reason
    by_name = kind_from_name(filename)
    if by_name is not None:
        why = "no text layer (scan?)" if not text.strip() else "text not recognised"
        return by_name.value, f"{why}; kind from the file name"
    return DocKind.unknown.value, "not recognised by text or file name"
