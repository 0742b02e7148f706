"""OCR for the pages of a PDF that have no text layer (scans). Runs in the sandbox child.

A page with a real text layer keeps it: only pages with (almost) no text are
rendered, at 300 dpi, and read by :func:`.ocr.read_page`. Pages are read in
order until the time given runs out; the rest are listed as skipped, so the
reader can say which pages were not read instead of calling them empty.
"""

from __future__ import annotations

import time
from typing import Any

OCR_DPI = 300
MAX_RENDER_PIXELS = 10_000_000  # A4 at 300 dpi is 8.7 Mpx; a poster-sized page is scaled down
MIN_LAYER_CHARS = 40  # fewer visible characters than this: a scan (maybe with a stamp's text)


def ocr_scanned_pages(
    doc: Any, chunks: list[str], layouts: list[str], seconds: float
) -> dict[str, Any]:
    """OCR the textless pages among the first ``len(chunks)`` of ``doc`` (a PdfDocument).

    Replaces those pages' entries in ``chunks`` and ``layouts`` with the OCR
    text, in place. Returns {"pages": [per-page reading, "page" 1-based],
    "skipped": [page numbers not reached in time]} or {"error": why} when OCR
    is not available.
    """
    from .ocr import ocr_available, read_page, unreadable_reason

    todo = [i for i, chunk in enumerate(chunks) if _visible(chunk) < MIN_LAYER_CHARS]
    if not todo:
        return {"pages": [], "skipped": []}
    why = ocr_available()
    if why is not None:
        return {"error": why, "pages": [], "skipped": [i + 1 for i in todo]}
    started = time.monotonic()
    cost = 0.0  # the slowest page so far: the estimate for the next one
    pages: list[dict[str, Any]] = []
    skipped: list[int] = []
    for index in todo:
        if time.monotonic() - started + cost > seconds:
            skipped.append(index + 1)
            continue
        began = time.monotonic()
        reading = read_page(_render(doc, index), max(1.0, seconds - (began - started)))
        cost = max(cost, time.monotonic() - began)
        if not reading.get("ok"):
            return {"error": reading.get("error"), "pages": pages, "skipped": [i + 1 for i in todo]}
        text = str(reading.pop("text", ""))
        # Only a usable reading replaces the page's text: low-confidence OCR is noise.
        if unreadable_reason(reading) is None and _visible(text) > _visible(chunks[index]):
            chunks[index] = layouts[index] = text
        pages.append({"page": index + 1, **reading})
    return {"pages": pages, "skipped": skipped}


def _visible(text: str) -> int:
    return sum(1 for ch in text if not ch.isspace())


def _render(doc: Any, index: int) -> Any:
    """Page ``index`` as a greyscale PIL image at OCR_DPI (less for a huge page)."""
    page = doc[index]
    try:
        width, height = page.get_size()  # points
        scale = OCR_DPI / 72
        pixels = width * height * scale * scale
        if pixels > MAX_RENDER_PIXELS:
            scale *= (MAX_RENDER_PIXELS / pixels) ** 0.5
        bitmap = page.render(scale=scale, grayscale=True)
        try:
            return bitmap.to_pil().copy()
        finally:
            bitmap.close()
    finally:
        page.close()
