"""Rebuild the office-software test documents in this folder (not run by the tests).

Needs LibreOffice (`soffice`), pdftk-java, qpdf, poppler-utils (pdftoppm) and
img2pdf on PATH; none of them is a project dependency. Writer documents are
written as flat ODF (.fodt) — paragraphs, tab stops, bold runs and tables as
Writer stores them — then laid out and exported by LibreOffice itself:

    soffice --headless --convert-to pdf  --outdir OUT FILE.fodt
    soffice --headless --convert-to docx --outdir OUT FILE.fodt

Run: `.venv/bin/python tests/data/office/make_documents.py` (from the repo root).
Invented people only. See README.md for what each file is.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
BLANK_FORM = REPO / "templates" / "forms" / "formulir-permohonan-sikm.pdf"

_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"
 office:version="1.3" office:mimetype="application/vnd.oasis.opendocument.text">
<office:font-face-decls>
 <style:font-face style:name="Liberation Serif" svg:font-family="'Liberation Serif'"
  xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"/>
</office:font-face-decls>
<office:styles>
 <style:style style:name="Standard" style:family="paragraph">
  <style:text-properties style:font-name="Liberation Serif" fo:font-size="12pt"/>
 </style:style>
</office:styles>
<office:automatic-styles>
 <style:style style:name="Title" style:family="paragraph" style:parent-style-name="Standard">
  <style:paragraph-properties fo:text-align="center" fo:margin-bottom="0.3cm"/>
  <style:text-properties fo:font-size="14pt" fo:font-weight="bold"/>
 </style:style>
 <style:style style:name="Center" style:family="paragraph" style:parent-style-name="Standard">
  <style:paragraph-properties fo:text-align="center"/>
 </style:style>
 <style:style style:name="Tabs" style:family="paragraph" style:parent-style-name="Standard">
  <style:paragraph-properties>
   <style:tab-stops>
    <style:tab-stop style:position="5cm"/>
   </style:tab-stops>
  </style:paragraph-properties>
 </style:style>
 <style:style style:name="Gap" style:family="paragraph" style:parent-style-name="Standard">
  <style:paragraph-properties fo:margin-top="0.25cm"/>
 </style:style>
 <style:style style:name="B" style:family="text">
  <style:text-properties fo:font-weight="bold"/>
 </style:style>
 <style:style style:name="Tbl" style:family="table">
  <style:table-properties style:width="16cm" table:align="left"/>
 </style:style>
 <style:style style:name="Tbl.A" style:family="table-column">
  <style:table-column-properties style:column-width="5.5cm"/>
 </style:style>
 <style:style style:name="Tbl.B" style:family="table-column">
  <style:table-column-properties style:column-width="10.5cm"/>
 </style:style>
 <style:style style:name="Tbl.C" style:family="table-cell">
  <style:table-cell-properties fo:padding="0.1cm" fo:border="0.5pt solid #000000"/>
 </style:style>
</office:automatic-styles>
<office:body><office:text>
"""
_TAIL = "</office:text></office:body></office:document>\n"


def p(text: str, style: str = "Standard") -> str:
    """One paragraph; a tab in the text becomes a Writer tab."""
    parts = [escape(t) for t in text.split("\t")]
    return f'<text:p text:style-name="{style}">' + "<text:tab/>".join(parts) + "</text:p>\n"


def bold(text: str, style: str = "Gap") -> str:
    """A paragraph whose text is bold (a bold character run, as Ctrl+B makes it)."""
    run = f'<text:span text:style-name="B">{escape(text)}</text:span>'
    return f'<text:p text:style-name="{style}">{run}</text:p>\n'


def table(rows: list[tuple[str, str]]) -> str:
    """A two-column bordered table: label cell | value cell."""
    out = ['<table:table table:name="Data" table:style-name="Tbl">\n']
    out.append('<table:table-column table:style-name="Tbl.A"/>')
    out.append('<table:table-column table:style-name="Tbl.B"/>\n')
    for label, value in rows:
        out.append("<table:table-row>")
        for cell in (label, value):
            out.append(
                '<table:table-cell table:style-name="Tbl.C" office:value-type="string">'
                + p(cell)
                + "</table:table-cell>"
            )
        out.append("</table:table-row>\n")
    out.append("</table:table>\n")
    return "".join(out)


