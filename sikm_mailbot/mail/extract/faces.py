"""Counting frontal faces in an image: is this the applicant's pas foto?

OpenCV's Haar cascade for frontal faces ships inside the `opencv-python-headless`
wheel (``cv2.data.haarcascades``), so nothing is downloaded. The image is shrunk
to at most ``MAX_SIDE`` pixels first: a detection takes milliseconds whatever the
photo's size, and a pas foto's face is large anyway. Runs where the image was
decoded (the sandbox child); never raises on a strange image, it answers 0.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

MAX_SIDE = 640  # longest side after downscaling
MIN_FACE_FRACTION = 0.08  # smallest face side, as a share of the shorter image side
MIN_NEIGHBOURS = 6  # stricter than OpenCV's default 3: fewer faces in text and patterns
CASCADE = "haarcascade_frontalface_default.xml"


@lru_cache(maxsize=1)
def _detector() -> Any:
    """The frontal-face cascade, loaded once per process."""
    import cv2

    cv2.setNumThreads(1)  # the sandbox child gets one core; no thread pool
    detector = cv2.CascadeClassifier(cv2.data.haarcascades + CASCADE)
    if detector.empty():
        raise RuntimeError(f"OpenCV cascade {CASCADE} could not be loaded")
    return detector


def find_faces(image: Image.Image) -> list[tuple[int, int, int, int]]:
    """Boxes (x, y, w, h) of frontal faces, in the coordinates of ``image``.

    The image is converted to grey and shrunk to ``MAX_SIDE``; when nothing is
    found, once more with its contrast equalised (a dark or washed-out photo).
    Equalising always would lose faces pasted on a flat background (a KTP).
    Tiny or degenerate images have no faces.
    """
    import cv2
    import numpy as np

    width, height = image.size
    if min(width, height) < 24:
        return []
    scale = min(1.0, MAX_SIDE / max(width, height))
    small = image
    if scale < 1.0:  # shrink before converting: no full-size grey copy
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = image.resize(size, reducing_gap=2.0)
    grey = small.convert("L")
    pixels = np.asarray(grey, dtype=np.uint8)
    smallest = max(24, round(min(pixels.shape) * MIN_FACE_FRACTION))
    found: Any = ()
    for attempt in (pixels, cv2.equalizeHist(pixels)):
        found = _detector().detectMultiScale(
            attempt, scaleFactor=1.1, minNeighbors=MIN_NEIGHBOURS, minSize=(smallest, smallest)
        )
        if len(found):
            break
    return [tuple(round(int(v) / scale) for v in box) for box in found]  # type: ignore[misc]


def count_faces(image: Image.Image) -> int:
    """How many frontal faces ``image`` shows (0 when it cannot be examined)."""
    try:
        return len(find_faces(image))
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - an odd mode or size is "no face", not a crash
        return 0
