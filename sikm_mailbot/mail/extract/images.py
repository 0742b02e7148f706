"""Decoding one image (JPEG, PNG, WEBP) to learn its real shape. Runs in the sandbox child."""

from __future__ import annotations

import io
import warnings
from typing import Any

from .doc_kinds import MIN_IMAGE_SIDE
from .heif import HEIF_FORMAT, enable_heif

FORMATS = ["JPEG", "PNG", "WEBP", HEIF_FORMAT]  # HEIF: iPhone photos (heif.py)


def read_image(
    data: bytes, max_pixels: int, ocr: bool = False, ocr_seconds: float = 10.0
) -> dict[str, Any]:
    """{"ok", "format", "width", "height"[, "ocr"]} after a full decode, or {"ok": False, "error"}.

    `verify()` checks the structure, a second open really decodes (`load()`),
    and the EXIF orientation is applied before measuring (phones store
    portrait photos as rotated landscape pixels). Pixel bombs are refused at
    open time from the header's dimensions. With ``ocr`` the upright image is
    also read by :func:`.ocr.read_page` (within about ``ocr_seconds``): its
    result, or {"ok": False, "error"} when OCR is not available, is "ocr".
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = max_pixels
    enable_heif()
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as probe:
            fmt = probe.format
            probe.verify()
        with Image.open(io.BytesIO(data), formats=FORMATS) as img:
            img.load()
            upright = ImageOps.exif_transpose(img)
            width, height = upright.size
            # Logos and icons (too small to be a document) are not read.
            readable = ocr and min(width, height) >= MIN_IMAGE_SIDE
            reading = _ocr(upright, ocr_seconds) if readable else None
            if reading is not None:
                reading["faces"] = _faces(upright)  # a pas foto: one face, (almost) no text
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return {"ok": False, "error": f"image has too many pixels (over {max_pixels:,})"}
    except UnidentifiedImageError:
        return {"ok": False, "error": "not a readable JPEG, PNG or WEBP image"}
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated/corrupt data raises many types
        return {"ok": False, "error": f"image data is damaged ({type(exc).__name__})"}
    out: dict[str, Any] = {"ok": True, "format": fmt, "width": width, "height": height}
    if reading is not None:
        out["ocr"] = reading
    return out


def _faces(image: Any) -> int | None:
    """Frontal faces on the image, or None when the detector could not run."""
    from .faces import count_faces

    try:
        return count_faces(image)
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - no face count is no verdict, not a failure
        return None


def _ocr(image: Any, seconds: float) -> dict[str, Any]:
    """The OCR reading of a decoded image; its own failure is reported, not raised."""
    from .ocr import read_page

    try:
        return read_page(image, seconds)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - the image was decoded; only OCR failed
        return {"ok": False, "error": f"OCR failed ({type(exc).__name__})"}
