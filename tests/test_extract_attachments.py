"""Attachments: magic bytes, classification, and real PDFs/images read in the sandbox."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image

from sikm_mailbot.mail.extract import Limits, Sandbox, classify, kind_from_name, sniff_type
from sikm_mailbot.mail.extract.attachments import read_attachment
from tests.test_extract_samples import (
    APPLICANT,
    encrypt,
    fillable_form_pdf,
    image_bytes,
    indirect_fields_pdf,
    pixel_bomb_png,
    printed_form_pdf,
    text_pdf,
)

LIMITS = Limits()


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(LIMITS) as box:
        yield box


def read(sandbox: Sandbox, data: bytes, name: str, ctype: str = "application/octet-stream"):
    return read_attachment(data, name, ctype, "", LIMITS, sandbox)


# ---------------------------------------------------------------- pure functions


def _tiff() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buf, "TIFF")
    return buf.getvalue()


def _zip(names: list[str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in names:
            zf.writestr(name, "x")
    return buf.getvalue()


def test_sniff_type_by_magic_bytes() -> None:
    assert sniff_type(text_pdf(["x"])) == "pdf"
    assert sniff_type(b"junk\n" + text_pdf(["x"])) == "pdf"
    assert sniff_type(image_bytes((20, 20), "JPEG")) == "jpeg"
    assert sniff_type(image_bytes((20, 20), "PNG")) == "png"
    assert sniff_type(image_bytes((20, 20), "WEBP")) == "webp"
    assert sniff_type(image_bytes((20, 20), "GIF")) == "gif"
    assert sniff_type(image_bytes((20, 20), "BMP")) == "bmp"
    assert sniff_type(_tiff()) == "tiff"
    assert sniff_type(b"\0\0\0\x18ftypheic\0\0\0\0") == "heic"
    assert sniff_type(_zip(["a.pdf"])) == "zip"
    assert sniff_type(_zip(["[Content_Types].xml", "word/document.xml"])) == "docx"
    assert sniff_type(b"Rar!\x1a\x07\x01\x00rest") == "rar"
    assert sniff_type(b"7z\xbc\xaf\x27\x1c\x00\x04") == "7z"
    assert sniff_type(b"Nama Lengkap: Sari\n") == "text"
    assert sniff_type(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff") == "unknown"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("KTP_Sari.jpg", "ktp"),
        ("foto_ktp.jpg", "ktp"),
        ("scan kk.pdf", "ktp"),
        ("pasfoto.jpg", "photo"),
        ("selfie.png", "photo"),
        ("surat_pengantar_rt.pdf", "rtrw_letter"),
        ("rt-rw.pdf", "rtrw_letter"),
        ("SuratPernyataan.pdf", "statement"),
        ("surat jaminan.pdf", "guarantee_letter"),
        ("surat_tugas.pdf", "work_letter"),
        ("ket_domisili.pdf", "domicile_letter"),
        ("rujukan_rs.pdf", "emergency_letter"),
        ("Formulir SIKM.pdf", "form"),
    ],
)
def test_kind_from_name(name: str, kind: str) -> None:
    named = kind_from_name(name)
    assert named is not None and named.value == kind


def test_kind_from_name_ignores_short_words_inside_others() -> None:
    assert kind_from_name("bukkit_report.pdf") is None
    assert kind_from_name("start.pdf") is None


def test_classify_content_first_then_name() -> None:
    assert classify("pdf", "ktp.pdf", text="SURAT PERNYATAAN\nsaya sehat")[0] == "statement"
    assert classify("pdf", "ktp.pdf", text="")[0] == "ktp"  # scan: the name decides
    # case, spacing and line breaks inside a cue are ignored
    assert classify("pdf", "x.pdf", text="Surat  Keterangan\nKematian")[0] == "emergency_letter"
    assert classify("pdf", "x.pdf", text="Surat keterangan")[0] == "unknown"
    assert classify("jpeg", "img.jpg", width=856, height=540)[0] == "ktp"
    assert classify("jpeg", "img.jpg", width=400, height=560)[0] == "photo"
    assert classify("jpeg", "img.jpg", width=500, height=500)[0] == "unknown"
    assert classify("jpeg", "pasfoto.jpg", width=856, height=540)[0] == "photo"  # name decides
    assert classify("png", "logo.png", width=60, height=40)[0] == "unknown"


# ---------------------------------------------------------------- PDFs in the sandbox


def test_fillable_form_fields_from_acroform(sandbox: Sandbox) -> None:
    att = read(sandbox, fillable_form_pdf(APPLICANT), "formulir.pdf", "application/pdf")
    assert att.problem is None
    assert att.kind == "form"
    assert att.field_source == "acroform"
    assert att.fields == APPLICANT
    assert att.pages == 1 and att.detected_type == "pdf"
    assert len(att.sha256) == 64 and att.size == len(att.data)


def test_blank_fillable_form_is_a_form_without_fields(sandbox: Sandbox) -> None:
    att = read(sandbox, fillable_form_pdf(), "blank.pdf")
    assert att.kind == "form" and att.fields == {} and att.problem is None


def test_printed_form_fields_from_page_text(sandbox: Sandbox) -> None:
    att = read(sandbox, printed_form_pdf(APPLICANT), "scan001.pdf")
    assert att.kind == "form"
    assert att.field_source == "page_text"
    assert att.fields == APPLICANT
    assert att.text_excerpt.startswith("FORMULIR PERMOHONAN SIKM")


def test_statement_by_text_even_with_a_misleading_name(sandbox: Sandbox) -> None:
    data = text_pdf(["SURAT PERNYATAAN", "Saya yang bertanda tangan di bawah ini"])
    att = read(sandbox, data, "ktp.pdf")
    assert att.kind == "statement" and att.problem is None and att.fields == {}


def test_encrypted_pdf_user_password_is_a_problem(sandbox: Sandbox) -> None:
    att = read(sandbox, encrypt(text_pdf(["SURAT PERNYATAAN"]), "rahasia"), "pernyataan.pdf")
    assert att.problem == "pdf_encrypted"
    assert att.kind == "statement"  # from the name: the content is locked


def test_owner_password_only_pdf_reads_fine(sandbox: Sandbox) -> None:
    att = read(sandbox, encrypt(text_pdf(["SURAT PERNYATAAN"]), ""), "doc.pdf")
    assert att.problem is None and att.kind == "statement"


def test_truncated_pdf_is_unreadable(sandbox: Sandbox) -> None:
    att = read(sandbox, fillable_form_pdf(APPLICANT)[:-900], "formulir.pdf")
    assert att.problem == "attachment_unreadable"
    assert "could not be parsed" in att.reason


def test_fields_as_indirect_reference_and_inherited_types(sandbox: Sandbox) -> None:
    att = read(sandbox, indirect_fields_pdf(), "a.pdf")
    assert att.kind == "form" and att.field_source == "acroform"
    assert att.fields == {
        "nama": "Rudi Hartono",
        "kategori": "resident_out",
        "kota_asal": "Jakarta",
    }


def test_signature_field_with_dict_value_is_skipped(sandbox: Sandbox) -> None:
    sig = (
        b"<< /FT /Sig /T (ttd) /V << /Type /Sig /Filter /Adobe.PPKLite /Contents <00> "
        b"/Reference [ << /Data 1 0 R >> ] >> >>"
    )
    att = read(sandbox, indirect_fields_pdf(sig), "a.pdf")
    assert att.problem is None
    assert att.fields["nama"] == "Rudi Hartono" and "ttd" not in att.fields


def test_xfa_form_is_reported(sandbox: Sandbox) -> None:
    data = indirect_fields_pdf(acroform=b"<< /Fields 6 0 R /XFA 7 0 R >>")
    att = read(sandbox, data, "x.pdf")
    # our fields are still there, so the form reads; an XFA-only form is a problem
    assert att.problem is None
    xfa_only = indirect_fields_pdf(acroform=b"<< /XFA 7 0 R >>")
    att = read(sandbox, xfa_only, "x.pdf")
    assert att.problem == "form_xfa"


def test_page_cap(sandbox: Sandbox) -> None:
    limits = Limits(max_pdf_pages=2)
    att = read_attachment(text_pdf(["SURAT TUGAS"], pages=5), "t.pdf", "", "", limits, sandbox)
    assert att.pages == 5 and att.kind == "work_letter"
    assert "only the first 2 of 5 pages" in att.reason


# ---------------------------------------------------------------- other types


def test_images_by_shape_and_exif_orientation(sandbox: Sandbox) -> None:
    ktp = read(sandbox, image_bytes((856, 540)), "IMG_0001.jpg", "image/jpeg")
    assert (ktp.kind, ktp.width, ktp.height, ktp.problem) == ("ktp", 856, 540, None)
    # stored 600x400 landscape, EXIF says rotate: really a 400x600 portrait photo
    rotated = read(sandbox, image_bytes((600, 400), orientation=6), "IMG_0002.jpg")
    assert (rotated.kind, rotated.width, rotated.height) == ("photo", 400, 600)
    png = read(sandbox, image_bytes((300, 420), "PNG"), "x.bin")
    assert png.detected_type == "png" and png.kind == "photo"


def test_pixel_bomb_is_unreadable(sandbox: Sandbox) -> None:
    att = read(sandbox, pixel_bomb_png(), "foto.png", "image/png")
    assert att.problem == "attachment_unreadable"
    assert "too many pixels" in att.reason


def test_damaged_image_is_unreadable(sandbox: Sandbox) -> None:
    att = read(sandbox, image_bytes((800, 600))[:1500], "ktp.jpg")
    assert att.problem == "attachment_unreadable"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (_tiff(), "unsupported_format"),
        (image_bytes((20, 20), "GIF"), "unsupported_format"),
        (_zip(["ktp.jpg"]), "archive_not_accepted"),
        (b"Rar!\x1a\x07\x01\x00rest", "archive_not_accepted"),
        (_zip(["[Content_Types].xml", "xl/workbook.xml"]), "unsupported_format"),  # .xlsx
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504), "unsupported_format"),  # .doc
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\xff\xff", "unsupported_format"),
        (b"", "attachment_unreadable"),
    ],
)
def test_refused_types_never_reach_the_sandbox(data: bytes, problem: str) -> None:
    box = Sandbox(LIMITS)
    att = read_attachment(data, "file", "application/octet-stream", "", LIMITS, box)
    assert att.problem == problem
    assert box.starts == 0


def test_too_large_is_not_parsed() -> None:
    box = Sandbox(LIMITS)
    limits = Limits(max_attachment_bytes=1000)
    att = read_attachment(text_pdf(["x"] * 50), "ktp.pdf", "", "", limits, box)
    assert att.problem == "file_too_large" and att.kind == "ktp" and box.starts == 0


def test_declared_pdf_with_other_content_is_unreadable() -> None:
    box = Sandbox(LIMITS)
    att = read_attachment(
        b"\x00\x01garbage" * 10, "formulir.pdf", "application/pdf", "", LIMITS, box
    )
    assert att.problem == "attachment_unreadable"


def test_text_attachment_with_fields_is_a_form() -> None:
    data = b"Nama Lengkap: Sari\nNIK: 3174055203900002\nKota Asal: Jakarta\n"
    att = read_attachment(data, "data.txt", "text/plain", "", LIMITS, Sandbox(LIMITS))
    assert att.kind == "form" and att.field_source == "page_text"
    assert att.fields["nik"] == "3174055203900002"
