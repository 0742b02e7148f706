"""Documents from office software and mail from real client families, read end to end.

The files under tests/data/office/ were made with LibreOffice, pdftk, pikepdf,
pdftoppm and img2pdf; those under tests/data/clients/ copy the MIME habits of
Thunderbird, Outlook, Gmail, Apple Mail and phone clients (see the READMEs).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from sikm_mailbot.domain.normalize import normalize_fields
from sikm_mailbot.mail.extract import Limits, ReadMessage, Sandbox, read_message
from sikm_mailbot.mail.extract.body import unflow
from sikm_mailbot.mail.extract.doc_kinds import kind_from_text
from sikm_mailbot.mail.extract.fields import parse_fields
from tests.desk_helpers import make_site
from tests.mailgen import simple_mail

DATA = Path(__file__).resolve().parent / "data"
OFFICE = DATA / "office"
CLIENTS = DATA / "clients"
BLANK_FORM = Path(__file__).resolve().parents[1] / "templates/forms/formulir-permohonan-sikm.pdf"

_SANDBOX: Sandbox | None = None


@pytest.fixture(scope="module", autouse=True)
def _sandbox():
    global _SANDBOX
    with Sandbox(Limits()) as box:
        _SANDBOX = box
        yield box
    _SANDBOX = None
    _read_office.cache_clear()
    _read_client.cache_clear()


@cache
def _read_office(name: str) -> ReadMessage:
    raw = simple_mail(
        body="Terlampir.",
        attachments=[(name, "application/octet-stream", (OFFICE / name).read_bytes())],
    )
    return read_message(raw, sandbox=_SANDBOX)


@cache
def _read_client(name: str) -> ReadMessage:
    return read_message((CLIENTS / f"{name}.eml").read_bytes(), sandbox=_SANDBOX)


def _norm(fields: dict[str, str], sender: str = "") -> dict[str, str]:
    return normalize_fields(fields, sender)[0]


# ---------------------------------------------------------------- the people

BUDI_TYPED = {
    "nama": "BUDI SANTOSO",
    "nik": "3174051205900003",
    "tempat_lahir": "JAKARTA",
    "tanggal_lahir": "1990-05-12",
    "jenis_kelamin": "L",
    "alamat": "Jl. Kenari II No. 14, RT 005/RW 003, Kel. Kenari, Jakarta Pusat",
    "nomor_hp": "+6281234567801",
    "email": "budi.santoso@example.com",
    "pekerjaan": "Karyawan Swasta",
    "kategori": "resident_out",
    "sektor": "logistik",
    "jenis_perjalanan": "single",
    "kota_asal": "JAKARTA PUSAT",
    "kota_tujuan": "SEMARANG",
    "tanggal_berangkat": "2020-05-25",
    "tanggal_kembali": "2020-05-29",
    "keperluan": "Pengiriman logistik bahan pangan ke gudang Semarang",
}
BUDI_FILLED = {  # our fillable form, filled by other tools
    **BUDI_TYPED,
    "alamat": "Jl. Kenari II No. 14, Jakarta Pusat",
    "keperluan": "Pengiriman logistik ke Semarang",
}
SARI = {
    "nama": "SARI WULANDARI",
    "nik": "3273015203900002",
    "tempat_lahir": "BANDUNG",
    "tanggal_lahir": "1990-03-12",
    "jenis_kelamin": "P",
    "alamat": "Jl. Dago Atas No. 8, Coblong, Bandung",
    "nomor_hp": "+6281322220102",
    "email": "sari.wulandari@example.net",
    "pekerjaan": "Perawat",
    "kategori": "nonresident_in",
    "sektor": "kesehatan",
    "jenis_perjalanan": "multiple",
    "kota_asal": "BANDUNG",
    "kota_tujuan": "JAKARTA SELATAN",
    "tanggal_berangkat": "2020-05-22",
    "berlaku_sampai": "2020-06-30",
    "keperluan": "Bertugas sebagai perawat di RS Fatmawati",
    "penjamin_nama": "PT SEHAT SENTOSA",
    "penjamin_nik": "3174010101800001",
    "penjamin_email": "hrd@sehat-sentosa.example.org",
    "penjamin_hp": "+628119001234",
    "penjamin_hubungan": "perusahaan",
}
ANDI = {
    "nama": "ANDI PRATAMA",
    "nik": "3175020709850004",
    "tempat_lahir": "SURABAYA",
    "tanggal_lahir": "1985-09-07",
    "jenis_kelamin": "L",
    "alamat": "Jl. Pemuda No. 21, Rawamangun, Jakarta Timur",
    "nomor_hp": "+6285711112222",
    "email": "andi.pratama@example.org",
    "pekerjaan": "Wiraswasta",
    "kategori": "urgent",  # "Keperluan mendesak": a value that starts with a label word
    "jenis_perjalanan": "single",
    "kota_asal": "JAKARTA TIMUR",
    "kota_tujuan": "SURABAYA",
    "tanggal_berangkat": "2020-05-21",
    "tanggal_kembali": "2020-05-27",
    "keperluan": "Ayah meninggal dunia, menghadiri pemakaman",
}
DEWI = {
    "nama": "DEWI LESTARI",
    "nik": "3171046511880005",
    "tempat_lahir": "JAKARTA",
    "tanggal_lahir": "1988-11-25",
    "jenis_kelamin": "P",
    "alamat": "Perum Griya Asri Blok C2 No. 5, Karawang",
    "nomor_hp": "+6287855550303",
    "email": "dewi.lestari@example.com",
    "pekerjaan": "Guru",
    "kategori": "dki_ktp_outside",
    "jenis_perjalanan": "multiple",
    "kota_asal": "KARAWANG",
    "kota_tujuan": "JAKARTA BARAT",
    "tanggal_berangkat": "2020-05-20",
    "berlaku_sampai": "2020-06-15",
    "keperluan": "Mengajar di sekolah swasta di Jakarta Barat",
}

# ---------------------------------------------------------------- office documents


@pytest.mark.parametrize(
    ("name", "source", "expected"),
    [
        ("formulir-paragraf.pdf", "page_text", BUDI_TYPED),  # "Label : value" paragraphs
        ("formulir-tabel.pdf", "page_text", SARI),  # 2-column Writer table
        ("formulir-tab.pdf", "page_text", ANDI),  # tab stop, no colon
        ("formulir-tebal.pdf", "page_text", DEWI),  # bold label, value on the next line
        ("formulir-pdftk.pdf", "acroform", BUDI_FILLED),  # pdftk fill_form
        ("formulir-tanpa-tampilan.pdf", "acroform", BUDI_FILLED),  # /V only, no /AP
        ("formulir-pdftk-flat.pdf", "page_text", BUDI_FILLED),  # values drawn after labels
        ("formulir-draw.pdf", "page_text", BUDI_FILLED),  # re-saved by LibreOffice Draw
    ],
)
def test_form_documents_are_read_completely(name: str, source: str, expected: dict) -> None:
    att = _read_office(name).attachments[0]
    assert (att.kind, att.problem, att.field_source) == ("form", None, source), att.reason
    assert _norm(att.fields) == expected


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("surat-pernyataan.pdf", "statement"),  # mentions "Formulir Permohonan SIKM"
        ("surat-pengantar-rtrw.pdf", "rtrw_letter"),
        ("surat-tugas.pdf", "work_letter"),
        ("surat-jaminan.pdf", "guarantee_letter"),  # encloses "surat pernyataan"
        ("surat-keterangan-kematian.pdf", "emergency_letter"),  # "berdasarkan surat pengantar"
    ],
)
def test_letters_are_classified_by_their_title(name: str, kind: str) -> None:
    att = _read_office(name).attachments[0]
    assert (att.kind, att.problem, att.reason) == (kind, None, "recognised by its text")
    assert att.fields == {} and att.field_source == ""  # a letter's "NIK :" is not the form


def test_kind_from_text_first_cue_in_the_text_wins() -> None:
    assert kind_from_text("SURAT JAMINAN ... terlampir surat pernyataan") == "guarantee_letter"
    assert kind_from_text("surat pengantar RT untuk surat keterangan domisili") == "rtrw_letter"
    assert kind_from_text("Surat Keterangan Kematian berdasarkan surat pengantar") == (
        "emergency_letter"
    )
    assert kind_from_text("no cue here") is None


@pytest.mark.parametrize(
    ("name", "words"),
    [("formulir-tabel.docx", "Word document"), ("formulir-tabel.odt", "OpenDocument text")],
)
def test_word_files_are_read_completely(name: str, words: str) -> None:
    # Issue 13: .docx/.odt were refused; now their table is read like the PDF export.
    att = _read_office(name).attachments[0]
    assert (att.kind, att.problem, att.field_source) == ("form", None, "page_text"), att.reason
    assert att.reason == f"{words} with form fields"
    assert _norm(att.fields) == SARI


def test_scanned_form_without_text_layer_is_read_by_ocr() -> None:
    # Issue 13: the scan (70 dpi, JPEG q60, no text layer) is read by OCR, whatever its name.
    att = _read_office("formulir-scan.pdf").attachments[0]
    raw = simple_mail(
        attachments=[
            ("doc_0001.pdf", "application/pdf", (OFFICE / "formulir-scan.pdf").read_bytes())
        ]
    )
    other = read_message(raw, sandbox=_SANDBOX).attachments[0]
    for got in (att, other):
        assert (got.kind, got.problem, got.pages, got.field_source) == ("form", None, 1, "ocr")
        assert got.reason.startswith("recognised by its text; page 1 OCR: "), got.reason
        assert got.ocr_confidence is not None and got.ocr_confidence > 60
        assert _norm(got.fields)["nik"] == BUDI_FILLED["nik"]


def test_blank_form_page_text_yields_no_values() -> None:
    att = read_message(
        simple_mail(attachments=[("f.pdf", "application/pdf", BLANK_FORM.read_bytes())]),
        sandbox=_SANDBOX,
    ).attachments[0]
    assert att.kind == "form" and att.fields == {}


# ---------------------------------------------------------------- next-line labels


def test_label_then_value_layout() -> None:
    text = "Nama Lengkap\nM. Yusuf\nKategori Pemohon\nKeperluan mendesak\nSektor\nKota Asal\nBogor"
    assert parse_fields(text) == {
        "nama": "M. Yusuf",
        "kategori": "Keperluan mendesak",
        "kota_asal": "Bogor",
    }


def test_label_then_value_with_blank_lines_between_cells() -> None:
    # Outlook's text/plain rendering of a Word table: each cell a paragraph.
    text = "Yth. Petugas,\n\nNama Lengkap\n\nSari Wulandari\n\nNIK\n\n3273015203900002\n\nSalam"
    assert parse_fields(text) == {"nama": "Sari Wulandari", "nik": "3273015203900002"}


def test_label_then_value_is_not_guessed_from_headings_or_a_single_pair() -> None:
    blank = "Nama Lengkap\nNIK\nPekerjaan\nB. Perjalanan / Trip\nKeperluan\nC. Penjamin\n"
    assert parse_fields(blank) == {}
    assert parse_fields("Alamat:\nJl. Mawar 3\nNomor HP: 0812 3456 7890") == {
        "nomor_hp": "0812 3456 7890"
    }
    # A value on the label's own line beats a value below another copy of the label.
    text = "Nama Lengkap\nSiti\nNIK\n3174055203900002\nNama Lengkap: Siti Aminah"
    assert parse_fields(text)["nama"] == "Siti Aminah"


def test_no_break_spaces_around_the_colon() -> None:
    text = "Nomor HP\u00a0: 0812\u00a03456\u00a07890\nNama\u202fLengkap\u00a0:\u00a0Budi"
    assert parse_fields(text) == {"nomor_hp": "0812 3456 7890", "nama": "Budi"}


def test_unflow_rejoins_soft_breaks_only() -> None:
    text = "Alamat: Jl. Kenari II No. 14, \nJakarta Pusat\n> quoted \n> more\n-- \nBudi"
    assert unflow(text) == "Alamat: Jl. Kenari II No. 14, Jakarta Pusat\n> quoted more\n-- \nBudi"
    assert unflow("abc \ndef", delsp=True) == "abcdef"


# ---------------------------------------------------------------- mail clients


def _kinds(msg: ReadMessage) -> list[tuple[str, str, str | None]]:
    return [(a.filename, a.kind, a.problem) for a in msg.attachments]


def test_thunderbird_format_flowed_and_rfc2231_names() -> None:
    msg = _read_client("thunderbird_flowed_rfc2231")
    assert msg.body_fields["alamat"] == (
        "Jl. Kenari II No. 14, RT 005/RW 003, Kelurahan Kenari, Kecamatan Senen, Jakarta Pusat"
    )
    assert "email" not in msg.body_fields  # the "-- " signature's Email: line
    assert _kinds(msg) == [
        ("formulir-pdftk.pdf", "form", None),
        ("Surat Pengantar RT RW – Budi Santoso (Kenari).pdf", "rtrw_letter", None),
    ]
    assert _norm(msg.fields, msg.from_addr) == BUDI_FILLED


def test_outlook_tnef_is_refused_docx_read_and_nbsp_body_read() -> None:
    msg = _read_client("outlook_tnef_docx")
    assert _norm(msg.body_fields) == {
        "nama": "SARI WULANDARI",
        "nik": "3273015203900002",
        "nomor_hp": "+6281322220102",
        "kota_asal": "BANDUNG",
        "kota_tujuan": "JAKARTA SELATAN – KEBAYORAN BARU",
    }  # the quoted "From: … Sent: …" block's placeholders are not read
    assert _kinds(msg) == [
        ("winmail.dat", "unknown", "unsupported_format"),
        ("Formulir SIKM – Sari.docx", "form", None),  # issue 13: read, no longer refused
    ]
    assert "winmail.dat (TNEF)" in msg.attachments[0].reason
    assert _norm(msg.attachments[1].fields) == SARI


def test_gmail_inline_forward_in_indonesian() -> None:
    msg = _read_client("gmail_inline_forward")
    assert msg.forwarded and msg.forwarded_from == "andi.pratama@example.org"
    assert _norm(msg.body_fields) == {
        "nama": "ANDI PRATAMA",
        "nik": "3175020709850004",
        "tanggal_lahir": "1985-09-07",
        "jenis_kelamin": "L",
        "nomor_hp": "+6285711112222",
        "kategori": "urgent",
        "kota_asal": "JAKARTA TIMUR",
        "kota_tujuan": "SURABAYA",
    }
    assert _kinds(msg) == [("surat-keterangan-kematian.pdf", "emergency_letter", None)]


def test_gmail_reply_quoted_text_is_not_read() -> None:
    msg = _read_client("gmail_reply_indonesian")
    assert msg.body_fields == {"nomor_hp": "0878 5555 0303", "berlaku_sampai": "15-06-2020"}
    assert msg.in_reply_to == "<sikm-2020-000007.1@sikm.example.org>"


def test_apple_mail_text_between_inline_attachments() -> None:
    msg = _read_client("apple_mail_inline_parts")
    assert "dan surat pernyataan" in msg.body_text and "Salam" in msg.body_text
    assert msg.body_fields == {}
    assert _kinds(msg) == [
        ("KTP.jpeg", "ktp", None),
        ("Surat Pernyataan Budi.pdf", "statement", None),
    ]
    assert msg.fields == {}  # the statement's "Nama/NIK/Alamat" are not form fields


def test_android_base64_html_first_and_no_content_disposition() -> None:
    msg = _read_client("android_base64_html_first")
    assert _norm(msg.body_fields) == {
        "nama": "BUDI SANTOSO",
        "nik": "3174051205900003",
        "nomor_hp": "+6281234567801",
        "kota_asal": "JAKARTA PUSAT",
        "kota_tujuan": "SEMARANG",
    }
    assert _kinds(msg) == [
        ("IMG_20200519_123001.jpg", "ktp", None),
        ("IMG_20200519_123045.jpg", "photo", None),
        ("formulir-scan.pdf", "form", None),
    ]


def test_iphone_inline_photo_and_bold_label_form() -> None:
    msg = _read_client("iphone_inline_photo")
    assert _kinds(msg) == [("image0.jpeg", "photo", None), ("formulir-tebal.pdf", "form", None)]
    assert _norm(msg.fields, msg.from_addr) == DEWI
    assert msg.field_sources["alamat"] == "page_text:formulir-tebal.pdf"


def test_outlook_html_only_table_with_paragraphs_in_cells() -> None:
    msg = _read_client("outlook_html_table_only")
    assert _norm(msg.body_fields) == {
        "nama": "SARI WULANDARI",
        "nik": "3273015203900002",
        "tanggal_lahir": "1990-03-12",
        "jenis_kelamin": "P",
        "nomor_hp": "+6281322220102",
        "kategori": "nonresident_in",
        "kota_asal": "BANDUNG",
        "kota_tujuan": "JAKARTA SELATAN",
        "penjamin_nama": "MARIA KUSUMA",
    }


def test_latin1_body_with_cp1252_characters() -> None:
    msg = _read_client("roundcube_latin1_nbsp")
    assert msg.subject == "Permohonan SIKM – Andi"
    assert msg.body_fields["alamat"] == "Jl. Pemuda No. 21 – Rawamangun"
    assert msg.body_fields["keperluan"] == "Menjenguk ayah yang sakit keras «darurat»"
    assert _norm(msg.body_fields)["nomor_hp"] == "+6285711112222"


def test_signature_is_not_the_form() -> None:
    msg = _read_client("signature_not_form")
    assert msg.body_fields == {}
    assert _kinds(msg) == [("formulir.pdf", "form", None)]
    assert msg.field_sources["email"] == "acroform:formulir.pdf"
    assert msg.fields["email"] == "budi.santoso@example.com"


# ---------------------------------------------------------------- through the intake


def test_writer_table_form_through_intake(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    files = ["formulir-tabel.pdf", "surat-pernyataan.pdf", "surat-jaminan.pdf"]
    site.deliver(
        simple_mail(
            sender="sari.wulandari@example.net",
            body="Terlampir formulir dan surat-surat.",
            attachments=[(f, "application/pdf", (OFFICE / f).read_bytes()) for f in files],
        )
    )
    site.sikm("poll")
    (row,) = site.sikm("list", "--json")
    shown = site.show(row["id"])
    assert (shown["category"], shown["trip_type"]) == ("nonresident_in", "multiple")
    applicant = {k: v for k, v in shown["applicant"].items() if v}
    assert applicant == {k: v for k, v in SARI.items() if not k.startswith("penjamin_")}
    assert shown["guarantor"] == {k: v for k, v in SARI.items() if k.startswith("penjamin_")}
    kinds = sorted((a["filename"], a["kind"]) for a in shown["attachments"])
    assert kinds == [
        ("formulir-tabel.pdf", "form"),
        ("surat-jaminan.pdf", "guarantee_letter"),
        ("surat-pernyataan.pdf", "statement"),
    ]
    assert sorted(shown["missing"]) == ["ktp", "photo", "rtrw_letter", "work_letter"]