def fodt(body: str) -> str:
    return _HEAD + body + _TAIL


# ---------------------------------------------------------------- the people

BUDI = [  # resident_out, single trip (paragraphs "Label : value")
    ("Nama Lengkap", "Budi Santoso"),
    ("NIK", "3174051205900003"),
    ("Tempat Lahir", "Jakarta"),
    ("Tanggal Lahir", "12-05-1990"),
    ("Jenis Kelamin", "Laki-laki"),
    ("Alamat", "Jl. Kenari II No. 14, RT 005/RW 003, Kel. Kenari, Jakarta Pusat"),
    ("Nomor HP", "0812-3456-7801"),
    ("Email", "budi.santoso@example.com"),
    ("Pekerjaan", "Karyawan Swasta"),
    ("Kategori Pemohon", "Penduduk DKI keluar Jabodetabek"),
    ("Sektor", "Logistik"),
    ("Jenis Perjalanan", "Sekali"),
    ("Kota Asal", "Jakarta Pusat"),
    ("Kota Tujuan", "Semarang"),
    ("Tanggal Berangkat", "25-05-2020"),
    ("Tanggal Kembali", "29-05-2020"),
    ("Keperluan", "Pengiriman logistik bahan pangan ke gudang Semarang"),
]
SARI = [  # nonresident_in, work trip (2-column table)
    ("Nama Lengkap", "Sari Wulandari"),
    ("NIK", "3273015203900002"),
    ("Tempat Lahir", "Bandung"),
    ("Tanggal Lahir", "12/03/1990"),
    ("Jenis Kelamin", "Perempuan"),
    ("Alamat", "Jl. Dago Atas No. 8, Coblong, Bandung"),
    ("Nomor HP", "+62 813 2222 0102"),
    ("Email", "sari.wulandari@example.net"),
    ("Pekerjaan", "Perawat"),
    ("Kategori Pemohon", "nonresident_in"),
    ("Sektor", "Kesehatan"),
    ("Jenis Perjalanan", "Berulang"),
    ("Kota Asal", "Bandung"),
    ("Kota Tujuan", "Jakarta Selatan"),
    ("Tanggal Berangkat", "22-05-2020"),
    ("Berlaku Sampai", "30-06-2020"),
    ("Keperluan", "Bertugas sebagai perawat di RS Fatmawati"),
    ("Nama Penjamin", "PT Sehat Sentosa"),
    ("NIK Penjamin", "3174010101800001"),
    ("Email Penjamin", "hrd@sehat-sentosa.example.org"),
    ("Nomor HP Penjamin", "0811-900-1234"),
    ("Hubungan Penjamin", "Perusahaan"),
]
ANDI = [  # urgent, single trip (tab-aligned, no colon)
    ("Nama Lengkap", "Andi Pratama"),
    ("NIK", "3175020709850004"),
    ("Tempat Lahir", "Surabaya"),
    ("Tanggal Lahir", "07.09.1985"),
    ("Jenis Kelamin", "L"),
    ("Alamat", "Jl. Pemuda No. 21, Rawamangun, Jakarta Timur"),
    ("Nomor HP", "085711112222"),
    ("Email", "andi.pratama@example.org"),
    ("Pekerjaan", "Wiraswasta"),
    ("Kategori Pemohon", "Keperluan mendesak"),
    ("Jenis Perjalanan", "Sekali"),
    ("Kota Asal", "Jakarta Timur"),
    ("Kota Tujuan", "Surabaya"),
    ("Tanggal Berangkat", "21-05-2020"),
    ("Tanggal Kembali", "27-05-2020"),
    ("Keperluan", "Ayah meninggal dunia, menghadiri pemakaman"),
]
DEWI = [  # dki_ktp_outside, multiple trip (bold labels, value on the next line)
    ("Nama Lengkap", "Dewi Lestari"),
    ("NIK", "3171046511880005"),
    ("Tempat Lahir", "Jakarta"),
    ("Tanggal Lahir", "25-11-1988"),
    ("Jenis Kelamin", "P"),
    ("Alamat", "Perum Griya Asri Blok C2 No. 5, Karawang"),
    ("Nomor HP", "0878 5555 0303"),
    ("Email", "dewi.lestari@example.com"),
    ("Pekerjaan", "Guru"),
    ("Kategori Pemohon", "KTP DKI di luar Jabodetabek"),
    ("Jenis Perjalanan", "Berulang"),
    ("Kota Asal", "Karawang"),
    ("Kota Tujuan", "Jakarta Barat"),
    ("Tanggal Berangkat", "20 Mei 2020"),
    ("Berlaku Sampai", "15 Juni 2020"),
    ("Keperluan", "Mengajar di sekolah swasta di Jakarta Barat"),
]

