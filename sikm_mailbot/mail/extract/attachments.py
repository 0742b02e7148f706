"""Reading one attachment: checks, the sandboxed parse, classification, form fields.

Nothing here parses untrusted PDF or image data: that happens in the sandbox
child ("read_pdf", "read_image"); this module turns the child's typed answer into
a ReadAttachment. File types are in :mod:`.filetypes`, document kinds in
:mod:`.doc_kinds` (their public names are re-exported here).
"""

from __future__ import annotations

import hashlib
from typing import Any

from sikm_mailbot.domain.vocabulary import FORM_LABELS, DocKind
from sikm_mailbot.sandbox import Sandbox

from . import scans
from .doc_kinds import (
    OUR_FORM_MIN_KEYS,
    classify,
    is_our_acroform,
    kind_from_name,
    kind_from_shape,
    kind_from_text,
)
from .fields import parse_fields
from .filetypes import (
    ACCEPTED_IMAGES,
    ARCHIVES,
    OFFICE_READABLE,
    OFFICE_REFUSED,
    UNSUPPORTED_IMAGES,
    sniff_type,
)
from .html_text import html_to_text
from .model import Limits, ReadAttachment
from .office import fill_office

__all__ = [
    "classify",
    "is_our_acroform",
    "kind_from_name",
    "kind_from_shape",
    "kind_from_text",
    "read_attachment",
    "sniff_type",
]

EXCERPT_CHARS = 300

# ---------------------------------------------------------------- reading one attachment


def _excerpt(text: str) -> str:
    return " ".join(text.split())[:EXCERPT_CHARS]


def _map_field_name(name: str) -> str | None:
    """Our form key for an AcroForm field name ("nama", "form1.nama", "Nama Lengkap")."""
    last = name.rsplit(".", 1)[-1].strip()
    norm = "_".join(last.lower().split())
    if norm in FORM_LABELS:
        return norm
    for key, label in FORM_LABELS.items():
        if " ".join(last.lower().split()) == label.lower():
            return key
    return None


def _declared_pdf_or_image(declared_type: str, filename: str) -> bool:
    low = filename.lower()
    return declared_type.startswith(("application/pdf", "image/")) or low.endswith(
        (".pdf", ".jpg", ".jpeg", ".png", ".webp")
    )


def read_attachment(
    data: bytes,
    filename: str,
    declared_type: str,
    origin: str,
    limits: Limits,
    sandbox: Sandbox,
    charset: str | None = None,
) -> ReadAttachment:
    """Read and classify one attachment; untrusted parsing runs in `sandbox`. Never raises."""
    att = ReadAttachment(
        filename=filename,
        declared_type=declared_type,
        detected_type=sniff_type(data),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        origin=origin,
        data=data,
    )
    try:
        _fill(att, limits, sandbox, charset)
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the message
        att.problem = "attachment_unreadable"
        att.reason = f"internal error while reading ({type(exc).__name__})"
    return att


def _fill(att: ReadAttachment, limits: Limits, sandbox: Sandbox, charset: str | None) -> None:
    dtype = att.detected_type
    by_name = kind_from_name(att.filename)
    att.kind = (by_name or DocKind.unknown).value
    if att.size > limits.max_attachment_bytes:
        att.problem = "file_too_large"
        att.reason = f"{att.size} bytes, over the {limits.max_attachment_bytes}-byte limit"
        return
    if att.size == 0:
        att.problem = "attachment_unreadable"
        att.reason = "empty file"
        return
    if dtype in ARCHIVES:
        att.problem = "archive_not_accepted"
        att.reason = f"{dtype} archive (archives are not opened)"
        return
    if dtype in UNSUPPORTED_IMAGES:
        att.problem = "unsupported_format"
        att.reason = f"{dtype.upper()} image is not accepted (send PDF, JPEG or PNG)"
        return
    if dtype in OFFICE_REFUSED or dtype == "tnef":
        att.problem = "unsupported_format"
        att.reason = _office_reason(dtype)
        return
    if dtype in OFFICE_READABLE:  # .docx/.odt: parsed in the sandbox (office.py)
        fill_office(att, sandbox)
        return
    if dtype == "pdf":
        _read_pdf(att, limits, sandbox)
    elif dtype in ACCEPTED_IMAGES:
        _read_image(att, limits, sandbox)
    elif dtype == "text":
        _read_text(att, charset)
    elif _declared_pdf_or_image(att.declared_type, att.filename):
        att.problem = "attachment_unreadable"
        att.reason = "named or declared as PDF/image but the content is not one"
    else:
        att.problem = "unsupported_format"
        att.reason = "file type not recognised"


_OFFICE_NAMES = {
    "doc": "old Word/Excel file (.doc/.xls) or a password-protected Office file",
    "xlsx": "Excel workbook (.xlsx)",
    "pptx": "PowerPoint file (.pptx)",
    "ods": "OpenDocument spreadsheet (.ods)",
    "odp": "OpenDocument presentation (.odp)",
    "office": "office file other than a text document",
}


