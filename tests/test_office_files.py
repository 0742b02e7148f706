"""Word (.docx) and OpenDocument (.odt) forms and iPhone HEIC photos, read like PDFs and JPEGs.

The documents are made here with the real libraries (python-docx, odfpy,
pillow-heif) for an invented person, and go through ``read_message`` in a mail
built with the standard ``email`` package.
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable

import pytest
from PIL import Image

from sikm_mailbot.domain.wording import attachment_problem, unreadable_reason
from sikm_mailbot.mail.extract import Limits, ReadMessage, Sandbox, read_message, sniff_type
from sikm_mailbot.mail.extract.office import MAX_ENTRIES, office_text
from tests.mailgen import simple_mail

docx = pytest.importorskip("docx")
odf_opendocument = pytest.importorskip("odf.opendocument")
pillow_heif = pytest.importorskip("pillow_heif")

LIMITS = Limits()

# An invented applicant (the NIK's day is 14 + 40: a woman born 14-08-1992).
RINA = {
    "Nama Lengkap": "Rina Kusumawati",
    "NIK": "3174055408920007",
    "Tempat Lahir": "Jakarta",
    "Tanggal Lahir": "14-08-1992",
    "Jenis Kelamin": "Perempuan",
    "Alamat": "Jl. Cempaka Putih Raya No. 7, RT 002/RW 004, Jakarta Pusat",
    "Nomor HP": "0812 7777 3131",
    "Email": "rina.kusumawati@example.com",
    "Pekerjaan": "Apoteker",
    "Kategori Pemohon": "Penduduk DKI keluar Jabodetabek",
    "Jenis Perjalanan": "Sekali perjalanan",
    "Kota Asal": "Jakarta Pusat",
    "Kota Tujuan": "Yogyakarta",
    "Tanggal Berangkat": "25-05-2020",
    "Tanggal Kembali": "30-05-2020",
    "Keperluan": "Mengantar obat untuk apotek cabang Yogyakarta",
}
RINA_FIELDS = {
    "nama": "Rina Kusumawati",
    "nik": "3174055408920007",
    "tempat_lahir": "Jakarta",
    "tanggal_lahir": "14-08-1992",
    "jenis_kelamin": "Perempuan",
    "alamat": "Jl. Cempaka Putih Raya No. 7, RT 002/RW 004, Jakarta Pusat",
    "nomor_hp": "0812 7777 3131",
    "email": "rina.kusumawati@example.com",
    "pekerjaan": "Apoteker",
    "kategori": "Penduduk DKI keluar Jabodetabek",
    "jenis_perjalanan": "Sekali perjalanan",
    "kota_asal": "Jakarta Pusat",
    "kota_tujuan": "Yogyakarta",
    "tanggal_berangkat": "25-05-2020",
    "tanggal_kembali": "30-05-2020",
    "keperluan": "Mengantar obat untuk apotek cabang Yogyakarta",
}
TITLE = "FORMULIR PERMOHONAN SIKM"
STATEMENT = [
    "SURAT PERNYATAAN",
    "Yang bertanda tangan di bawah ini:",
    "Nama\t: Rina Kusumawati",
    "NIK\t: 3174055408920007",
    "Alamat\t: Jl. Cempaka Putih Raya No. 7, Jakarta Pusat",
    "Pekerjaan\t: Apoteker",
    "Dengan ini menyatakan bahwa saya dalam keadaan sehat dan bahwa data dalam Formulir "
    "Permohonan SIKM adalah benar. Apabila tidak benar, saya bersedia menerima sanksi "
    "sesuai peraturan yang berlaku.",
    "Jakarta, 20 Mei 2020",
    "Yang menyatakan,",
    "[meterai 10000]",
    "Rina Kusumawati",
]


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(LIMITS) as box:
        yield box


def _read(box: Sandbox, *files: tuple[str, bytes], limits: Limits = LIMITS) -> ReadMessage:
    raw = simple_mail(
        body="Terlampir formulir saya.",
        attachments=[(name, "application/octet-stream", data) for name, data in files],
    )
    return read_message(raw, limits, sandbox=box)


# ---------------------------------------------------------------- documents made with the libraries


def _docx_bytes(doc) -> bytes:
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def docx_table_form() -> bytes:
    """Our form typed into a two-column Word table (label cell, value cell)."""
    doc = docx.Document()
    doc.add_heading(TITLE, level=1)
    table = doc.add_table(rows=0, cols=2)
    for label, value in RINA.items():
        cells = table.add_row().cells
        cells[0].text, cells[1].text = label, value
    return _docx_bytes(doc)


def docx_paragraph_form() -> bytes:
    """One `Label : value` paragraph per field, no title (the labels alone decide)."""
    doc = docx.Document()
    for label, value in RINA.items():
        doc.add_paragraph(f"{label} : {value}")
    return _docx_bytes(doc)


def docx_grid_form() -> bytes:
    """A table whose rows alternate: labels above, values below (three columns)."""
    doc = docx.Document()
    doc.add_paragraph(TITLE)
    items = list(RINA.items())
    table = doc.add_table(rows=0, cols=3)
    for start in range(0, len(items), 3):
        chunk = items[start : start + 3] + [("", "")] * (3 - len(items[start : start + 3]))
        labels, values = table.add_row().cells, table.add_row().cells
        for i, (label, value) in enumerate(chunk):
            labels[i].text, values[i].text = label, value
    return _docx_bytes(doc)


def docx_statement() -> bytes:
    doc = docx.Document()
    for line in STATEMENT:
        doc.add_paragraph(line)
    return _docx_bytes(doc)


def _odt_bytes(doc) -> bytes:
    buf = io.BytesIO()
    doc.write(buf)
    return buf.getvalue()


def odt_table_form() -> bytes:
    """The form as a two-column Writer table, written by odfpy."""
    from odf.table import Table, TableCell, TableColumn, TableRow
    from odf.text import H, P

    doc = odf_opendocument.OpenDocumentText()
    doc.text.addElement(H(outlinelevel=1, text=TITLE))
    table = Table(name="Pemohon")
    table.addElement(TableColumn(numbercolumnsrepeated=2))
    for label, value in RINA.items():
        row = TableRow()
        for text in (label, value):
            cell = TableCell()
            cell.addElement(P(text=text))
            row.addElement(cell)
        table.addElement(row)
    doc.text.addElement(table)
    return _odt_bytes(doc)


def odt_tab_form() -> bytes:
    """`Label<TAB>value` paragraphs (odfpy's teletype writes <text:tab/> and <text:s/>)."""
    from odf import teletype
    from odf.text import P

    doc = odf_opendocument.OpenDocumentText()
    doc.text.addElement(P(text=TITLE))
    for label, value in RINA.items():
        para = P()
        teletype.addTextToElement(para, f"{label}\t{value}")
        doc.text.addElement(para)
    return _odt_bytes(doc)


def odt_statement() -> bytes:
    from odf import teletype
    from odf.text import P

    doc = odf_opendocument.OpenDocumentText()
    for line in STATEMENT:
        para = P()
        teletype.addTextToElement(para, line)
        doc.text.addElement(para)
    return _odt_bytes(doc)


def heic(size: tuple[int, int]) -> bytes:
    """A HEIC photo as an iPhone saves it, encoded by pillow-heif (x265)."""
    pillow_heif.register_heif_opener()
    img = Image.new("RGB", size, (40, 110, 170))
    img.paste((230, 230, 220), (size[0] // 8, size[1] // 8, size[0] // 2, size[1] // 2))
    buf = io.BytesIO()
    img.save(buf, "HEIF", quality=60)
    return buf.getvalue()


# ---------------------------------------------------------------- forms and statements


@pytest.mark.parametrize(
    ("name", "make", "words"),
    [
        ("Formulir SIKM Rina.docx", docx_table_form, "Word document"),
        ("permohonan.docx", docx_paragraph_form, "Word document"),
        ("data-rina.docx", docx_grid_form, "Word document"),
        ("Formulir SIKM Rina.odt", odt_table_form, "OpenDocument text"),
        ("permohonan.odt", odt_tab_form, "OpenDocument text"),
    ],
)
def test_typed_forms_are_read_with_all_fields(
    sandbox: Sandbox, name: str, make: Callable[[], bytes], words: str
) -> None:
    msg = _read(sandbox, (name, make()))
    (att,) = msg.attachments
    assert (att.kind, att.problem, att.field_source) == ("form", None, "page_text"), att.reason
    assert att.reason == f"{words} with form fields"
    assert att.fields == RINA_FIELDS
    assert msg.fields == RINA_FIELDS
    assert msg.field_sources["nik"] == f"page_text:{name}"


@pytest.mark.parametrize(
    ("name", "make", "dtype"),
    [("pernyataan.docx", docx_statement, "docx"), ("dokumen.odt", odt_statement, "odt")],
)
def test_typed_statement_is_a_statement_not_the_form(
    sandbox: Sandbox, name: str, make: Callable[[], bytes], dtype: str
) -> None:
    (att,) = _read(sandbox, (name, make())).attachments
    assert (att.detected_type, att.kind, att.problem) == (dtype, "statement", None)
    assert att.fields == {} and att.field_source == ""
    assert "SURAT PERNYATAAN" in att.text_excerpt


def test_table_rows_become_label_value_lines() -> None:
    blocks = [
        {"p": "Data pemohon"},
        {"table": [["1.", "Nama Lengkap", ":", "Rina"], ["NIK :", "3174055408920007"]]},
        {"table": [["Kota Asal", "Kota Tujuan"], ["Bogor", "Solo"]]},
        {"table": [["Nama Lengkap", "NIK"]]},  # labels alone are not a pair
    ]
    assert office_text(blocks).splitlines() == [
        "Data pemohon",
        "Nama Lengkap: Rina",
        "NIK: 3174055408920007",
        "Kota Asal: Bogor",
        "Kota Tujuan: Solo",
        "Nama Lengkap",
        "NIK",
    ]


# ---------------------------------------------------------------- hostile and refused files


def _office_zip(parts: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _zip_bomb_docx() -> bytes:
    """A .docx whose document.xml unpacks to 200 MiB of zeros (a few hundred KiB packed)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("word/document.xml", "w", force_zip64=True) as fh:
            chunk = bytes(1024 * 1024)
            for _ in range(200):
                fh.write(chunk)
    return buf.getvalue()


_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "hahahahaha">'
    + b"".join(
        b'<!ENTITY %s "%s">'
        % (chr(98 + i).encode(), b"".join([b"&%s;" % chr(97 + i).encode()] * 10))
        for i in range(8)
    )
    + b']><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    b"<w:body><w:p><w:r><w:t>&i;</w:t></w:r></w:p></w:body></w:document>"
)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (_zip_bomb_docx(), "zip bomb"),
        (
            _office_zip(
                {"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<x/>"}
                | {f"word/media/{i}.bin": b"" for i in range(MAX_ENTRIES + 1)}
            ),
            "too many parts",
        ),
        (_office_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": _LAUGHS}), "DTD"),
        (_office_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"x"}), "XML"),
    ],
    ids=["zip-bomb", "entry-count", "billion-laughs", "damaged"],
)
def test_hostile_docx_is_unreadable_with_a_reason_in_bounded_time(
    sandbox: Sandbox, data: bytes, words: str
) -> None:
    assert sniff_type(data) == "docx" and len(data) < LIMITS.max_attachment_bytes
    started = time.monotonic()
    (att,) = _read(sandbox, ("Formulir.docx", data)).attachments
    assert time.monotonic() - started < 10
    assert att.problem == "attachment_unreadable"
    assert words in att.reason
    assert sandbox.run("ping", b"")["ok"]  # the worker survived (or was replaced)


def test_old_doc_is_refused_naming_the_file_and_what_to_send() -> None:
    ole2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1024)
    box = Sandbox(LIMITS)
    (att,) = _read(box, ("IMG.doc", ole2)).attachments
    assert (att.detected_type, att.problem) == ("doc", "unsupported_format")
    assert ".doc" in att.reason and "DOCX" in att.reason
    assert box.starts == 0  # refused without parsing
    problem = attachment_problem(att.filename, att.problem)
    assert problem.message_id.startswith("IMG.doc: Format berkas tidak diterima.")
    assert "PDF, JPG atau PNG, atau DOCX/ODT" in problem.message_id
    assert problem.message_en.startswith("IMG.doc: ") and "DOCX/ODT" in problem.message_en
    reason_id, reason_en = unreadable_reason(att.problem)
    assert "kirim sebagai PDF/JPG/PNG, atau DOCX/ODT" in reason_id
    assert "send it as PDF/JPG/PNG, or DOCX/ODT" in reason_en


def test_spreadsheet_is_refused_with_what_to_send() -> None:
    xlsx = _office_zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<w/>"})
    (att,) = _read(Sandbox(LIMITS), ("data.xlsx", xlsx)).attachments
    assert (att.detected_type, att.problem) == ("xlsx", "unsupported_format")
    assert att.reason.startswith("Excel workbook (.xlsx) is not accepted: send it as PDF, DOCX")


# ---------------------------------------------------------------- HEIC photos


@pytest.mark.parametrize(
    ("name", "size", "kind"),
    [
        ("IMG_4521.HEIC", (1600, 1000), "ktp"),  # landscape card shape
        ("IMG_4522.HEIC", (900, 1200), "photo"),  # portrait selfie
        ("KTP Rina.heic", (1200, 1200), "ktp"),  # the name decides
    ],
)
def test_heic_photo_is_read_like_a_jpeg(
    sandbox: Sandbox, name: str, size: tuple[int, int], kind: str
) -> None:
    data = heic(size)
    assert sniff_type(data) == "heic"
    (att,) = _read(sandbox, (name, data)).attachments
    assert (att.kind, att.problem) == (kind, None), att.reason
    assert (att.width, att.height) == size
    assert att.detected_type in ("heic", "heif")


def test_heic_pixel_bomb_limit_still_applies(sandbox: Sandbox) -> None:
    small = Limits(max_image_pixels=100_000)
    with Sandbox(small) as box:
        (att,) = _read(box, ("IMG_4521.HEIC", heic((1600, 1000))), limits=small).attachments
    assert att.problem == "attachment_unreadable" and "too many pixels" in att.reason


def test_word_form_statement_and_iphone_photos_in_one_mail(sandbox: Sandbox) -> None:
    msg = _read(
        sandbox,
        ("Formulir SIKM Rina.docx", docx_table_form()),
        ("pernyataan.odt", odt_statement()),
        ("IMG_4521.HEIC", heic((1600, 1000))),
        ("IMG_4522.HEIC", heic((900, 1200))),
    )
    assert [(a.filename, a.kind, a.problem) for a in msg.attachments] == [
        ("Formulir SIKM Rina.docx", "form", None),
        ("pernyataan.odt", "statement", None),
        ("IMG_4521.HEIC", "ktp", None),
        ("IMG_4522.HEIC", "photo", None),
    ]
    assert msg.fields == RINA_FIELDS