TITLE = "FORMULIR PERMOHONAN SIKM"


def _form_head() -> str:
    return (
        p("PEMERINTAH PROVINSI DKI JAKARTA", "Center")
        + p(TITLE, "Title")
        + p("Surat Izin Keluar Masuk DKI Jakarta", "Center")
    )


def _form_foot(place_date: str, name: str) -> str:
    return (
        p("Demikian data ini saya isi dengan sebenar-benarnya.", "Gap")
        + p(place_date, "Gap")
        + p("Pemohon,")
        + p("")
        + p("")
        + p(name)
    )


def form_paragraphs() -> str:
    body = _form_head() + "".join(p(f"{k} : {v}") for k, v in BUDI)
    return fodt(body + _form_foot("Jakarta, 20 Mei 2020", "Budi Santoso"))


def form_table() -> str:
    body = _form_head() + p("Data pemohon:", "Gap") + table(SARI)
    return fodt(body + _form_foot("Bandung, 20 Mei 2020", "Sari Wulandari"))


def form_tabs() -> str:
    body = _form_head() + "".join(p(f"{k}\t{v}", "Tabs") for k, v in ANDI)
    return fodt(body + _form_foot("Jakarta, 20 Mei 2020", "Andi Pratama"))


def form_bold_next_line() -> str:
    body = _form_head()
    for label, value in DEWI:
        body += bold(label) + p(value)
    return fodt(body + _form_foot("Karawang, 19 Mei 2020", "Dewi Lestari"))


def _person_block(rows: list[tuple[str, str]]) -> str:
    return "".join(p(f"{k}\t: {v}", "Tabs") for k, v in rows)


def statement() -> str:
    body = (
        p("SURAT PERNYATAAN", "Title")
        + p("Yang bertanda tangan di bawah ini:", "Gap")
        + _person_block(
            [
                ("Nama", "Budi Santoso"),
                ("NIK", "3174051205900003"),
                ("Alamat", "Jl. Kenari II No. 14, Jakarta Pusat"),
            ]
        )
        + p(
            "Dengan ini menyatakan bahwa saya dalam keadaan sehat, tidak memiliki gejala "
            "COVID-19, dan bahwa data yang saya isi dalam Formulir Permohonan SIKM adalah "
            "benar. Apabila di kemudian hari data tersebut tidak benar, saya bersedia "
            "menerima sanksi sesuai peraturan yang berlaku.",
            "Gap",
        )
        + p("Jakarta, 20 Mei 2020", "Gap")
        + p("Yang menyatakan,")
        + p("[meterai 6000]")
        + p("Budi Santoso")
    )
    return fodt(body)


def rtrw_letter() -> str:
    body = (
        p("RUKUN TETANGGA 005 / RUKUN WARGA 003", "Center")
        + p("KELURAHAN KENARI, KECAMATAN SENEN, JAKARTA PUSAT", "Center")
        + p("SURAT PENGANTAR RT/RW", "Title")
        + p("Nomor: 021/RT.005/V/2020", "Center")
        + p("Yang bertanda tangan di bawah ini Ketua RT 005 RW 003 menerangkan bahwa:", "Gap")
        + _person_block(
            [
                ("Nama", "Budi Santoso"),
                ("NIK", "3174051205900003"),
                ("Alamat", "Jl. Kenari II No. 14"),
            ]
        )
        + p(
            "adalah benar warga kami dan surat ini diberikan sebagai pengantar untuk "
            "mengurus Surat Izin Keluar Masuk (SIKM) DKI Jakarta.",
            "Gap",
        )
        + p("Jakarta, 18 Mei 2020", "Gap")
        + p("Ketua RT 005\tKetua RW 003", "Tabs")
        + p("Slamet Riyadi\tHendra Gunawan", "Tabs")
    )
    return fodt(body)


