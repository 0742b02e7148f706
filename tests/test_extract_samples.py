"""Builders of test inputs for the extraction tests (invented people, reserved domains).

Everything is generated at test time: PDFs with reportlab/pypdf, images with
Pillow, mails with the stdlib. The few tests here check the builders themselves.
"""

from __future__ import annotations

import io
import struct
import zlib
from email.message import EmailMessage

from PIL import Image
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from sikm_mailbot.domain.vocabulary import FORM_LABELS

APPLICANT = {
    "nama": "Sari Wulandari",
    "nik": "3174055203900002",
    "tempat_lahir": "Bandung",
    "tanggal_lahir": "12-03-1990",
    "jenis_kelamin": "P",
    "alamat": "Jl. Melati No. 7, Jakarta Selatan",
    "nomor_hp": "081234567890",
    "email": "sari.w@example.com",
    "kategori": "resident_out",
    "jenis_perjalanan": "Sekali",
    "kota_asal": "Jakarta Selatan",
    "kota_tujuan": "Bandung",
    "tanggal_berangkat": "25-05-2020",
    "tanggal_kembali": "30-05-2020",
    "keperluan": "Tugas kantor",
}


# ---------------------------------------------------------------- PDFs


def text_pdf(lines: list[str], pages: int = 1) -> bytes:
    """A flat PDF whose pages carry `lines` as text."""
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    for _ in range(pages):
        y = 800
        for line in lines:
            pdf.drawString(60, y, line)
            y -= 16
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def printed_form_pdf(values: dict[str, str]) -> bytes:
    """A flat (printed/flattened) form: title, then label, colon and value in columns."""
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    pdf.setFont("Helvetica-Bold", 14)
    pdf.drawString(60, 800, "FORMULIR PERMOHONAN SIKM")
    pdf.setFont("Helvetica", 10)
    y = 770
    for key, label in FORM_LABELS.items():
        pdf.drawString(60, y, label)
        pdf.drawString(200, y, ":")
        pdf.drawString(210, y, values.get(key, ""))
        y -= 16
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def fillable_form_pdf(values: dict[str, str] | None = None, title: str = "") -> bytes:
    """A fillable form (AcroForm text fields named by our keys), filled via pypdf."""
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    if title:
        pdf.drawString(60, 810, title)
    y = 780
    for key, label in FORM_LABELS.items():
        pdf.drawString(60, y + 4, label)
        pdf.acroForm.textfield(name=key, x=220, y=y, width=300, height=16, borderWidth=0)
        y -= 22
    pdf.showPage()
    pdf.save()
    if not values:
        return buf.getvalue()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(buf.getvalue())))
    writer.update_page_form_field_values(writer.pages[0], values, auto_regenerate=False)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypt(data: bytes, user_password: str, owner_password: str = "owner-secret") -> bytes:
    """The same PDF encrypted with AES-256."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def raw_pdf(objects: list[bytes], root: int = 1) -> bytes:
    """A PDF from raw object bodies (object i+1 = objects[i]) with a correct xref."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\n" % (len(objects) + 1, root)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def bomb_pdf(inflated_mib: int = 1100) -> bytes:
    """A one-page PDF whose FlateDecode content stream inflates to `inflated_mib` MiB.

    Built fast: one full-flushed deflate segment of 1 MiB of zeros is repeated
    (full flush makes each segment independent), then an empty final block and
    the Adler-32 of the whole.
    """
    zeros = b"\0" * (1 << 20)
    comp = zlib.compressobj(9)
    first = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    segment = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    adler = 1
    for _ in range(inflated_mib):
        adler = zlib.adler32(zeros, adler)
    deflated = first + segment * (inflated_mib - 1) + b"\x03\x00" + struct.pack(">I", adler)
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
            _stream(deflated, b"/Filter /FlateDecode "),
        ]
    )


def indirect_fields_pdf(
    extra_field: bytes = b"", acroform: bytes = b"<< /Fields 6 0 R >>"
) -> bytes:
    """An AcroForm whose /Fields is an indirect reference (pdfplumber's recipe breaks)."""
    content = b"BT /F1 12 Tf 60 800 Td (Formulir) Tj ET"
    kids = [b"7 0 R", b"8 0 R", b"9 0 R", b"10 0 R"]
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm 5 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 11 0 R >> >> >>",
        _stream(content),
        acroform,
        b"[" + b" ".join(kids) + (b" 12 0 R" if extra_field else b"") + b"]",
        b"<< /FT /Tx /T (nama) /V (Rudi Hartono) >>",
        # a parent without FT: its kid inherits /Tx; name = kota.kota_asal is mapped by last part
        b"<< /FT /Tx /T (kategori) /V (resident_out) >>",
        b"<< /FT /Tx /T (kota_asal) /V <FEFF004A0061006B0061007200740061> >>",  # UTF-16 "Jakarta"
        b"<< /FT /Btn /T (setuju) /V /Off >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    if extra_field:
        objects.append(extra_field)
    return raw_pdf(objects)


# ---------------------------------------------------------------- images


def image_bytes(size: tuple[int, int], fmt: str = "JPEG", orientation: int | None = None) -> bytes:
    """An RGB image of `size` in `fmt`, optionally with an EXIF orientation tag."""
    img = Image.new("RGB", size, (200, 120, 40))
    buf = io.BytesIO()
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        img.save(buf, fmt, exif=exif.tobytes())
    else:
        img.save(buf, fmt)
    return buf.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def pixel_bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims width x height pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


# ---------------------------------------------------------------- mails


def mail(
    body: str = "Terlampir berkas permohonan SIKM.",
    attachments: list[tuple[bytes, str, str]] = (),  # type: ignore[assignment]
    sender: str = "Sari Wulandari <sari.w@example.com>",
    subject: str = "Permohonan SIKM",
    html: str | None = None,
) -> EmailMessage:
    """An application mail: body (plain and/or HTML) and (data, filename, mime type) files."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "sikm@example.org"
    msg["Subject"] = subject
    msg["Date"] = "Wed, 20 May 2020 09:15:00 +0700"
    msg["Message-ID"] = "<app-1@mail.example.com>"
    if body:
        msg.set_content(body)
        if html is not None:
            msg.add_alternative(html, subtype="html")
    elif html is not None:
        msg.set_content(html, subtype="html")
    for data, filename, mimetype in attachments:
        maintype, subtype = mimetype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


# ---------------------------------------------------------------- builder checks


def test_fillable_form_is_filled() -> None:
    data = fillable_form_pdf(APPLICANT)
    fields = PdfReader(io.BytesIO(data)).get_fields()
    assert fields is not None
    assert fields["nama"]["/V"] == APPLICANT["nama"]


def test_bomb_really_inflates_past_one_gib() -> None:
    data = bomb_pdf(1100)
    assert len(data) < 2 * 1024 * 1024
    start = data.index(b"stream\n") + len(b"stream\n")
    inflater = zlib.decompressobj()
    total, chunk = 0, data[start:]
    while chunk and total < (1 << 30) + 1:
        total += len(inflater.decompress(chunk, 1 << 26))
        chunk = inflater.unconsumed_tail
    assert total > 1 << 30
