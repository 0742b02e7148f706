"""Classifying documents by what they say and look like (issue 13, item 2).

Texts are written as OCR returns them from phone photos and copy-shop scans:
mixed case, missing colons, O/0 and I/1/l confusions, words split or glued.
People are invented.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from sikm_mailbot.domain.vocabulary import DOC_NAMES_EN, DOC_NAMES_ID, DocKind
from sikm_mailbot.mail.extract.doc_cues import (
    MIN_SCORE,
    PROFILES,
    fuzzy,
    has_mrz,
    has_nik,
    is_textless,
    score_text,
)
from sikm_mailbot.mail.extract.doc_kinds import (
    classify,
    classify_content,
    kind_from_name,
    kind_from_text,
    text_verdict,
)
from sikm_mailbot.mail.extract.faces import count_faces, find_faces

# ---------------------------------------------------------------- OCR-like texts

FORM_PHOTO = """PEMERINTAH PR0VINSI DKI JAKARTA - DINAS PENANAMAN MODAL DAN PTSP
F0RMULlR PERM0HONAN SlKM
Surat lzin Keluar Masuk DKI Jakarta / Jakarta Exit-Entry Permit Application
A. Data Pemohon / Applicant
Nama Lengkap  BUDI SANTOSA
NlK 3174O51205900003
Kategori Pemohon resident_out
Jenis Perjalanan  Sekali
Kota Asal JAKARTA PUSAT   Kota Tujuan SEMARANG
Tanggal Berangkat 25-05-2020"""

FORM_NO_TITLE = """nama lengkap  RINA WULANDARI  nik 3201014502910002
kategori pemohon  nonresident_in
jenis perjaianan berulang
kota asal bogor kota tujuan jakarta selatan
tanggal berangkat 01-06-2020 berlaku sampai 30-06-2020
nama penjamin  HADI PRANOTO"""

STATEMENT = """PEMERINTAH PROVINSI DKI JAKARTA - DINAS PENANAMAN MODAL DAN PTSP
SURAT PERNY ATAAN
Yang bertanda tangan di bawah ini
Nama SITI RAHAYUNINGSIH
NIK 3171O14507880002
Dengan ini saya menyatakan dengan sesungguhnya bahwa
1. Saya dalam keadaan sehat, tidak memiliki gejala demam ... pasien COVID-19
2. Seluruh data ... dalam permohonan SIKM ini adalah benar.
Yang membuat pernyataan,   METERAI TEMPEL"""

KTP = """PROVINSI DKI JAKARTA
JAKARTA PUSAT
NIK : 317401520590OO03
Nama : BUDI SANTOSA
Tempat/Tgi Lahir : JAKARTA, 12-05-1990
Jenis keiamin : LAKI-LAKI  Gol. Darah : O
Alamat : JL. KENARI II NO. 5
RT/RW : 005/003
Kel/Desa : KENARI
Kecamatan : SENEN
Agama : ISLAM
Status Perkawinan: KAWIN
Pekerjaan : KARYAWAN SWASTA
Kewarganegaraan: WNI
Berlaku Hingga : SEUMUR HIDUP"""

KTP_WHATSAPP = """PROV1NSI JAWA BARAT  KABUPATEN B0GOR
NIK 32O1234567890001
Nama SITI AMINAH
Tempat Tgl Lahir BOGOR 01-01-1985
Jenis Kelamin PEREMPUAN Gol Darah -
KelDesa CIBINONG  Agama ISLAM
Berlaku Hingga 12-08-2017"""

KK = """KARTU KELUARGA
No. 3174052001090012
Nama Kepala Keluarga : BUDI SANTOSA   Desa/Kelurahan : KENARI
Alamat : JL. KENARI II NO. 5  RT/RW 005/003  Kecamatan SENEN  Kode Pos 10430
No Nama Lengkap NIK Jenis Kelamin Tempat Lahir Tanggal Lahir Agama Pendidikan Jenis Pekerjaan
1 BUDI SANTOSA 3174051205900003 LAKI-LAKI JAKARTA 12-05-1990 ISLAM S1 KARYAWAN
Status Perkawinan Status Hubungan Dalam Keluarga Kewarganegaraan No. Paspor No. KITAS/KITAP
Nama Ayah Nama Ibu
Dikeluarkan Tanggal 20-01-2009  KEPALA DINAS KEPENDUDUKAN DAN PENCATATAN SIPIL"""

PASSPORT_ID = """REPUBLIK INDONESIA
PASPOR/PASSPORT  Tipe/Type P  Kode Negara/Country Code IDN
No. Paspor/Passport No. C1234567
Nama Lengkap/Full Name  DEWI LESTARI
Tgl. Lahir/Date of birth 12 MEI 1990   Tgl. Habis Berlaku/Date of expiry 12 MEI 2025
Kantor yang mengeluarkan/Issuing office JAKARTA PUSAT
P<IDNLESTARI<<DEWI<<<<<<<<<<<<<<<<<<<<<<<<<<<<
C1234567<2IDN9005126F2505127<<<<<<<<<<<<<<06"""

PASSPORT_FOREIGN = """KINGDOM OF NORWAY  PASSPORT / PASSEPORT
Surname / Nom  HANSEN
Given names / Prenoms  ERIK
Nationality  NORWEGIAN   Date of expiry 03 JAN 2027
P<NORHANSEN<<ERIK<<<<<<<<<<<<<<<<<<<<<<<<<<<<"""

KITAS = """KEMENTERIAN HUKUM DAN HAK ASASI MANUSIA
DIREKTORAT JENDERAL IMIGRASI
KARTU IZIN TlNGGAL TERBATAS
LIMITED STAY PERMIT CARD
Nama/Name : ERIK HANSEN
Kewarganegaraan/Nationality : NORWAY
No. Paspor/Passport No : 12345678   Berlaku Hingga/Valid Until : 31-12-2020"""

KITAP_NO_TITLE = """DITJEN IMlGRASI  ITAP
Permanent Stay Permit  Nationality JAPAN  Name YAMADA TARO"""

RT_LETTER = """RUKUN TETANGGA OO5 / RUKUN WARGA OO3
KELURAHAN KENARI - KECAMATAN SENEN
SURAT PENGANTAR
Nomor: 012/RT.005/RW.003/V/2020
Yang bertanda tangan di bawah ini, Ketua RT OO5 / RW OO3 Kelurahan Kenari,
menerangkan bahwa: Nama BUDI SANTOSA No. KTP 3174051205900003
adalah benar warga kami di lingkungan RT 005 / RW 003 dan berkelakuan baik.
Ketua RT 005"""

RT_LETTER_NO_TITLE = """RT.05/RW.03 KELURAHAN CIKINI
yang bertanda tangan ketua rt 05 menerangkan bahwa sdr AGUS SETIAWAN warga kami"""

KELURAHAN_LETTER = """PEMERINTAH PROVINSI DKI JAKARTA
KECAMATAN SENEN  KELURAHAN KENARI
SURAT KETERANGAN
Nomor : 145/1.755/V/2020
Yang bertanda tangan di bawah ini Lurah Kenari Kecamatan Senen, menerangkan bahwa:
Nama : BUDI SANTOSA   NIK : 3174051205900003
Tempat/Tgl. Lahir : Jakarta, 12-05-1990   Jenis Kelamin : Laki-laki
Agama : Islam   Status Perkawinan : Kawin   Pekerjaan : Karyawan Swasta
adalah benar warga kami yang berdomisili di RT 005 RW 003.
Demikian surat keterangan ini dibuat untuk dipergunakan sebagaimana mestinya.
LURAH KENARI"""

DESA_LETTER = """PEMERINTAH KABUPATEN SLEMAN KECAMATAN DEPOK
PEMERINTAH DESA CATURTUNGGAL
SURAT KETERANGAN
Kepala Desa Caturtunggal menerangkan bahwa RATNA SARI adalah benar penduduk kami."""

GUARANTEE = """HADI PRANOTO, Jakarta
SURAT JAMlNAN
Saya yang bertanda tangan di bawah ini: Nama HADI PRANOTO No. KTP 3174011203700001
menjamin RINA WULANDARI (keponakan) selama berada di Jakarta,
terlampir surat pernyataan."""

WORK_ASSIGNMENT = """PT LOGISTIK NUSANTARA RAYA
SURAT TUGAS
Nomor: ST-118/HRD/V/2020
Direksi PT Logistik Nusantara Raya dengan ini menugaskan:
Nama : AGUS SETIAWAN   Jabatan : Kepala Gudang"""

WORK_EMPLOYMENT = """PT BANK CONTOH TBK
SURAT KETERANGAN KERJA
Yang bertanda tangan di bawah ini menerangkan dengan sebenarnya bahwa
Nama : DEWI LESTARI adalah karyawan tetap yang bekerja di Kantor Cabang Bekasi"""

DOMICILE = """PEMERINTAH PROVINSI DKI JAKARTA  KELURAHAN CIPINANG
SURAT KETERANGAN DOMISlLI
Lurah Cipinang menerangkan bahwa: Nama RINA WULANDARI
selama berada di Jakarta bertempat tinggal di Jl. Cipinang Jaya No. 4"""

HOSPITAL = """RSUD TARAKAN JAKARTA
SURAT KETERANGAN RAWAT lNAP
Dokter yang memeriksa menerangkan bahwa pasien: Nama SOEKARNI
dirawat inap sejak 17 Mei 2020, diagnosa: stroke"""

REFERRAL = """RSUD WANGAYA KOTA DENPASAR
SURAT RUJUKAN
mohon penanganan lebih lanjut atas pasien MADE ARIANI, diagnosis kelainan katup jantung"""

DEATH = """PEMERINTAH KOTA MEDAN  KELURAHAN SEI SIKAMBING B
SURAT KETERANGAN KEMATlAN
Nomor: 474.3/118/SSB/V/2020
Lurah Sei Sikambing B menerangkan bahwa: Nama SOEKARJO
telah meninggal dunia pada hari Selasa, 19 Mei 2020,
berdasarkan surat pengantar Ketua RT 002."""

HEALTH_CERTIFICATE = """KLINIK SEHAT BERSAMA
SURAT KETERANGAN SEHAT
Telah diperiksa: BUDI SANTOSA, hasil rapid test non reaktif."""

CASES: list[tuple[str, str, DocKind, str]] = [
    ("form, photographed", FORM_PHOTO, DocKind.form, "form"),
    ("form, title lost", FORM_NO_TITLE, DocKind.form, "form"),
    ("statement", STATEMENT, DocKind.statement, "statement"),
    ("KTP", KTP, DocKind.ktp, "ktp"),
    ("KTP, WhatsApp", KTP_WHATSAPP, DocKind.ktp, "ktp"),
    ("KK", KK, DocKind.ktp, "kk"),
    ("passport, Indonesian", PASSPORT_ID, DocKind.passport, "passport"),
    ("passport, foreign", PASSPORT_FOREIGN, DocKind.passport, "passport"),
    ("KITAS", KITAS, DocKind.kitas, "kitas"),
    ("KITAP, title lost", KITAP_NO_TITLE, DocKind.kitas, "kitas"),
    ("RT/RW letter", RT_LETTER, DocKind.rtrw_letter, "rtrw_letter"),
    ("RT/RW letter, title lost", RT_LETTER_NO_TITLE, DocKind.rtrw_letter, "rtrw_letter"),
    ("kelurahan letter", KELURAHAN_LETTER, DocKind.rtrw_letter, "kelurahan_letter"),
    ("desa letter", DESA_LETTER, DocKind.rtrw_letter, "kelurahan_letter"),
    ("guarantee letter", GUARANTEE, DocKind.guarantee_letter, "guarantee_letter"),
    ("assignment letter", WORK_ASSIGNMENT, DocKind.work_letter, "work_letter"),
    ("employment letter", WORK_EMPLOYMENT, DocKind.work_letter, "work_letter"),
    ("domicile letter", DOMICILE, DocKind.domicile_letter, "domicile_letter"),
    ("hospital letter", HOSPITAL, DocKind.emergency_letter, "hospital_letter"),
    ("referral", REFERRAL, DocKind.emergency_letter, "hospital_letter"),
    ("death certificate", DEATH, DocKind.emergency_letter, "death_certificate"),
    ("health certificate", HEALTH_CERTIFICATE, DocKind.unknown, "health_certificate"),
]


@pytest.mark.parametrize(("what", "text", "kind", "row"), CASES, ids=[c[0] for c in CASES])
def test_kind_from_ocr_text(what: str, text: str, kind: DocKind, row: str) -> None:
    verdict = text_verdict(text)
    assert verdict is not None, (what, score_text(text)[:3])
    assert (verdict.kind, verdict.label) == (kind, row), (what, score_text(text)[:3])
    assert kind_from_text(text) == (None if kind == DocKind.unknown else kind)
    # Shouting or whispering OCR changes nothing.
    assert text_verdict(text.upper()) == verdict and text_verdict(text.lower()) == verdict


def test_every_kind_a_text_can_show_has_a_row() -> None:
    rows = {p.kind for p in PROFILES}
    assert rows == set(DocKind) - {DocKind.photo}  # a photo is known by its face
    assert len({p.name for p in PROFILES}) == len(PROFILES)
    for kind in DocKind:
        assert DOC_NAMES_ID[kind] and DOC_NAMES_EN[kind]


def test_notes_say_what_the_kind_name_does_not() -> None:
    assert text_verdict(KK).reason == "recognised by its text (family card (KK), taken as the KTP)"
    assert "kelurahan/desa" in text_verdict(KELURAHAN_LETTER).reason
    assert text_verdict(RT_LETTER).reason == "recognised by its text"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Surat keterangan",
        "no cue here",
        "Undangan rapat warga hari Minggu di balai, harap hadir tepat waktu.",
        "NIK 3174051205900003",  # a number alone is no KTP
        "f ec’ ~~ |",
    ],
)
def test_too_little_says_nothing(text: str) -> None:
    assert text_verdict(text) is None and kind_from_text(text) is None


def test_titles_beat_what_the_body_mentions() -> None:
    assert kind_from_text("SURAT JAMINAN ... terlampir surat pernyataan") == "guarantee_letter"
    assert kind_from_text("surat pengantar RT untuk surat keterangan domisili") == "rtrw_letter"
    assert kind_from_text("Surat Keterangan Kematian berdasarkan surat pengantar") == (
        "emergency_letter"
    )
    # a longer title at the same place wins: not a kelurahan letter
    assert kind_from_text("SURAT KETERANGAN KERJA Lurah menerangkan bahwa") == "work_letter"


def test_ties_broken_by_file_name_then_shape() -> None:
    tie = "Gol. Darah Berlaku Hingga menugaskan karyawan pegawai"  # ktp 6, work letter 6
    scores = {s.profile.name: s.points for s in score_text(tie)}
    assert scores["ktp"] == scores["work_letter"] >= MIN_SCORE
    assert text_verdict(tie, filename="surat_tugas.jpg").kind == DocKind.work_letter
    assert text_verdict(tie, filename="ktp.jpg", width=400, height=600).kind == DocKind.ktp
    assert text_verdict(tie, filename="IMG_1.jpg", width=856, height=540).kind == DocKind.ktp
    assert text_verdict(tie, filename="IMG_1.jpg", width=600, height=800).kind == (
        DocKind.work_letter
    )


def test_name_or_card_shape_completes_a_near_miss_but_never_outweighs_text() -> None:
    small_card = "PROVINSI DKI JAKARTA NIK: 3174051205900003 Nama: BUDI SANTOSA"
    assert text_verdict(small_card) is None
    assert text_verdict(small_card, width=428, height=270).kind == DocKind.ktp
    assert text_verdict(small_card, filename="ktp_budi.jpg").kind == DocKind.ktp
    assert text_verdict(small_card, filename="IMG_2.jpg", width=300, height=400) is None
    # a statement named ktp.jpg is a statement
    assert classify("jpeg", "ktp.jpg", text=STATEMENT, width=856, height=540)[0] == "statement"


# ---------------------------------------------------------------- images: text, face, name, shape


def test_the_issue_example_a_portrait_letter_is_not_a_photo() -> None:
    kind, why = classify("jpeg", "IMG_4521.JPG", text=RT_LETTER, width=3024, height=4032, faces=0)
    assert (kind, why) == ("rtrw_letter", "image; recognised by its text")
    assert classify("jpeg", "IMG_4521.JPG", text=RT_LETTER, width=3024, height=4032)[0] == (
        "rtrw_letter"
    )


def test_a_ktp_has_a_face_but_its_text_wins() -> None:
    assert (
        classify("jpeg", "IMG-20261201-WA0003.jpg", text=KTP, width=1600, height=1200, faces=1)[0]
        == "ktp"
    )


@pytest.mark.parametrize(
    ("name", "text", "size", "faces", "kind"),
    [
        ("IMG_20261202_071530.jpg", "", (400, 600), 1, "photo"),  # pas foto
        ("IMG_20261202_071530.jpg", "f ec’", (1200, 1600), 1, "photo"),  # OCR noise
        ("selfie.jpg", "", (1600, 1200), 1, "photo"),  # landscape selfie
        ("ktp.jpg", "", (856, 540), 1, "ktp"),  # a card whose text could not be read
        ("IMG_1.jpg", "", (900, 600), 2, "unknown"),  # a family picture
        ("IMG_1.jpg", "", (400, 600), 0, "unknown"),  # nothing read: the officer looks
        ("pasfoto.jpg", "", (400, 600), 0, "photo"),  # the name says so
        ("IMG_1.jpg", "", (60, 40), 0, "unknown"),  # a logo
        ("IMG_1.jpg", "words " * 30, (400, 600), 1, "unknown"),  # unread text: not a photo
        ("surat_tugas.jpg", "words " * 30, (400, 600), 0, "work_letter"),
    ],
)
def test_images_by_face_then_name(
    name: str, text: str, size: tuple[int, int], faces: int, kind: str
) -> None:
    assert classify("jpeg", name, text=text, width=size[0], height=size[1], faces=faces)[0] == kind


def test_without_ocr_or_face_detector_the_old_rules_hold() -> None:
    assert classify("jpeg", "img.jpg", width=856, height=540)[0] == "ktp"
    assert classify("jpeg", "img.jpg", width=400, height=560)[0] == "photo"
    assert classify("jpeg", "pasfoto.jpg", width=856, height=540)[0] == "photo"
    assert classify_content(None, width=400, height=560, faces=None).kind == DocKind.photo


def test_pdfs_keep_their_reasons() -> None:
    assert classify("pdf", "x.pdf", text=STATEMENT) == ("statement", "recognised by its text")
    assert classify("pdf", "ktp.pdf", text="") == (
        "ktp",
        "no text layer (scan?); kind from the file name",
    )
    assert classify("pdf", "x.pdf", text="nothing to see") == (
        "unknown",
        "not recognised by text or file name",
    )


# ---------------------------------------------------------------- OCR noise in the matcher


@pytest.mark.parametrize(
    "seen",
    [
        "surat pernyataan",
        "SURATPERNYATAAN",
        "S URAT PERNY ATAAN",
        "SURAT\n  PERNYATAAN",
        "5URAT PERNYATAAN",
        "SURAT . PERNYATAAN",
        "SURAT PERNYATAAN:",
    ],
)
def test_phrases_survive_ocr_noise(seen: str) -> None:
    assert fuzzy("SURAT PERNYATAAN").search(seen)


def test_phrases_keep_their_word_boundaries() -> None:
    assert fuzzy("NIK").search("NIK: 317") and fuzzy("NIK").search("NlK 317")
    assert not fuzzy("NIK").search("surat nikah")
    assert not fuzzy("LURAH").search("KELURAHAN KENARI")
    assert fuzzy("LURAH").search("Lurah Kenari")
    assert fuzzy("[SURAT] KETERANGAN KEMATIAN").search("keterangan kematian").start() == 0
    assert fuzzy("[SURAT] KETERANGAN KEMATIAN").search("Surat Keterangan Kematian").start() == 0
    assert fuzzy("F0RMULIR PERMOHONAN SIKM").search("F0RMULlR PERM0H0NAN S1KM")


def test_nik_and_mrz_patterns() -> None:
    assert has_nik("NIK : 3174051205900003")
    assert has_nik("3174O5120590OO03")  # O for 0, still 13 real digits
    assert has_nik("3174 0512 0590 0003")
    assert not has_nik("317405120590000")  # 15 digits
    assert not has_nik("31740512059000031")  # 17 digits
    assert not has_nik("OOOOOOOOOOOOOOOO")
    assert has_mrz("P<IDNLESTARI<<DEWI<<<<<<<<") and not has_mrz("PT. MAJU <JAYA>")


def test_textless() -> None:
    assert is_textless("") and is_textless("f ec’ | ~ BUDI SANTOSA")
    assert not is_textless(RT_LETTER)


def test_scoring_is_fast_on_a_long_page() -> None:
    page = (KELURAHAN_LETTER + "\n") * 40  # ~20 KB of OCR text
    start = time.perf_counter()
    score_text(page)
    assert time.perf_counter() - start < 1.0


# ---------------------------------------------------------------- faces


def _sample_face() -> Image.Image:
    """A real frontal face: the portrait matplotlib's wheel ships as sample data."""
    spec = importlib.util.find_spec("matplotlib")
    assert spec is not None and spec.submodule_search_locations, "pip install -e '.[test]'"
    path = Path(spec.submodule_search_locations[0], "mpl-data", "sample_data", "grace_hopper.jpg")
    with Image.open(path) as image:
        return image.convert("RGB")


