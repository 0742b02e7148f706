"""What an attachment is: type by magic bytes, kind by content first and file name second.

The table is CONTRACT-READING.md ("How attachments are recognised"). Nothing here
parses untrusted PDF or image data: that happens in the sandbox child; this module
turns the child's typed answer into a ReadAttachment.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from sikm_mailbot.domain.vocabulary import FORM_LABELS, DocKind
from sikm_mailbot.sandbox import Sandbox

from .body import html_to_text, parse_fields
from .model import Limits, ReadAttachment

EXCERPT_CHARS = 300
ACCEPTED_IMAGES = frozenset({"jpeg", "png", "webp"})
UNSUPPORTED_IMAGES = frozenset({"gif", "tiff", "bmp", "heic"})
ARCHIVES = frozenset({"zip", "rar", "7z"})
MIN_IMAGE_SIDE = 100  # smaller images are logos/icons, not documents

# ---------------------------------------------------------------- magic bytes

_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif")


def sniff_type(data: bytes) -> str:
    """The file type by its magic bytes (the declared Content-Type is not trusted).

    Returns one of "pdf", "jpeg", "png", "webp", "gif", "tiff", "bmp", "heic",
    "zip", "rar", "7z", "docx" (any Office Open XML or OpenDocument file),
    "doc" (an old binary Office file), "tnef" (Outlook's winmail.dat), "text", "unknown".
    """
    head = data[:64]
    if b"%PDF-" in data[:1024]:  # readers accept a little junk before the header
        return "pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:2] == b"BM" and len(data) > 26 and head[6:10] == b"\x00\x00\x00\x00":
        return "bmp"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "heic"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        # Office Open XML / OpenDocument are zips too; their part names show in the bytes.
        window = data[:4096] + data[-65536:]
        if b"[Content_Types].xml" in window or b"mimetypeapplication/vnd.oasis" in window:
            return "docx"
        return "zip"
    if head.startswith(b"Rar!\x1a\x07"):
        return "rar"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):  # OLE2: .doc/.xls/.ppt
        return "doc"
    if head.startswith(b"\x78\x9f\x3e\x22"):  # TNEF signature 0x223E9F78
        return "tnef"
    if _looks_text(data[:8192]):
        return "text"
    return "unknown"


def _looks_text(sample: bytes) -> bool:
    if not sample or b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 4:  # a multi-byte character cut by the sample
            return True
    printable = sum(1 for b in sample if b >= 32 or b in (9, 10, 13))
    return printable / len(sample) > 0.95


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
    if dtype in ("docx", "doc", "tnef"):
        att.problem = "unsupported_format"
        att.reason = _office_reason(dtype, att.data)
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


def _office_reason(dtype: str, data: bytes) -> str:
    """Why an office file is refused, naming what it is and what to send instead.

    Word/OpenDocument files are not read on purpose: the desk works from what
    the citizen signed and sees, and a PDF export fixes that; the file's own
    layout may differ between programs.
    """
    if dtype == "tnef":
        return (
            "Outlook winmail.dat (TNEF): the attachments inside cannot be opened; send again "
            "in HTML or plain-text format so the files arrive as ordinary attachments"
        )
    window = data[:4096] + data[-65536:]
    if b"vnd.oasis.opendocument" in window:
        what = "OpenDocument file (.odt/.ods)"
    elif b"xl/" in window and b"word/" not in window:
        what = "Excel workbook (.xlsx)"
    elif dtype == "doc":
        what = "old Word/Excel file (.doc/.xls)"
    else:
        what = "Word document (.docx)"
    return f"{what} is not accepted: save it as PDF and send the PDF (or a JPEG/PNG photo)"


def _read_pdf(att: ReadAttachment, limits: Limits, sandbox: Sandbox) -> None:
    res = sandbox.run("pdf", att.data, max_pages=limits.max_pdf_pages)
    if not res.get("ok"):
        att.problem = "attachment_unreadable"
        att.reason = str(res.get("error") or "PDF could not be read")
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
    if kind == DocKind.form.value:
        if is_our_acroform(acro):
            att.fields = {k: v.strip() for k, v in acro.items() if v.strip()}
            att.field_source = "acroform"
        else:
            att.fields = _page_fields(layout, text)
            att.field_source = "page_text" if att.fields else ""
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
    res = sandbox.run("image", att.data, max_pixels=limits.max_image_pixels)
    if not res.get("ok"):
        att.problem = "attachment_unreadable"
        att.reason = str(res.get("error") or "image could not be read")
        return
    att.width, att.height = res.get("width"), res.get("height")
    fmt = str(res.get("format") or "").lower()
    if fmt and fmt != att.detected_type:
        att.detected_type = fmt
    att.kind, att.reason = classify(
        att.detected_type, att.filename, width=att.width, height=att.height
    )


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
