"""QR codes for permit tokens: make them (PNG) and read them back (images, PDF pages).

Tokens are ``SK1:`` + Base45, all inside the QR alphanumeric character set, so
the QR is built in alphanumeric mode (5.5 bits a character instead of 8) with
error correction level Q (25 % of codewords recoverable: a creased or smudged
printout still scans).
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pypdfium2 as pdfium
import qrcode
import qrcode.util
import zxingcpp
from PIL import Image, ImageOps
from qrcode.constants import ERROR_CORRECT_Q

from .token import PREFIX

RENDER_DPI = 200
MAX_PDF_PAGES = 10  # a permit has one page; never scan an unbounded document
MAX_IMAGE_PIXELS = 40_000_000  # a 12 MP phone photo fits with room to spare
_IMAGE_FORMATS = ["PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"]


def _qr_data(text: str) -> qrcode.util.QRData:
    # Force alphanumeric mode: QRData raises if a character falls outside it.
    return qrcode.util.QRData(text.encode("ascii"), mode=qrcode.util.MODE_ALPHA_NUM)


def _build(text: str, box_size: int = 10, border: int = 4) -> qrcode.QRCode:
    qr = qrcode.QRCode(
        version=None, error_correction=ERROR_CORRECT_Q, box_size=box_size, border=border
    )
    qr.add_data(_qr_data(text))
    qr.make(fit=True)  # smallest version that holds the data
    return qr


def qr_version(text: str) -> int:
    """QR version (1–40) that :func:`make_qr_png` uses for ``text``."""
    return int(_build(text).version)


def qr_modes(text: str) -> list[int]:
    """The QR data modes used for ``text`` (for tests: must be ``[MODE_ALPHA_NUM]``)."""
    return [chunk.mode for chunk in _build(text).data_list]


def make_qr_png(text: str, box_size: int = 10, border: int = 4) -> bytes:
    """A black-on-white PNG of the QR code for ``text`` (alphanumeric mode, level Q).

    Raises ValueError if ``text`` has characters outside the QR alphanumeric set.
    """
    img = _build(text, box_size, border).make_image(fill_color="black", back_color="white")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _pick(image: Image.Image) -> str | None:
    """Decode QR codes in ``image``; prefer one that looks like a permit token."""
    results = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    texts = [r.text for r in results if r.valid and r.text]
    for text in texts:
        if text.startswith(PREFIX):
            return text
    return texts[0] if texts else None


def decode_qr_image(source: str | Path | bytes) -> str | None:
    """The text of the QR code in an image file or image bytes, or None.

    Works on clean PNGs and on phone-photo-like images (scaled, slightly
    rotated, blurred, JPEG). Unreadable, oversized or non-image input gives None.
    """
    try:
        data = Path(source).read_bytes() if isinstance(source, str | Path) else bytes(source)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=_IMAGE_FORMATS)
            if img.width * img.height > MAX_IMAGE_PIXELS:
                return None
            img = ImageOps.exif_transpose(img).convert("L")
        return _scan(img)
    except Exception:  # noqa: BLE001 - untrusted files: any failure means "no QR"
        return None


def _scan(img: Image.Image) -> str | None:
    text = _pick(img)
    if text is None and max(img.size) > 1600:
        # Big photos: the finder patterns can be too large for the detector's window.
        small = img.copy()
        small.thumbnail((1600, 1600))
        text = _pick(small)
    return text


def decode_qr_from_pdf(
    source: str | Path | bytes, password: str | None = None, dpi: int = RENDER_DPI
) -> str | None:
    """Render each page (at most :data:`MAX_PDF_PAGES`) at ``dpi`` and return the first QR text.

    Encrypted PDFs need ``password``. Any unreadable PDF gives None.
    """
    try:
        src = str(source) if isinstance(source, Path) else source
        pdf = pdfium.PdfDocument(src, password=password)
    except Exception:  # noqa: BLE001 - wrong password, damaged file, not a PDF
        return None
    try:
        for index in range(min(len(pdf), MAX_PDF_PAGES)):
            page = pdf[index]
            try:
                bitmap = page.render(scale=dpi / 72, grayscale=True)
                text = _pick(bitmap.to_pil().convert("L"))
            finally:
                page.close()
            if text is not None:
                return text
        return None
    except Exception:  # noqa: BLE001
        return None
    finally:
        pdf.close()