def _text_page(size: tuple[int, int] = (1240, 1754)) -> Image.Image:
    page = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=28)
    for i in range(40):
        line = "SURAT PENGANTAR Nomor 012/RT.005/RW.003 Ketua RT menerangkan bahwa warga kami"
        draw.text((60, 60 + i * 42), line, fill="black", font=font)
    return page


def test_one_face_in_a_portrait() -> None:
    face = _sample_face()
    assert count_faces(face) == 1
    (x, y, w, h) = find_faces(face)[0]
    assert 0 <= x < face.width and 0 <= y < face.height and w > face.width // 4


def test_faces_on_phone_sized_grey_and_rotated_images() -> None:
    face = _sample_face()
    big = face.resize((3024, 3543))
    start = time.perf_counter()
    assert count_faces(big) == 1
    assert time.perf_counter() - start < 2.0
    assert count_faces(face.convert("L")) == 1
    assert count_faces(face.rotate(8, expand=True, fillcolor="white")) == 1


def test_two_faces_side_by_side() -> None:
    face = _sample_face()
    pair = Image.new("RGB", (face.width * 2 + 60, face.height + 40), "white")
    pair.paste(face, (20, 20))
    pair.paste(face, (face.width + 40, 20))
    assert count_faces(pair) == 2


def test_no_face_in_a_text_page_or_blank_images() -> None:
    assert count_faces(_text_page()) == 0
    assert count_faces(Image.new("RGB", (4000, 3000), (190, 215, 235))) == 0
    assert count_faces(Image.new("RGB", (5, 5))) == 0


