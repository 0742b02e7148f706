"""The office's blank forms, generated from code so they can be rebuilt byte for byte.

Two PDFs are published for applicants to download:

* *Formulir Permohonan SIKM* — a fillable AcroForm whose field names are the keys of
  :data:`sikm_mailbot.domain.vocabulary.FORM_LABELS` and whose printed labels are the labels, so a
  filled PDF, a printed-and-scanned copy and a form typed into an email all speak the same
  contract.
* *Surat Pernyataan* — the statement letter (health and truth of the data) to sign.

Run ``python -m sikm_mailbot.forms [DIR]`` to (re)write both into ``DIR``
(default ``templates/forms/``).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from reportlab.lib.colors import Color, black
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from sikm_mailbot.domain.vocabulary import CATEGORY_NAMES_ID, FORM_LABELS

APPLICATION_FILENAME = "formulir-permohonan-sikm.pdf"
STATEMENT_FILENAME = "surat-pernyataan.pdf"
DEFAULT_DIRECTORY = Path("templates/forms")

APPLICATION_TITLE = "FORMULIR PERMOHONAN SIKM"
APPLICATION_SUBTITLE = "Surat Izin Keluar Masuk DKI Jakarta / Jakarta Exit-Entry Permit Application"
STATEMENT_TITLE = "SURAT PERNYATAAN"
OFFICE_ADDRESS = "sikm@jakarta.go.id"

# Field names of the statement form. They are prefixed on purpose: a statement must never
# carry AcroForm fields named like the application keys, or a reader that recognises "our
# form" by its field names would take a filled statement for an application form.
STATEMENT_FIELDS: dict[str, str] = {
    "pernyataan_nama": "Nama",
    "pernyataan_nik": "NIK",
    "pernyataan_tanggal": "Tempat, tanggal",
}

# Groups of the application form, in printed order; every FORM_LABELS key appears once.
# Help lines are worded so that none starts with a field label followed by a value: a
# reader that parses "Label: value" lines from the page text must not mistake them for data.
FORM_GROUPS: list[tuple[str, list[str], list[str]]] = [
    (
        "A. Data Pemohon / Applicant",
        ["nama", "nik", "tempat_lahir", "tanggal_lahir", "jenis_kelamin", "alamat"]
        + ["nomor_hp", "email", "pekerjaan"],
        [
            "Isi sesuai KTP. NIK 16 angka. Tanggal ditulis DD-MM-YYYY (contoh 20-05-2020).",
            "Kolom jenis kelamin: L (laki-laki) atau P (perempuan). Nomor HP diawali 08 atau +62.",
            "Izin (SIKM) dikirim ke alamat email yang diisi; jika kosong, ke alamat pengirim.",
        ],
    ),
    (
        "B. Perjalanan / Trip",
        ["kategori", "sektor", "jenis_perjalanan", "kota_asal", "kota_tujuan"]
        + ["tanggal_berangkat", "tanggal_kembali", "berlaku_sampai", "keperluan"],
        [
            "Kode kategori pemohon (tulis kode atau nama kategori):",
            *(f"   {code} = {name}" for code, name in CATEGORY_NAMES_ID.items()),
            "Pilihan jenis perjalanan: Sekali (isi tanggal kembali) atau Berulang (isi berlaku"
            " sampai, maks. 90 hari).",
            "Kolom sektor hanya untuk perjalanan kerja di sektor yang dikecualikan (mis. kesehatan,"
            " logistik, pangan). Semua tanggal DD-MM-YYYY.",
        ],
    ),
    (
        "C. Penjamin / Guarantor (wajib untuk penduduk luar Jabodetabek masuk Jakarta)",
        ["penjamin_nama", "penjamin_nik", "penjamin_email", "penjamin_hp", "penjamin_hubungan"],
        [
            "Penjamin berdomisili di Jakarta: keluarga atau perusahaan"
            " (isi: keluarga / perusahaan).",
            "Catatan: email penjamin harus berbeda dari email pemohon; penjamin akan dihubungi.",
        ],
    ),
]

INSTRUCTIONS: list[str] = [
    "Cara mengirim / How to send:",
    f"1. Simpan formulir yang telah diisi dan kirim lewat email ke {OFFICE_ADDRESS}",
    "   bersama Surat Pernyataan yang telah ditandatangani dan dokumen persyaratan",
    "   (KTP, pas foto berwarna, surat pengantar RT/RW, dan surat sesuai kategori)"
    " dalam PDF/JPG/PNG.",
    "2. Jangan kirim arsip ZIP/RAR; maksimum 10 MB per lampiran."
    " Nomor permohonan dikirim via email.",
    "   Save the filled form and email it with the signed statement letter and the documents.",
]

_GREY = Color(0.93, 0.93, 0.93)
_BOX = Color(0.55, 0.55, 0.6)
_FIELD_BG = Color(0.94, 0.96, 1.0)


def _new_canvas(buffer: io.BytesIO, title: str) -> Canvas:
    """A4 canvas with fixed metadata; ``invariant=1`` keeps dates and /ID constant."""
    canvas = Canvas(buffer, pagesize=A4, invariant=1)
    canvas.setTitle(title)
    canvas.setAuthor("DPMPTSP DKI Jakarta")
    canvas.setCreator("sikm-mailbot")
    canvas.setSubject("SIKM")
    return canvas


def _header(canvas: Canvas, title: str, subtitle: str) -> float:
    """Draw the office header and a title; return the y coordinate below it."""
    width, height = A4
    canvas.setFillColor(_GREY)
    canvas.rect(36, height - 70, width - 72, 40, stroke=0, fill=1)
    canvas.setFillColor(black)
    canvas.setFont("Helvetica", 8)
    canvas.drawCentredString(
        width / 2,
        height - 42,
        "PEMERINTAH PROVINSI DKI JAKARTA - DINAS PENANAMAN MODAL DAN PTSP",
    )
    canvas.setFont("Helvetica-Bold", 15)
    canvas.drawCentredString(width / 2, height - 62, title)
    canvas.setFont("Helvetica-Oblique", 9)
    canvas.drawCentredString(width / 2, height - 84, subtitle)
    return height - 100


def _text_field(canvas: Canvas, name: str, label: str, x: float, y: float, w: float) -> None:
    """A labelled single-line text field; the label is printed page text."""
    canvas.setFont("Helvetica", 9)
    canvas.setFillColor(black)
    canvas.drawString(x, y + 4, label)
    canvas.acroForm.textfield(
        name=name,
        tooltip=label,
        x=x + 130,
        y=y,
        width=w - 130,
        height=15,
        fontName="Helvetica",
        fontSize=9,
        borderStyle="underlined",
        borderColor=_BOX,
        fillColor=_FIELD_BG,
        textColor=black,
        forceBorder=True,
    )


def build_application_form() -> bytes:
    """Return the fillable *Formulir Permohonan SIKM* (A4, one AcroForm text field per key).

    Field names are exactly the keys of ``FORM_LABELS``; the printed label next to each
    field is its label. The bytes are identical on every call.
    """
    buffer = io.BytesIO()
    canvas = _new_canvas(buffer, "Formulir Permohonan SIKM")
    y = _header(canvas, APPLICATION_TITLE, APPLICATION_SUBTITLE)
    left, width = 48.0, A4[0] - 96.0
    for heading, keys, help_lines in FORM_GROUPS:
        y -= 24
        canvas.setFillColor(_GREY)
        canvas.rect(left - 4, y - 4, width + 8, 15, stroke=0, fill=1)
        canvas.setFillColor(black)
        canvas.setFont("Helvetica-Bold", 10)
        canvas.drawString(left, y, heading)
        canvas.setFont("Helvetica-Oblique", 7.5)
        for line in help_lines:
            y -= 10
            canvas.drawString(left, y, line)
        y -= 6
        for key in keys:
            y -= 19
            _text_field(canvas, key, FORM_LABELS[key], left, y, width)
    y -= 22
    canvas.setFont("Helvetica-Bold", 8.5)
    canvas.drawString(left, y, INSTRUCTIONS[0])
    canvas.setFont("Helvetica", 8)
    for line in INSTRUCTIONS[1:]:
        y -= 10.5
        canvas.drawString(left, y, line)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


STATEMENT_TEXT_ID: list[str] = [
    "Dengan ini saya menyatakan dengan sesungguhnya bahwa:",
    "1. Saya dalam keadaan sehat, tidak memiliki gejala demam, batuk, pilek, atau sesak napas,",
    "   dan tidak pernah kontak erat dengan pasien COVID-19 dalam 14 hari terakhir.",
    "2. Seluruh data dan dokumen yang saya sampaikan dalam permohonan SIKM ini adalah benar.",
    "3. Saya bersedia mematuhi protokol kesehatan selama perjalanan, dan bersedia menerima",
    "   sanksi sesuai peraturan perundang-undangan apabila pernyataan ini tidak benar.",
]
STATEMENT_TEXT_EN = (
    "I declare that I am in good health and that all data and documents I submit are true."
)


def build_statement_form() -> bytes:
    """Return the fillable *Surat Pernyataan* (statement of health and truth of data).

    Fields: ``pernyataan_nama``, ``pernyataan_nik``, ``pernyataan_tanggal`` (see
    :data:`STATEMENT_FIELDS`), then room for place, date, signature and the meterai stamp.
    """
    buffer = io.BytesIO()
    canvas = _new_canvas(buffer, "Surat Pernyataan")
    y = _header(canvas, STATEMENT_TITLE, "Pernyataan sehat dan kebenaran data / Statement letter")
    left, width = 60.0, A4[0] - 120.0
    y -= 20
    canvas.setFont("Helvetica", 10)
    canvas.drawString(left, y, "Yang bertanda tangan di bawah ini:")
    y -= 8
    for name, label in list(STATEMENT_FIELDS.items())[:2]:
        y -= 24
        _text_field(canvas, name, label, left, y, width)
    y -= 30
    canvas.setFont("Helvetica", 10)
    for line in STATEMENT_TEXT_ID:
        canvas.drawString(left, y, line)
        y -= 15
    canvas.setFont("Helvetica-Oblique", 9)
    canvas.drawString(left, y - 4, STATEMENT_TEXT_EN)
    y -= 30
    canvas.setFont("Helvetica", 10)
    canvas.drawString(left, y, "Demikian surat pernyataan ini saya buat dengan sebenar-benarnya.")
    y -= 34
    _text_field(
        canvas, "pernyataan_tanggal", STATEMENT_FIELDS["pernyataan_tanggal"], left, y, width
    )
    # Signature block on the right, with the box where the duty stamp (meterai) goes.
    right = A4[0] - 240
    y -= 30
    canvas.setFont("Helvetica", 10)
    canvas.drawString(right, y, "Yang membuat pernyataan,")
    y -= 70
    canvas.setStrokeColor(_BOX)
    canvas.setDash(3, 2)
    canvas.rect(right, y, 70, 50, stroke=1, fill=0)
    canvas.setDash()
    canvas.setFont("Helvetica", 7)
    canvas.drawString(right + 6, y + 28, "Meterai")
    canvas.drawString(right + 6, y + 18, "Rp 6.000")
    y -= 20
    canvas.line(right, y, right + 180, y)
    canvas.setFont("Helvetica", 8)
    canvas.drawString(right, y - 12, "(tanda tangan dan nama jelas)")
    canvas.drawString(right, y - 22, "(signature and full name)")
    canvas.setFont("Helvetica-Oblique", 8)
    canvas.drawString(
        left,
        60,
        "Tanda tangan di atas meterai Rp 6.000 (basah atau dipindai). Sign over the duty stamp.",
    )
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def write_forms(directory: Path) -> list[Path]:
    """Write both blank forms into ``directory`` (created if needed); return their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, data in (
        (APPLICATION_FILENAME, build_application_form()),
        (STATEMENT_FILENAME, build_statement_form()),
    ):
        path = directory / filename
        path.write_bytes(data)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: ``python -m sikm_mailbot.forms [DIR]``."""
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0]) if args else DEFAULT_DIRECTORY
    for path in write_forms(directory):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
