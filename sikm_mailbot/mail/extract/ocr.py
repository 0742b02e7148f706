"""OCR of photographed and scanned pages with Tesseract (Indonesian + English).

Two sides, like the rest of reading:

- the **child** side (:func:`read_page`) runs in the sandbox child only: it
  straightens the page (:mod:`.straighten`), turns it upright with Tesseract's
  orientation detection (OSD), and reads it with tesserocr, Tesseract's C API
  in-process, so one loaded model serves every page the worker reads;
- the **parent** side is pure: :func:`ocr_available` (is OCR installed?) and
  :func:`unreadable_reason` (is a page's reading good enough to use?).

Why tesserocr and not the ``tesseract`` binary: loading the ind+eng models
costs ~0.1 s and a process spawn more; the worker keeps them for 200 jobs. The
language data comes from Debian (``tesseract-ocr-ind``, ``tesseract-ocr-eng``;
``tesseract-ocr`` brings ``osd``); the library ships inside the tesserocr wheel.
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path
from typing import Any

LANGUAGES = ("ind", "eng")
# Where Debian (and other distributions) put the language data; TESSDATA_PREFIX first.
TESSDATA_DIRS = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
)
INSTALL_HINT = "install the Debian packages tesseract-ocr tesseract-ocr-ind tesseract-ocr-eng"

# A page whose mean word confidence is below this is "could not be read".
MIN_CONFIDENCE = 60.0
MIN_WORDS = 3  # fewer real words than this: no text on the page
BLURRY = 60.0  # variance of the Laplacian below this: out of focus
DARK = 80.0  # mean grey level below this: too dark
OSD_SURE = 1.5  # OSD orientation confidence needed to turn the page on its word
OSD_LETTER_PX = 12.0
ROTATIONS = (0, 180, 90, 270)


# ---------------------------------------------------------------- parent side (pure)


def tessdata_dir() -> Path | None:
    """The directory holding ind and eng traineddata, or None.

    TESSDATA_PREFIX, when set, is the only place looked at (as Tesseract does).
    """
    prefix = os.environ.get("TESSDATA_PREFIX", "")
    for raw in [prefix] if prefix else TESSDATA_DIRS:
        for path in (Path(raw), Path(raw) / "tessdata"):
            if all((path / f"{lang}.traineddata").is_file() for lang in LANGUAGES):
                return path
    return None


def ocr_available() -> str | None:
    """None when OCR can run here; otherwise why not (one line for a startup warning).

    Cheap (no import of Tesseract): the daemon and CLI call it at start.
    """
    if importlib.util.find_spec("tesserocr") is None:
        return "OCR not available: the Python package tesserocr is not installed"
    if tessdata_dir() is None:
        return f"OCR not available: Tesseract language data (ind, eng) not found; {INSTALL_HINT}"
    return None


def unreadable_reason(page: dict[str, Any]) -> str | None:
    """Why an OCR reading (a :func:`read_page` result) is not usable, or None when it is.

    No words at all is "no text found"; the caller decides whether a picture
    without text is fine (a pas foto) or not (a scan).
    """
    if int(page.get("words") or 0) < MIN_WORDS:
        return "no text found"
    confidence = float(page.get("confidence") or 0.0)
    if confidence >= MIN_CONFIDENCE:
        return None
    if float(page.get("brightness") or 255.0) < DARK:
        cause = "too dark"
    elif float(page.get("blur") if page.get("blur") is not None else 1e9) < BLURRY:
        cause = "too blurred"
    else:
        cause = "text too faint, small or unclear"
    return f"{cause} (OCR confidence {confidence:.0f})"


# ---------------------------------------------------------------- child side

_APIS: dict[str, Any] = {}  # "ocr" / "osd" → a PyTessBaseAPI kept for the worker's life


def _api(kind: str) -> Any:
    """The worker's Tesseract API object for reading ("ocr") or orientation ("osd")."""
    api = _APIS.get(kind)
    if api is None:
        from tesserocr import OEM, PSM, PyTessBaseAPI

        path = str(tessdata_dir())
        if kind == "osd":
            api = PyTessBaseAPI(path=path, lang="osd", psm=PSM.OSD_ONLY)
        else:
            api = PyTessBaseAPI(
                path=path, lang="+".join(LANGUAGES), psm=PSM.AUTO, oem=OEM.LSTM_ONLY
            )
            # Inverted (white on dark) text is rare on forms and costs ~30 % of the time.
            api.SetVariable("tessedit_do_invert", "0")
        _APIS[kind] = api
    return api


