"""The service's vocabulary: form fields, categories, document kinds, states.

Everything here is plain data shared by extraction, assessment, replies and the
officer desk, so that a code means the same thing everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class FormField(StrEnum):
    """Keys of the application form (AcroForm field names = these values)."""

    nama = "nama"
    nik = "nik"
    tempat_lahir = "tempat_lahir"
    tanggal_lahir = "tanggal_lahir"
    jenis_kelamin = "jenis_kelamin"
    alamat = "alamat"
    nomor_hp = "nomor_hp"
    email = "email"
    pekerjaan = "pekerjaan"
    kategori = "kategori"
    sektor = "sektor"
    jenis_perjalanan = "jenis_perjalanan"
    kota_asal = "kota_asal"
    kota_tujuan = "kota_tujuan"
    tanggal_berangkat = "tanggal_berangkat"
    tanggal_kembali = "tanggal_kembali"
    berlaku_sampai = "berlaku_sampai"
    keperluan = "keperluan"
    penjamin_nama = "penjamin_nama"
    penjamin_nik = "penjamin_nik"
    penjamin_email = "penjamin_email"
    penjamin_hp = "penjamin_hp"
    penjamin_hubungan = "penjamin_hubungan"


# The printed label of each field, as on the form (DOMAIN.md). Order = form order.
FORM_LABELS: dict[str, str] = {
    "nama": "Nama Lengkap",
    "nik": "NIK",
    "tempat_lahir": "Tempat Lahir",
    "tanggal_lahir": "Tanggal Lahir",
    "jenis_kelamin": "Jenis Kelamin",
    "alamat": "Alamat",
    "nomor_hp": "Nomor HP",
    "email": "Email",
    "pekerjaan": "Pekerjaan",
    "kategori": "Kategori Pemohon",
    "sektor": "Sektor",
    "jenis_perjalanan": "Jenis Perjalanan",
    "kota_asal": "Kota Asal",
    "kota_tujuan": "Kota Tujuan",
    "tanggal_berangkat": "Tanggal Berangkat",
    "tanggal_kembali": "Tanggal Kembali",
    "berlaku_sampai": "Berlaku Sampai",
    "keperluan": "Keperluan",
    "penjamin_nama": "Nama Penjamin",
    "penjamin_nik": "NIK Penjamin",
    "penjamin_email": "Email Penjamin",
    "penjamin_hp": "Nomor HP Penjamin",
    "penjamin_hubungan": "Hubungan Penjamin",
}

APPLICANT_KEYS = [k for k in FORM_LABELS if not k.startswith("penjamin_")]
GUARANTOR_KEYS = [k for k in FORM_LABELS if k.startswith("penjamin_")]


class Category(StrEnum):
    """Applicant categories (DOMAIN.md)."""

    resident_out = "resident_out"
    nonresident_in = "nonresident_in"
    dki_ktp_outside = "dki_ktp_outside"
    urgent = "urgent"


CATEGORY_NAMES_ID: dict[str, str] = {
    "resident_out": "Penduduk DKI keluar Jabodetabek",
    "nonresident_in": "Penduduk luar Jabodetabek masuk Jakarta",
    "dki_ktp_outside": "Pemegang KTP DKI berdomisili di luar Jabodetabek",
    "urgent": "Keperluan mendesak",
}
CATEGORY_NAMES_EN: dict[str, str] = {
    "resident_out": "Jakarta resident travelling out of Jabodetabek",
    "nonresident_in": "Resident outside Jabodetabek coming into Jakarta",
    "dki_ktp_outside": "Jakarta KTP holder living outside Jabodetabek",
    "urgent": "Urgent travel (family emergency, patient)",
}


class TripType(StrEnum):
    """Trip types: one return journey, or repeated trips over a period."""

    single = "single"
    multiple = "multiple"


class DocKind(StrEnum):
    """What an attachment is, as an officer would name it."""

    form = "form"  # our Formulir Permohonan SIKM
    statement = "statement"  # Surat Pernyataan (health + truth of data), signed
    ktp = "ktp"  # KTP (or KK) scan
    photo = "photo"  # colour photo of the applicant
    rtrw_letter = "rtrw_letter"  # RT/RW or kelurahan/desa cover letter (surat pengantar)
    guarantee_letter = "guarantee_letter"  # surat jaminan from the guarantor
    work_letter = "work_letter"  # assignment / employment / business / workplace letter
    domicile_letter = "domicile_letter"  # Jakarta domicile letter (emergency, nonresident_in)
    emergency_letter = "emergency_letter"  # proof of the emergency (death, illness, patient)
    passport = "passport"  # a passport: not a KTP (foreign residents)
    kitas = "kitas"  # KITAS/KITAP stay permit: not a KTP
    unknown = "unknown"


DOC_NAMES_ID: dict[str, str] = {
    "form": "Formulir Permohonan SIKM",
    "statement": "Surat Pernyataan (sehat dan kebenaran data) yang ditandatangani",
    "ktp": "Scan/foto KTP (atau KK)",
    "photo": "Pas foto berwarna",
    "rtrw_letter": "Surat pengantar RT/RW atau kelurahan/desa",
    "guarantee_letter": "Surat jaminan dari penjamin di Jakarta",
    "work_letter": "Surat tugas / surat keterangan kerja / surat keterangan usaha",
    "domicile_letter": "Surat keterangan domisili Jakarta",
    "emergency_letter": "Surat keterangan keadaan darurat (kematian, sakit keras, rujukan)",
    "passport": "Paspor (bukan KTP)",
    "kitas": "KITAS/KITAP (izin tinggal, bukan KTP)",
    "unknown": "Dokumen tidak dikenal",
}
DOC_NAMES_EN: dict[str, str] = {
    "form": "SIKM application form",
    "statement": "Signed statement letter (health and truth of data)",
    "ktp": "KTP (identity card) or KK scan",
    "photo": "Colour photo",
    "rtrw_letter": "Cover letter from RT/RW or kelurahan/desa",
    "guarantee_letter": "Guarantee letter from a guarantor in Jakarta",
    "work_letter": "Assignment, employment or business letter",
    "domicile_letter": "Jakarta domicile letter",
    "emergency_letter": "Letter proving the emergency (death, serious illness, referral)",
    "passport": "Passport (not a KTP)",
    "kitas": "KITAS/KITAP stay permit (not a KTP)",
    "unknown": "Unrecognised document",
}


class Status(StrEnum):
    """Application lifecycle (DOMAIN.md), our states with the office's words."""

    received = "received"
    incomplete = "incomplete"
    under_review = "under_review"
    awaiting_guarantor = "awaiting_guarantor"
    issued = "issued"
    rejected = "rejected"
    cancelled = "cancelled"


STATUS_NAMES_ID: dict[str, str] = {
    "received": "diterima",
    "incomplete": "menunggu kelengkapan berkas",
    "under_review": "penelitian administrasi dan teknis",
    "awaiting_guarantor": "menunggu validasi penjamin",
    "issued": "disetujui, diterbitkan",
    "rejected": "ditolak",
    "cancelled": "dibatalkan",
}

OPEN_STATUSES = frozenset(
    {Status.received, Status.incomplete, Status.under_review, Status.awaiting_guarantor}
)


@dataclass
class Problem:
    """One thing wrong with an application, in both languages."""

    field: str  # a FormField key, a DocKind, or "" for the whole application
    code: str  # stable machine code, e.g. "nik_sex_mismatch"
    message_id: str  # Bahasa Indonesia
    message_en: str

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {
            "field": self.field,
            "code": self.code,
            "message_id": self.message_id,
            "message_en": self.message_en,
        }


@dataclass
class Assessment:
    """The verdict on an application: complete, or what is missing and wrong."""

    complete: bool
    missing: list[str] = field(default_factory=list)  # DocKind values
    problems: list[Problem] = field(default_factory=list)
