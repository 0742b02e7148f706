"""Making a photographed or scanned page fit for OCR. Runs in the sandbox child.

Tesseract reads upright, level, evenly lit text whose letters are roughly 20-40
pixels tall. Phones and copy shops give none of that for free, so before OCR a
page is: cut out of its background and flattened (perspective), evened out
(shadows, grey paper), scaled so its letters have the height Tesseract likes,
and levelled (small skews). Quarter turns are left to Tesseract's OSD (see
:mod:`.ocr`), which needs the letters at a readable size first.

Every step is best effort: a step that finds nothing to do, or fails, leaves the
image as it was. Images are 8-bit greyscale numpy arrays throughout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Letters (median connected-component height, px) that Tesseract reads well. Its LSTM
# scales every text line to a fixed height anyway, so larger letters only cost time
# (measured: 16-21 px read as well as 30, 20 % faster than 21 px).
TARGET_LETTER_PX = 18
MIN_LETTER_PX = 15  # smaller than this: scale up
MAX_LETTER_PX = 20  # larger than this: scale down
MAX_UPSCALE = 3.5
MAX_OCR_PIXELS = 14_000_000  # a 300 dpi A4 page is 8.7 Mpx; more only costs time
MAX_SKEW_DEGREES = 15.0
WORK_SIDE = 1000  # long side of the small copies that the detectors look at
# Dark share (evened light, Otsu) above which an image is no page of text: a page has
# 5-15 %, camera noise ~45 %, a pas foto ~35 % (measured). Tesseract crawls on noise.
MAX_INK = 0.3


@dataclass
class Straightened:
    """The page as prepared for OCR, and what was done to it (for the reason text)."""

    image: Any  # numpy uint8 2-D array
    steps: list[str] = field(default_factory=list)
    blur: float = 0.0  # variance of the Laplacian: low means out of focus
    brightness: float = 0.0  # mean grey level before evening out
    letters: float | None = None  # median letter height (px) after scaling, if measured
    blobs: int = 0  # letter-like shapes found
    ink: float = 0.0  # share of dark pixels once the light is evened (see ink_share)


def ink_share(gray: Any) -> float:
    """Share of dark pixels (Otsu) on a small copy: a few % on a page, ~half on noise."""
    import cv2
    import numpy as np

    _, ink = cv2.threshold(_small(gray), 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    return float(np.count_nonzero(ink)) / max(1, ink.size)


def prepare(gray: Any) -> Straightened:
    """Perspective, lighting, scale and skew of one page (a greyscale numpy array)."""
    import cv2
    import numpy as np

    cv2.setNumThreads(1)  # the sandbox child keeps to one core (and its memory limit)
    out = Straightened(image=gray, brightness=float(np.mean(gray)))
    page = _flatten_page(gray)
    if page is not None:
        out.image = page
        out.steps.append("perspective corrected")
    out.image = _even_light(out.image)
    out.ink = ink_share(out.image)
    if out.ink > MAX_INK:  # noise or a dark picture, not a page: nothing more to do
        return out
    height, out.blobs = letter_stats(out.image)
    factor = _scale_factor(height, out.image.shape)
    out.letters = height * factor if height else None
    if abs(factor - 1.0) > 0.1:
        h, w = out.image.shape
        interp = cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA
        out.image = cv2.resize(
            out.image, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=interp
        )
        out.steps.append(f"scaled x{factor:.2f}")
    angle = skew_angle(out.image)
    if abs(angle) >= 0.5:
        out.image = rotate(out.image, angle)
        out.steps.append(f"deskewed {angle:+.1f} deg")
    out.blur = float(cv2.Laplacian(_small(out.image), cv2.CV_64F).var())
    return out


# ---------------------------------------------------------------- helpers


def _small(gray: Any, side: int = WORK_SIDE) -> Any:
    """A copy whose long side is at most ``side`` pixels (detectors need no more)."""
    import cv2

    h, w = gray.shape
    f = side / max(h, w)
    if f >= 1:
        return gray
    return cv2.resize(
        gray, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA
    )


def rotate(gray: Any, degrees: float) -> Any:
    """``gray`` turned ``degrees`` counter-clockwise, canvas grown, new corners white."""
    import cv2
    import numpy as np

    h, w = gray.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(
        gray, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=int(np.median(gray))
    )


# ---------------------------------------------------------------- perspective


def _flatten_page(gray: Any) -> Any | None:
    """The page cut out of a photo and warped to a rectangle, or None.

    The page must be a clear quadrilateral (the largest bright four-cornered
    shape, 20-95 % of the picture): a scan, or a photo filled by the page, has
    no edge to find and is left alone.
    """
    import cv2
    import numpy as np

    small = _small(gray)
    f = gray.shape[0] / small.shape[0]
    quad = _page_quad(small)
    if quad is None:
        return None
    quad = _order_corners(quad.astype(np.float32) * f)
    (tl, tr, br, bl) = quad
    width = int(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl)))
    height = int(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr)))
    if width < 100 or height < 100:
        return None
    target = np.array(
        [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], np.float32
    )
    matrix = cv2.getPerspectiveTransform(quad, target)
    return cv2.warpPerspective(gray, matrix, (width, height), flags=cv2.INTER_CUBIC)


def _page_quad(small: Any) -> Any | None:
    """Four corners of the page in a small copy, from a bright mask and then from edges."""
    import cv2
    import numpy as np

    area = small.shape[0] * small.shape[1]
    blurred = cv2.GaussianBlur(small, (5, 5), 0)
    _, bright = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    bright = cv2.morphologyEx(bright, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    edges = cv2.dilate(cv2.Canny(blurred, 50, 150), np.ones((3, 3), np.uint8))
    for mask in (bright, edges):
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for contour in sorted(contours, key=cv2.contourArea, reverse=True)[:3]:
            share = cv2.contourArea(contour) / area
            if not 0.2 <= share <= 0.95:
                continue
            approx = cv2.approxPolyDP(contour, 0.02 * cv2.arcLength(contour, True), True)
            if len(approx) == 4 and cv2.isContourConvex(approx):
                return approx.reshape(4, 2)
    return None


def _order_corners(pts: Any) -> Any:
    """Corners as top-left, top-right, bottom-right, bottom-left."""
    import numpy as np

    s = pts.sum(axis=1)
    d = np.diff(pts, axis=1).ravel()
    return np.array(
        [pts[np.argmin(s)], pts[np.argmin(d)], pts[np.argmax(s)], pts[np.argmax(d)]], np.float32
    )


# ---------------------------------------------------------------- light and scale


def _even_light(gray: Any) -> Any:
    """Divide out the page's background (shadows, grey or yellowed paper).

    The background is estimated on a small copy (a closing removes the ink)
    and stretched back: cheap even on a 300 dpi page.
    """
    import cv2
    import numpy as np

    small = _small(gray, 600)
    k = max(3, (min(small.shape) // 40) | 1)
    background = cv2.morphologyEx(small, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    background = cv2.medianBlur(background, k)
    background = cv2.resize(
        background, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_LINEAR
    )
    return cv2.divide(gray, np.maximum(background, 1), scale=255)


def letter_height(gray: Any) -> float | None:
    """Median height (px) of letter-like dark blobs, or None when there are too few."""
    return letter_stats(gray)[0]


def letter_stats(gray: Any) -> tuple[float | None, int]:
    """(median height in px or None when there are too few, count) of letter-like blobs."""
    import cv2
    import numpy as np

    # A 3x3 median first: camera grain and JPEG specks are not letters.
    _, ink = cv2.threshold(cv2.medianBlur(gray, 3), 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    count, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    if count < 2:
        return None, 0
    w, h = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]
    # Letters: not specks, not lines or boxes, not the whole page.
    letters = h[(h >= 5) & (h <= gray.shape[0] / 8) & (w <= 3 * h) & (w >= 1)]
    if len(letters) < 20:
        return None, len(letters)
    return float(np.median(letters)), len(letters)


def _scale_factor(h: float | None, shape: tuple[int, ...]) -> float:
    """How much to scale a page of ``shape`` whose letters are ``h`` px tall."""
    if h is None:
        return 1.0
    if h < MIN_LETTER_PX:
        factor = min(MAX_UPSCALE, TARGET_LETTER_PX / h)
    elif h > MAX_LETTER_PX:
        factor = TARGET_LETTER_PX / h
    else:
        return 1.0
    pixels = shape[0] * shape[1] * factor * factor
    if pixels > MAX_OCR_PIXELS:
        factor *= (MAX_OCR_PIXELS / pixels) ** 0.5
    return factor


# ---------------------------------------------------------------- skew


def skew_angle(gray: Any) -> float:
    """The small rotation (degrees, counter-clockwise) that levels the text lines.

    Projection profile: the ink of level lines piles up in few rows, so the
    angle whose row sums vary most wins (coarse 1 degree steps, then 0.2).
    Returns 0.0 when there is too little ink to tell.
    """
    import cv2
    import numpy as np

    small = _small(gray, 800)
    _, ink = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    if np.count_nonzero(ink) < 0.002 * ink.size:
        return 0.0
    h, w = ink.shape
    centre = (w / 2, h / 2)

    def score(angle: float) -> float:
        m = cv2.getRotationMatrix2D(centre, angle, 1.0)
        rows = cv2.warpAffine(ink, m, (w, h), flags=cv2.INTER_NEAREST).sum(axis=1, dtype=np.float64)
        return float(np.var(rows))

    coarse = max(np.arange(-MAX_SKEW_DEGREES, MAX_SKEW_DEGREES + 0.1, 1.0), key=score)
    fine = max(np.arange(coarse - 0.8, coarse + 0.81, 0.2), key=score)
    return float(np.clip(round(fine, 1), -MAX_SKEW_DEGREES, MAX_SKEW_DEGREES))
