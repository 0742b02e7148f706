"""HEIC/HEIF photos (iPhones save them by default), opened by Pillow through pillow-heif.

Only the sandbox child calls :func:`enable_heif` (from the image job), so the
parent process never decodes HEIF. Pillow's decompression-bomb check still
applies: it runs in ``Image.open`` for every format, on the header's size.
"""

from __future__ import annotations

#: Pillow's format name for HEIC/HEIF images once pillow-heif is registered.
HEIF_FORMAT = "HEIF"

_enabled: bool | None = None


def enable_heif() -> bool:
    """Register pillow-heif's opener once; False when pillow-heif is not installed."""
    global _enabled
    if _enabled is None:
        try:
            import pillow_heif
        except ImportError:
            _enabled = False
        else:
            pillow_heif.options.DISABLE_SECURITY_LIMITS = False  # keep libheif's own limits
            # One decoding thread (the child's CPU budget is per process); the main
            # image only: no thumbnails, depth maps or auxiliary images.
            pillow_heif.register_heif_opener(
                decode_threads=1, thumbnails=False, depth_images=False, aux_images=False
            )
            _enabled = True
    return _enabled
