"""Decoding one image (JPEG, PNG, WEBP) to learn its real shape. Runs in the sandbox child."""

from __future__ import annotations

import io
import warnings
from typing import Any

FORMATS = ["JPEG", "PNG", "WEBP"]


def read_image(data: bytes, max_pixels: int) -> dict[str, Any]:
    """{"ok", "format", "width", "height"} after a full decode, or {"ok": False, "error"}.

    `verify()` checks the structure, a second open really decodes (`load()`),
    and the EXIF orientation is applied before measuring (phones store
    portrait photos as rotated landscape pixels). Pixel bombs are refused at
    open time from the header's dimensions.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = max_pixels
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as probe:
            fmt = probe.format
            probe.verify()
        with Image.open(io.BytesIO(data), formats=FORMATS) as img:
            img.load()
            upright = ImageOps.exif_transpose(img)
            width, height = upright.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return {"ok": False, "error": f"image has too many pixels (over {max_pixels:,})"}
    except UnidentifiedImageError:
        return {"ok": False, "error": "not a readable JPEG, PNG or WEBP image"}
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated/corrupt data raises many types
        return {"ok": False, "error": f"image data is damaged ({type(exc).__name__})"}
    return {"ok": True, "format": fmt, "width": width, "height": height}