def read_page(image: Any, seconds: float = 10.0) -> dict[str, Any]:
    """Read one page (a PIL image, already EXIF-upright) within about ``seconds``.

    Returns {"ok": True, "text", "confidence", "words", "rotated", "steps",
    "blur", "brightness", "seconds"} or {"ok": False, "error"} when OCR is not
    available. ``text`` has one line per text line, a tab where a wide gap
    separates a label from its value.
    """
    why = ocr_available()
    if why is not None:
        return {"ok": False, "error": why}
    import numpy as np

    from .straighten import MAX_INK, prepare, rotate, skew_angle

    started = time.monotonic()
    gray = np.asarray(image.convert("L"))
    prep = prepare(gray)
    if prep.ink > MAX_INK:  # noise or a dark picture: Tesseract would crawl
        return {
            "ok": True,
            "text": "",
            "confidence": 0.0,
            "words": 0,
            "rotated": 0,
            "steps": ["not read: no page of text (mostly dark pixels)"],
            "blur": round(prep.blur, 1),
            "brightness": round(prep.brightness, 1),
            "blobs": prep.blobs,
            "seconds": round(time.monotonic() - started, 2),
        }
    turn = _orientation(prep.image, prep.letters)
    page = np.rot90(prep.image, turn // 90).copy() if turn else prep.image
    steps = list(prep.steps)
    if turn:
        steps.append(f"turned {turn} deg")
        angle = skew_angle(page)  # the skew could not be measured on a sideways page
        if abs(angle) >= 0.5:
            page = rotate(page, angle)
            steps.append(f"deskewed {angle:+.1f} deg")
    best = _recognise(page)
    best["rotated"] = turn
    # OSD unsure and the reading poor: try the other quarter turns while time allows.
    # (Nothing read at all, or a blurred page: no turn will do better.)
    poor = best["words"] >= MIN_WORDS and best["confidence"] < MIN_CONFIDENCE
    if turn == 0 and poor and prep.blur >= BLURRY:
        for extra in ROTATIONS[1:]:
            spent = time.monotonic() - started
            if spent + best["seconds"] > seconds:
                steps.append("other orientations not tried (time)")
                break
            other = _recognise(np.rot90(page, extra // 90).copy())
            if _score(other) > 1.5 * _score(best):
                best = {**other, "rotated": extra}
        if best["rotated"]:
            steps.append(f"turned {best['rotated']} deg")
    best.update(
        ok=True,
        steps=steps,
        blur=round(prep.blur, 1),
        blobs=prep.blobs,
        brightness=round(prep.brightness, 1),
        seconds=round(time.monotonic() - started, 2),
    )
    return best


def _orientation(page: Any, letters: float | None) -> int:
    """Degrees (counter-clockwise) that turn the page upright, by OSD; 0 when unsure.

    OSD is as sure with letters OSD_LETTER_PX tall and costs less on a smaller copy.
    """
    from PIL import Image

    image = Image.fromarray(page)
    if letters and letters > OSD_LETTER_PX:
        f = OSD_LETTER_PX / letters
        image = image.resize((max(1, round(image.width * f)), max(1, round(image.height * f))))
    try:
        api = _api("osd")
        api.SetImage(image)
        found = api.DetectOrientationScript()
    except RuntimeError:  # too few letters to tell (or no osd.traineddata)
        return 0
    if not found or float(found.get("orient_conf") or 0.0) < OSD_SURE:
        return 0
    return int(found.get("orient_deg") or 0) % 360


def _score(reading: dict[str, Any]) -> float:
    """How much confident text a reading holds (to pick between orientations)."""
    return float(reading["confidence"]) * int(reading["words"])


def _recognise(page: Any) -> dict[str, Any]:
    """Tesseract's words on ``page``, rebuilt into lines; mean confidence of real words."""
    from PIL import Image
    from tesserocr import RIL

    started = time.monotonic()
    api = _api("ocr")
    api.SetImage(Image.fromarray(page))
    api.SetSourceResolution(300)
    api.Recognize()
    boxes: list[tuple[int, int, int, int, str]] = []
    confidences: list[float] = []
    iterator = api.GetIterator()
    if iterator is not None:
        while True:
            try:
                word = (iterator.GetUTF8Text(RIL.WORD) or "").strip()
                box = iterator.BoundingBox(RIL.WORD)
            except RuntimeError:  # an empty page: "No text returned"
                break
            if word and box is not None:
                boxes.append((*box, word))
                if sum(ch.isalnum() for ch in word) >= 2:
                    confidences.append(float(iterator.Confidence(RIL.WORD)))
            if not iterator.Next(RIL.WORD):
                break
    api.Clear()
    mean = sum(confidences) / len(confidences) if confidences else 0.0
    return {
        "text": lines_from_boxes(boxes),
        "confidence": round(mean, 1),
        "words": len(confidences),
        "seconds": round(time.monotonic() - started, 2),
    }


def lines_from_boxes(words: list[tuple[int, int, int, int, str]]) -> str:
    """Words (left, top, right, bottom, text) as lines of text, top to bottom.

    Words whose vertical extents overlap by half are one line (Tesseract may
    put a form's labels and values in different blocks); a gap wider than the
    line's height becomes a tab, which the `Label: value` parser reads as a
    separator.
    """
    ordered = sorted(words, key=lambda w: (w[1] + w[3]) / 2)
    lines: list[list[tuple[int, int, int, int, str]]] = []
    band = (0, 0)
    for word in ordered:
        top, bottom = word[1], word[3]
        if lines:
            overlap = min(band[1], bottom) - max(band[0], top)
            if overlap >= 0.5 * min(bottom - top, band[1] - band[0]):
                lines[-1].append(word)
                band = (min(band[0], top), max(band[1], bottom))
                continue
        lines.append([word])
        band = (top, bottom)
    out = []
    for line in lines:
        line.sort(key=lambda w: w[0])
        height = max(1, sorted(w[3] - w[1] for w in line)[len(line) // 2])
        parts = [line[0][4]]
        for prev, cur in zip(line, line[1:], strict=False):
            parts.append("\t" if cur[0] - prev[2] > 1.5 * height else " ")
            parts.append(cur[4])
        out.append("".join(parts))
    return "\n".join(out)
