"""What a file really is, by its magic bytes (the declared Content-Type is not trusted)."""

from __future__ import annotations

# "heif" is what the decoder calls a HEIC photo once it has opened it.
ACCEPTED_IMAGES = frozenset({"jpeg", "png", "webp", "heic", "heif"})
UNSUPPORTED_IMAGES = frozenset({"gif", "tiff", "bmp", "avif"})
ARCHIVES = frozenset({"zip", "rar", "7z"})
# Office files: the text documents are read (mail/extract/office.py), the rest refused.
OFFICE_READABLE = frozenset({"docx", "odt"})
OFFICE_REFUSED = frozenset({"doc", "xlsx", "pptx", "ods", "odp", "office"})

_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")
_OOXML_DIRS = ((b"word/", "docx"), (b"xl/", "xlsx"), (b"ppt/", "pptx"))
_ODF_TYPES = (
    (b"opendocument.text", "odt"),
    (b"opendocument.spreadsheet", "ods"),
    (b"opendocument.presentation", "odp"),
)


def sniff_type(data: bytes) -> str:
    """The file type by its magic bytes (the declared Content-Type is not trusted).

    Returns one of "pdf", "jpeg", "png", "webp", "gif", "tiff", "bmp", "heic",
    "avif", "zip", "rar", "7z", "docx", "odt", "xlsx", "pptx", "ods", "odp",
    "office" (another Office Open XML or OpenDocument file), "doc" (an old
    binary Office file), "tnef" (Outlook's winmail.dat), "text", "unknown".
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
    if head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis"):
        return "avif"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return _office_type(data[:4096] + data[-65536:])
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


def _office_type(window: bytes) -> str:
    """Which office file a zip is, from the part names and ODF mimetype in its bytes."""
    if b"mimetypeapplication/vnd.oasis" in window:
        return next((t for cue, t in _ODF_TYPES if cue in window), "office")
    if b"[Content_Types].xml" in window:
        return next((t for cue, t in _OOXML_DIRS if cue in window), "office")
    return "zip"


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