def work_letter() -> str:
    body = (
        p("PT LOGISTIK NUSANTARA RAYA", "Center")
        + p("Jl. Gunung Sahari No. 88, Jakarta Pusat", "Center")
        + p("SURAT TUGAS", "Title")
        + p("Nomor: ST-112/LNR/V/2020", "Center")
        + p("Direktur Operasional PT Logistik Nusantara Raya menugaskan:", "Gap")
        + _person_block(
            [("Nama", "Budi Santoso"), ("NIK", "3174051205900003"), ("Jabatan", "Supervisor")]
        )
        + p(
            "untuk mengawal pengiriman bahan pangan ke gudang Semarang pada tanggal "
            "25 sampai 29 Mei 2020. Surat tugas ini dibuat untuk dipergunakan sebagai "
            "lampiran permohonan SIKM.",
            "Gap",
        )
        + p("Jakarta, 19 Mei 2020", "Gap")
        + p("Rudy Hartono, Direktur Operasional")
    )
    return fodt(body)


def guarantee_letter() -> str:
    body = (
        p("PT SEHAT SENTOSA", "Center")
        + p("SURAT JAMINAN", "Title")
        + p("Yang bertanda tangan di bawah ini:", "Gap")
        + _person_block(
            [
                ("Nama", "Maria Kusuma"),
                ("NIK", "3174010101800001"),
                ("Jabatan", "Manajer SDM PT Sehat Sentosa"),
            ]
        )
        + p(
            "menjamin bahwa Sari Wulandari (NIK 3273015203900002) bekerja sebagai perawat "
            "di Jakarta Selatan. Bersama ini kami lampirkan surat pernyataan sehat yang "
            "bersangkutan dan surat pengantar dari kelurahan asal.",
            "Gap",
        )
        + p("Jakarta, 19 Mei 2020", "Gap")
        + p("Maria Kusuma")
    )
    return fodt(body)


def death_letter() -> str:
    body = (
        p("PEMERINTAH KOTA SURABAYA", "Center")
        + p("KELURAHAN GUBENG", "Center")
        + p("SURAT KETERANGAN KEMATIAN", "Title")
        + p("Nomor: 474.3/112/2020", "Center")
        + p(
            "Berdasarkan surat pengantar Ketua RT 002 RW 004 Nomor 14/2020, Lurah Gubeng "
            "menerangkan bahwa:",
            "Gap",
        )
        + _person_block(
            [("Nama", "Sugeng Pratama"), ("Umur", "72 tahun"), ("Alamat", "Jl. Gubeng 5")]
        )
        + p("telah meninggal dunia pada tanggal 19 Mei 2020 di Surabaya.", "Gap")
        + p("Surabaya, 19 Mei 2020", "Gap")
        + p("Lurah Gubeng")
    )
    return fodt(body)


# ---------------------------------------------------------------- building