def _office_reason(dtype: str) -> str:
    """Why an office file is refused, naming what it is and what to send instead.

    Word (.docx) and OpenDocument text (.odt) are read; old binary files,
    spreadsheets and slides are not.
    """
    if dtype == "tnef":
        return (
            "Outlook winmail.dat (TNEF): the attachments inside cannot be opened; send again "
            "in HTML or plain-text format so the files arrive as ordinary attachments"
        )
    what = _OFFICE_NAMES.get(dtype, "this office file")
    return f"{what} is not accepted: send it as PDF, DOCX or ODT (or a JPEG/PNG photo)"


def _parse(
    att: ReadAttachment, sandbox: Sandbox, job: str, what: str, **options: Any
) -> dict[str, Any] | None:
    """The child's reading of ``att`` by ``job``; None, with the problem set, if it failed."""
    res = sandbox.run(job, att.data, **options)
    if res.get("ok"):
        return res
    att.problem = "attachment_unreadable"
    att.reason = str(res.get("error") or f"{what} could not be read")
    return None


def _read_pdf(att: ReadAttachment, limits: Limits, sandbox: Sandbox) -> None:
    res = _parse(
        att,
        sandbox,
        "read_pdf",
        "PDF",
        max_pages=limits.max_pdf_pages,
        ocr=True,  # pages without a text layer (scans) are read by OCR
        ocr_seconds=scans.ocr_seconds(limits, sandbox),
    )
    if res is None:
        return
    if res.get("encrypted"):
        att.problem = "pdf_encrypted"
        att.reason = "password-protected PDF"
        return
    att.pages = res.get("pages")
    text = str(res.get("text") or "")
    # Reading order (positions) when the child could rebuild it; stream order otherwise.
    layout = str(res.get("layout") or "") or text
    att.text_excerpt = _excerpt(text)
    notes: list[str] = [str(n) for n in res.get("notes") or []]
    acro: dict[str, str] = {}
    for name, value in (res.get("acroform") or {}).items():
        key = _map_field_name(str(name))
        if key is not None and key not in acro:
            acro[key] = str(value)
    if res.get("xfa") and not is_our_acroform(acro):
        att.kind = kind_from_text(text) or DocKind.form
        att.problem = "form_xfa"
        att.reason = "XFA form (cannot be read; send the PDF form we provide)"
        return
    kind, why = classify("pdf", att.filename, text=layout, acroform_keys=acro)
    att.kind = kind
    ocr = res.get("ocr") if isinstance(res.get("ocr"), dict) else {}
    if kind == DocKind.form.value:
        if is_our_acroform(acro):
            att.fields = {k: v.strip() for k, v in acro.items() if v.strip()}
            att.field_source = "acroform"
        else:
            att.fields = _page_fields(layout, text)
            source = "ocr" if ocr.get("pages") else "page_text"
            att.field_source = source if att.fields else ""
    if ocr:
        notes += scans.apply_pdf_reading(att, ocr, bool(text.strip()))
    if not att.pages and not text.strip() and kind == DocKind.unknown.value:
        att.problem = "attachment_unreadable"
        notes.insert(0, "PDF has no readable pages")
    if "no text layer" in why:  # said once is enough
        notes = [n for n in notes if not n.startswith("no text layer")]
    att.reason = "; ".join([why, *notes])


def _page_fields(layout: str, text: str) -> dict[str, str]:
    """Fields of a printed form: the layout text first, the stream-order text fills gaps."""
    fields = parse_fields(layout)
    if layout is not text:
        for key, value in parse_fields(text).items():
            fields.setdefault(key, value)
    return fields


def _read_image(att: ReadAttachment, limits: Limits, sandbox: Sandbox) -> None:
    res = _parse(
        att,
        sandbox,
        "read_image",
        "image",
        max_pixels=limits.max_image_pixels,
        ocr=True,  # photos and scans of documents are read by OCR (see scans.py)
        ocr_seconds=scans.ocr_seconds(limits, sandbox),
    )
    if res is None:
        return
    att.width, att.height = res.get("width"), res.get("height")
    fmt = str(res.get("format") or "").lower()
    if fmt and fmt != att.detected_type:
        att.detected_type = fmt
    reading = res.get("ocr")
    scans.apply_image_reading(att, reading if isinstance(reading, dict) else None)


MAX_TEXT_ATTACHMENT = 256 * 1024


def _read_text(att: ReadAttachment, charset: str | None) -> None:
    raw = att.data[:MAX_TEXT_ATTACHMENT]
    try:
        text = raw.decode(charset or "utf-8", errors="replace")
    except LookupError:
        text = raw.decode("utf-8", errors="replace")
    if "<html" in text[:2048].lower() or "<body" in text[:4096].lower():
        text = html_to_text(text)
    att.text_excerpt = _excerpt(text)
    fields = parse_fields(text)
    by_text = kind_from_text(text)
    if by_text == DocKind.form or len(fields) >= OUR_FORM_MIN_KEYS:
        att.kind = DocKind.form.value
        att.fields = fields
        att.field_source = "page_text" if fields else ""
        att.reason = "text file with form fields"
    else:
        att.kind, att.reason = classify("text", att.filename, text=text)
