"""What an OCR reading makes of a photo or a scan: its kind, its fields, or why it is unreadable.

The sandbox child reads the pixels (:mod:`.ocr`); this module, in the parent,
turns its typed answer into the attachment's text, kind, fields and reason. The
rules:

- text that names a document (our form's title or labels, "SURAT PERNYATAAN",
  …) decides the kind, and our form's `Label: value` lines become its fields
  (field source "ocr");
- a picture with no text (a pas foto) keeps the kind its shape or name gives;
- a document whose text could not be read with confidence is *could not be
  read* (problem ``attachment_unreadable``) with the cause (too blurred, too
  dark…) — never silently empty, so it reaches the officer instead of being
  reported missing;
- without OCR on this machine, a photo or scan that needs reading is
  unreadable with the reason "OCR not available" (an officer reads it).
"""

from __future__ import annotations

import time
from typing import Any

from sikm_mailbot.domain.vocabulary import DocKind

from .doc_kinds import classify, is_our_acroform, kind_from_text
from .fields import parse_fields
from .model import Limits, ReadAttachment
from .ocr import unreadable_reason

EXCERPT_CHARS = 300
OCR_MARGIN = 2.0  # seconds of a job kept for decoding, rendering and the reply
# A picture (KTP- or photo-shaped) with fewer words than this is a picture with a
# little text on it, not a page: a poor reading of it is no reason to refuse it.
PAGE_WORDS = 30
PICTURE_KINDS = frozenset({DocKind.photo.value, DocKind.ktp.value})
OFFICER = "an officer will read it"


def excerpt(text: str) -> str:
    """The first EXCERPT_CHARS of ``text`` on one line."""
    return " ".join(text.split())[:EXCERPT_CHARS]


def ocr_seconds(limits: Limits, sandbox: Any) -> float:
    """Seconds one job may spend on OCR: the job's CPU budget or the message's time left."""
    left = float(limits.child_timeout)
    deadline = getattr(sandbox, "deadline", None)  # reader._MessageBudget
    if isinstance(deadline, float):
        left = deadline - time.monotonic()
    return max(0.5, min(left, float(limits.child_cpu_seconds)) - OCR_MARGIN)


def ocr_note(reading: dict[str, Any]) -> str:
    """How a page was read, for the reason text: "OCR: 298 words, confidence 95; …"."""
    steps = ", ".join(str(s) for s in reading.get("steps") or [])
    words, confidence = int(reading.get("words") or 0), float(reading.get("confidence") or 0)
    return f"OCR: {words} words, confidence {confidence:.0f}" + (f" ({steps})" if steps else "")


def form_fields(text: str) -> dict[str, str] | None:
    """Our form's fields when ``text`` is our form: its title, or (when no other title
    names the document: a statement has Nama/NIK lines too) our labels with a trip key."""
    fields = parse_fields(text)
    by_text = kind_from_text(text)
    if by_text == DocKind.form or (by_text is None and is_our_acroform(fields)):
        return fields
    return None


def apply_image_reading(att: ReadAttachment, reading: dict[str, Any] | None) -> None:
    """Set kind, fields, text and problem of an image from its OCR ``reading``.

    ``reading`` is None when the image was too small to read (a logo): then the
    shape and name decide, as for any picture.
    """
    # No face found is no verdict: the name and the shape decide, as before OCR.
    faces = (reading.get("faces") or None) if reading is not None else None
    looks, why = classify(
        att.detected_type, att.filename, width=att.width, height=att.height, faces=faces
    )
    att.kind, att.reason = looks, why
    if reading is None:
        return
    if not reading.get("ok"):
        att.problem = "attachment_unreadable"
        att.reason = f"{reading.get('error') or 'OCR failed'}; {OFFICER} ({why})"
        return
    text = str(reading.get("text") or "")
    att.ocr_confidence = float(reading.get("confidence") or 0.0)
    att.text_excerpt = excerpt(text)
    note = ocr_note(reading)
    trouble = unreadable_reason(reading)
    by_text = kind_from_text(text)
    fields = form_fields(text) if trouble is None else None
    if fields is not None:
        att.kind, att.fields = DocKind.form.value, fields
        att.field_source = "ocr" if fields else ""
        att.reason = f"our form, read by OCR; {note}"
    elif trouble is None and by_text is not None:
        att.kind, att.reason = by_text.value, f"recognised by its text (OCR); {note}"
    elif trouble is None:
        kind, why = classify(
            att.detected_type,
            att.filename,
            text=text,
            width=att.width,
            height=att.height,
            faces=faces,
        )
        att.kind, att.reason = kind, f"text not recognised; {why}; {note}"
    elif trouble == "no text found" and looks != DocKind.unknown.value:
        att.reason = f"{why}; no text on it"
    elif looks in PICTURE_KINDS and int(reading.get("words") or 0) < PAGE_WORDS:
        att.reason = f"{why}; its little text not readable ({note})"
    else:
        att.kind = (by_text.value if by_text is not None else looks) or DocKind.unknown.value
        att.problem = "attachment_unreadable"
        att.reason = f"could not be read: {trouble}; {OFFICER} ({note})"


def apply_pdf_reading(att: ReadAttachment, ocr: dict[str, Any], has_text: bool) -> list[str]:
    """Record a scanned PDF's OCR on ``att``; the notes to add to its reason.

    ``has_text`` says whether any text (layer or usable OCR) was found; without
    it the PDF is unreadable with the cause. Sets ``ocr_confidence`` (mean over
    the pages OCR read, weighted by their words) and the problem when nothing
    could be read.
    """
    notes: list[str] = []
    pages = [p for p in ocr.get("pages") or [] if isinstance(p, dict)]
    troubles: list[str] = []
    words = sum(int(p.get("words") or 0) for p in pages)
    if words:
        att.ocr_confidence = round(
            sum(float(p.get("confidence") or 0) * int(p.get("words") or 0) for p in pages) / words,
            1,
        )
    for page in pages:
        trouble = unreadable_reason(page)
        if trouble is None:
            notes.append(f"page {page.get('page')} {ocr_note(page)}")
        else:
            troubles.append(f"page {page.get('page')}: {trouble}")
    notes += [f"could not be read: {t}" for t in troubles]
    skipped = [str(n) for n in ocr.get("skipped") or []]
    error = ocr.get("error")
    if skipped:
        cause = str(error) if error else "the time for reading this message ran out"
        notes.append(f"page(s) {', '.join(skipped)} not read by OCR: {cause}")
    usable = len(pages) > len(troubles)
    if not has_text and not usable and (pages or skipped):
        att.problem = "attachment_unreadable"
        first = troubles[0] if troubles else (str(error) if error else "not read in time")
        rest = [n for n in notes if not n.startswith(("could not be read: ", "page "))]
        return [f"scan could not be read ({first}); {OFFICER}", *rest]
    return notes
