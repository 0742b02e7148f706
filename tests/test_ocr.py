"""OCR of photographed and scanned documents, with the real Tesseract (never mocked).

The page is our own blank form (templates/forms/), filled with pypdf for an
invented person and rasterised at 300 dpi with pypdfium2; Pillow and OpenCV
then make it what phones and copy shops make: rotated, skewed, EXIF-rotated,
WhatsApp-sized and recompressed, photographed at an angle, blurred, or an
image-only PDF. Everything goes through read_message and the sandbox child.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter
from pypdf import PdfReader, PdfWriter

from sikm_mailbot.forms import build_application_form
from sikm_mailbot.mail.extract import Limits, ReadAttachment, Sandbox, read_message
from sikm_mailbot.mail.extract.ocr import lines_from_boxes, ocr_available, unreadable_reason
from tests.mailgen import simple_mail

SITI = {
    "nama": "Siti Rahmawati Lestari",
    "nik": "3174055204900007",
    "tempat_lahir": "Bandung",
    "tanggal_lahir": "12-04-1990",
    "jenis_kelamin": "P",
    "alamat": "Jl. Melati No. 7 RT 002/RW 004, Jakarta Timur",
    "nomor_hp": "081298765432",
    "email": "siti.lestari@example.org",
    "pekerjaan": "Guru",
    "kategori": "resident_out",
    "jenis_perjalanan": "Sekali",
    "kota_asal": "Jakarta Timur",
    "kota_tujuan": "Bandung",
    "tanggal_berangkat": "22-05-2020",
    "tanggal_kembali": "29-05-2020",
    "keperluan": "Mengunjungi orang tua sakit",
}


@pytest.fixture(scope="module")
def box():
    with Sandbox(Limits()) as sandbox:
        yield sandbox


@cache
def page() -> Image.Image:
    """Our form, filled for Siti, as a 300 dpi greyscale scan (values drawn by pdfium)."""
    import pypdfium2 as pdfium

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(build_application_form())))
    writer.update_page_form_field_values(writer.pages[0], SITI, auto_regenerate=True)
    buffer = io.BytesIO()
    writer.write(buffer)
    doc = pdfium.PdfDocument(buffer.getvalue())
    doc.init_forms()
    image = doc[0].render(scale=300 / 72, may_draw_forms=True).to_pil().convert("L")
    doc.close()
    return image


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _jpeg(image: Image.Image, quality: int = 85, exif: Image.Exif | None = None) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality, exif=exif or Image.Exif())
    return out.getvalue()


def _image_pdf(image: Image.Image) -> bytes:
    """An image-only PDF, as a copy-shop scanner writes it (Pillow's PDF writer)."""
    out = io.BytesIO()
    image.convert("RGB").save(out, "PDF", resolution=300.0)
    return out.getvalue()


def _exif_rotated() -> bytes:
    """Pixels stored sideways with EXIF Orientation 6 (phones do this for portrait shots)."""
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    return _jpeg(page().rotate(90, expand=True), exif=exif)


def _whatsapp() -> bytes:
    """WhatsApp's recompression: long side 1600 px, JPEG quality 60."""
    image = page().copy()
    image.thumbnail((1600, 1600), Image.Resampling.LANCZOS)
    return _jpeg(image, quality=60)


def _photographed() -> bytes:
    """The page photographed at an angle on a dark table, 1200x1600 px, JPEG 80."""
    import cv2

    src = np.asarray(page().resize((1240, 1754)))
    h, w = src.shape
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    table = np.float32([[170, 110], [1060, 150], [1110, 1500], [110, 1460]])
    matrix = cv2.getPerspectiveTransform(corners, table)
    shot = cv2.warpPerspective(src, matrix, (1200, 1600), borderValue=60)
    return _jpeg(Image.fromarray(shot), quality=80)


CASES = {
    "scan_300dpi.png": lambda: _png(page()),
    "Scan_20261201_0001.pdf": lambda: _image_pdf(page()),
    "rotated_90.png": lambda: _png(page().rotate(90, expand=True)),
    "rotated_180.png": lambda: _png(page().rotate(180)),
    "skewed_7.png": lambda: _png(page().rotate(7, expand=True, fillcolor=255)),
    "IMG_4521.JPG": _exif_rotated,
    "IMG-20261201-WA0003.jpg": _whatsapp,
    "IMG_20261202_071530.jpg": _photographed,
}


def _read(box: Sandbox, name: str, data: bytes) -> ReadAttachment:
    mime = "application/pdf" if name.endswith(".pdf") else "image/jpeg"
    raw = simple_mail(body="Terlampir.", attachments=[(name, mime, data)])
    return read_message(raw, sandbox=box).attachments[0]


@pytest.fixture(scope="module")
def read_case(box: Sandbox):
    """Each case read once per module (OCR takes a second or two per page)."""
    done: dict[str, ReadAttachment] = {}

    def read(name: str) -> ReadAttachment:
        if name not in done:
            done[name] = _read(box, name, CASES[name]())
        return done[name]

    return read


def test_ocr_is_installed_here() -> None:
    # The suite needs Tesseract (make test installs it); never skipped, in CI too.
    assert ocr_available() is None


@pytest.mark.parametrize("name", list(CASES))
def test_photographed_and_scanned_form_is_read(read_case, name: str) -> None:
    att = read_case(name)
    assert (att.kind, att.problem, att.field_source) == ("form", None, "ocr"), att.reason
    assert att.fields["nama"] == SITI["nama"], att.fields
    assert att.fields["nik"] == SITI["nik"], att.fields
    assert att.fields["kota_tujuan"] == SITI["kota_tujuan"]
    assert att.ocr_confidence is not None and att.ocr_confidence >= 80, att.reason
    assert "OCR:" in att.reason and "FORMULIR PERMOHONAN SIKM" in att.text_excerpt


def test_the_straightening_steps_are_recorded(read_case) -> None:
    assert "turned 270 deg" in read_case("rotated_90.png").reason
    assert "turned 180 deg" in read_case("rotated_180.png").reason
    skewed = read_case("skewed_7.png").reason
    assert "deskewed -7." in skewed or "deskewed -6.8" in skewed, skewed
    assert "perspective corrected" in read_case("IMG_20261202_071530.jpg").reason
    assert "turned" not in read_case("IMG_4521.JPG").reason  # EXIF did it before OCR


def test_a_text_layer_is_used_not_ocr(box: Sandbox) -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(build_application_form())))
    writer.update_page_form_field_values(writer.pages[0], SITI, auto_regenerate=True)
    buffer = io.BytesIO()
    writer.write(buffer)
    att = _read(box, "formulir.pdf", buffer.getvalue())
    assert (att.kind, att.field_source, att.ocr_confidence) == ("form", "acroform", None)
    assert "OCR" not in att.reason