@pytest.mark.parametrize("mode", ["1", "P", "RGBA", "I;16", "F", "CMYK", "LA"])
def test_any_image_mode_is_safe(mode: str) -> None:
    image = _sample_face().convert(mode) if mode not in ("I;16", "F") else Image.new(mode, (64, 64))
    assert count_faces(image) in (0, 1)


def test_a_ktp_photo_is_a_ktp_even_with_the_face_found() -> None:
    card = Image.new("RGB", (1712, 1080), (190, 215, 235))
    card.paste(_sample_face().resize((380, 445)), (1260, 230))
    faces = count_faces(card)
    kind, _ = classify("jpeg", "IMG_0001.jpg", text=KTP, width=1712, height=1080, faces=faces)
    assert kind == "ktp"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("paspor_dewi.jpg", DocKind.passport),
        ("passport.pdf", DocKind.passport),
        ("passport_photo.jpg", DocKind.photo),  # English for pas foto
        ("KITAS Erik.jpg", DocKind.kitas),
        ("kartu keluarga.jpg", DocKind.ktp),
        ("surat keterangan kelurahan.jpg", DocKind.rtrw_letter),
        ("surat desa.pdf", DocKind.rtrw_letter),
        ("surat kematian kelurahan.pdf", DocKind.emergency_letter),
        ("ket rawat inap.jpg", DocKind.emergency_letter),
        ("desain.pdf", None),
    ],
)
def test_new_kinds_by_file_name(name: str, kind: DocKind | None) -> None:
    assert kind_from_name(name) == kind