def soffice(src: Path, fmt: str, outdir: Path) -> Path:
    subprocess.run(
        ["soffice", "--headless", "--convert-to", fmt, "--outdir", str(outdir), str(src)],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return outdir / (src.stem + "." + fmt)


def fdf(values: dict[str, str]) -> bytes:
    """An FDF file for pdftk fill_form (UTF-16 strings, so any text is fine)."""

    def pdfstr(s: str) -> str:
        return "<FEFF" + s.encode("utf-16-be").hex().upper() + ">"

    fields = "".join(f"<< /T ({k}) /V {pdfstr(v)} >>\n" for k, v in values.items())
    return (
        b"%FDF-1.2\n1 0 obj\n<< /FDF << /Fields [\n"
        + fields.encode()
        + b"] >> >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )


def main() -> None:
    writer_docs = {
        "formulir-paragraf": form_paragraphs(),
        "formulir-tabel": form_table(),
        "formulir-tab": form_tabs(),
        "formulir-tebal": form_bold_next_line(),
        "surat-pernyataan": statement(),
        "surat-pengantar-rtrw": rtrw_letter(),
        "surat-tugas": work_letter(),
        "surat-jaminan": guarantee_letter(),
        "surat-keterangan-kematian": death_letter(),
    }
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for stem, xml in writer_docs.items():
            src = tmp / f"{stem}.fodt"
            src.write_text(xml, encoding="utf-8")
            shutil.copy(soffice(src, "pdf", tmp), HERE / f"{stem}.pdf")
        shutil.copy(soffice(tmp / "formulir-tabel.fodt", "docx", tmp), HERE / "formulir-tabel.docx")
        shutil.copy(soffice(tmp / "formulir-tabel.fodt", "odt", tmp), HERE / "formulir-tabel.odt")

        # Our fillable form, filled by pdftk (it writes appearance streams itself) ...
        data = tmp / "budi.fdf"
        data.write_bytes(fdf(dict(BUDI_KEYS)))
        out = HERE / "formulir-pdftk.pdf"
        subprocess.run(
            ["pdftk", str(BLANK_FORM), "fill_form", str(data), "output", str(out)], check=True
        )
        # ... and flattened by pdftk (values become page text, no fields left).
        out = HERE / "formulir-pdftk-flat.pdf"
        subprocess.run(
            ["pdftk", str(BLANK_FORM), "fill_form", str(data), "output", str(out), "flatten"],
            check=True,
        )
        # The pdftk-filled form opened in LibreOffice Draw and exported again: Draw
        # imports the widgets' appearances as text boxes and drops the fields.
        subprocess.run(
            [
                "soffice", "--headless", "--infilter=draw_pdf_import",
                "--convert-to", "pdf:draw_pdf_Export", "--outdir", str(tmp / "draw"),
                str(HERE / "formulir-pdftk.pdf"),
            ],
            check=True, capture_output=True, timeout=180,
        )  # fmt: skip
        shutil.copy(tmp / "draw" / "formulir-pdftk.pdf", HERE / "formulir-draw.pdf")
        # /V written straight into the field dictionaries, no appearance streams,
        # NeedAppearances set (what small scripts and some mobile apps do).
        _pikepdf_fill(HERE / "formulir-tanpa-tampilan.pdf")
        # A "scan": the flattened form rendered to a grey JPEG page, wrapped in a PDF.
        subprocess.run(
            [
                "pdftoppm", "-r", "70", "-gray", "-jpeg", "-jpegopt", "quality=60", "-singlefile",
                str(HERE / "formulir-pdftk-flat.pdf"), str(tmp / "scan"),
            ],
            check=True,
        )  # fmt: skip
        subprocess.run(
            ["img2pdf", str(tmp / "scan.jpg"), "-o", str(HERE / "formulir-scan.pdf")], check=True
        )


BUDI_KEYS = [
    ("nama", "Budi Santoso"),
    ("nik", "3174051205900003"),
    ("tempat_lahir", "Jakarta"),
    ("tanggal_lahir", "12-05-1990"),
    ("jenis_kelamin", "L"),
    ("alamat", "Jl. Kenari II No. 14, Jakarta Pusat"),
    ("nomor_hp", "081234567801"),
    ("email", "budi.santoso@example.com"),
    ("pekerjaan", "Karyawan Swasta"),
    ("kategori", "resident_out"),
    ("sektor", "logistik"),
    ("jenis_perjalanan", "Sekali"),
    ("kota_asal", "Jakarta Pusat"),
    ("kota_tujuan", "Semarang"),
    ("tanggal_berangkat", "25-05-2020"),
    ("tanggal_kembali", "29-05-2020"),
    ("keperluan", "Pengiriman logistik ke Semarang"),
]


def _pikepdf_fill(out: Path) -> None:
    import pikepdf

    values = dict(BUDI_KEYS)
    values["nama"] = "Budi Santoso"
    with pikepdf.open(BLANK_FORM) as pdf:
        acro = pdf.Root.AcroForm
        for field in acro.Fields:
            key = str(field.get("/T", ""))
            if key in values:
                field.V = pikepdf.String(values[key])
                if "/AP" in field:
                    del field["/AP"]
        acro.NeedAppearances = True
        pdf.save(out)


if __name__ == "__main__":
    main()