def test_blurred_page_could_not_be_read_with_the_cause(box: Sandbox) -> None:
    blurred = page().filter(ImageFilter.GaussianBlur(6))
    att = _read(box, "IMG_20261202_071600.jpg", _jpeg(blurred))
    assert att.problem == "attachment_unreadable", att.reason
    assert att.reason.startswith("could not be read: too blurred (OCR confidence "), att.reason
    assert att.fields == {}


@pytest.mark.parametrize(
    ("what", "image"),
    [
        ("blank", lambda: Image.new("L", (1600, 1200), 248)),
        (
            "noise",
            lambda: Image.frombytes(
                "L",
                (1600, 1200),
                np.random.default_rng(7).integers(0, 256, 1600 * 1200, np.uint8).tobytes(),
            ),
        ),
    ],
)
def test_blank_or_noise_image_could_not_be_read(box: Sandbox, what: str, image) -> None:
    att = _read(box, f"IMG-20261201-WA00{len(what)}.jpg", _jpeg(image()))
    assert att.problem == "attachment_unreadable", (what, att.reason)
    assert "could not be read: no text found" in att.reason
    assert att.kind == "unknown"


def test_blank_scan_pdf_could_not_be_read(box: Sandbox) -> None:
    att = _read(box, "Scan_20261201_0002.pdf", _image_pdf(Image.new("L", (2480, 3508), 250)))
    assert att.problem == "attachment_unreadable", att.reason
    assert "; scan could not be read (page 1: no text found); an officer" in att.reason
    assert att.reason.count("no text found") == 1, att.reason


def test_without_ocr_the_file_goes_to_the_officer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # No language data where TESSDATA_PREFIX points: what a machine without Tesseract sees.
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))
    assert ocr_available() is not None and "tesseract-ocr-ind" in str(ocr_available())
    with Sandbox(Limits()) as bare:
        image = _read(bare, "IMG-20261201-WA0003.jpg", _whatsapp())
        scan = _read(bare, "Scan_20261201_0001.pdf", _image_pdf(page()))
    for att in (image, scan):
        assert att.problem == "attachment_unreadable", att.reason
        assert "OCR not available" in att.reason and "an officer will read it" in att.reason


def test_unreadable_reason_names_the_cause() -> None:
    good = {"words": 200, "confidence": 91.0, "blur": 900.0, "brightness": 200.0}
    assert unreadable_reason(good) is None
    assert unreadable_reason({**good, "words": 1}) == "no text found"
    low = {**good, "confidence": 30.0}
    assert unreadable_reason({**low, "blur": 10.0}) == "too blurred (OCR confidence 30)"
    assert unreadable_reason({**low, "brightness": 40.0}) == "too dark (OCR confidence 30)"
    assert unreadable_reason(low).startswith("text too faint")


def test_lines_from_boxes_rebuilds_label_and_value_lines() -> None:
    words = [
        (600, 102, 700, 130, "Lestari"),  # a value block that Tesseract read apart
        (100, 100, 160, 128, "Nama"),
        (170, 100, 260, 128, "Lengkap"),
        (400, 101, 590, 129, "Siti"),
        (100, 160, 150, 188, "NIK"),
        (400, 161, 700, 189, "3174055204900007"),
    ]
    assert lines_from_boxes(words) == "Nama Lengkap\tSiti Lestari\nNIK\t3174055204900007"


def test_photographed_statement_is_a_statement_not_the_form(box: Sandbox) -> None:
    # The statement has Nama/NIK lines and names the form in its body: its title decides.
    import pypdfium2 as pdfium

    blank = Path(__file__).resolve().parents[1] / "templates/forms/surat-pernyataan.pdf"
    doc = pdfium.PdfDocument(blank.read_bytes())
    image = doc[0].render(scale=200 / 72).to_pil().convert("L")
    doc.close()
    att = _read(box, "IMG_20261202_071700.jpg", _jpeg(image.rotate(-4, expand=True, fillcolor=255)))
    assert (att.kind, att.problem, att.fields) == ("statement", None, {}), att.reason
    assert att.reason.startswith("recognised by its text (OCR); OCR: ")


def test_a_face_without_text_is_the_pas_foto_whatever_its_name(box: Sandbox) -> None:
    """The face detector speaks when OCR finds no text: a neutral camera name is a photo."""
    from tests.test_doc_kinds import _sample_face

    # Landscape, like a KTP card: by shape alone it would be taken for the KTP.
    face = Image.new("RGB", (1100, 600), (200, 200, 200))
    face.paste(_sample_face(), (294, 0))
    att = _read(box, "IMG_20261202_071530.jpg", _jpeg(face))
    assert att.kind == "photo", att.reason
    assert att.problem is None
