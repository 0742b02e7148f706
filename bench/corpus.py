"""Realistic application mails for the benchmarks, built with the fixture builders.

Each mail carries a filled fillable form PDF, a signed statement PDF and a KTP scan
as a 100-300 KB JPEG, from an invented person (names from short lists, NIK made
from the birth date and sex, reserved example.* domains), in a mix of the four
categories. Building documents is slow (~0.1 s per person), so a pool of people
is built once and every mail gets its own Message-ID, sender, and unique bytes
in each attachment (a PDF comment after %%EOF, a JPEG COM segment): no two mails
share a file, as in real intake.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bench import _common  # noqa: F401  (puts the checkout on sys.path)
from fixtures import build_fixtures as bf

FIRST = [
    "Agus",
    "Bambang",
    "Dewi",
    "Eka",
    "Fajar",
    "Galih",
    "Hana",
    "Intan",
    "Joko",
    "Kartika",
    "Lina",
    "Made",
    "Nanda",
    "Oki",
    "Putu",
    "Rahmat",
    "Sri",
    "Taufik",
    "Umi",
    "Wulan",
]
LAST = [
    "Saputra",
    "Wijayanti",
    "Kusuma",
    "Hidayati",
    "Nugraha",
    "Permana",
    "Lestari",
    "Pratiwi",
    "Siregar",
    "Nasution",
    "Tanjung",
    "Halim",
    "Gunadi",
    "Suryani",
    "Rahayu",
    "Firmansyah",
]
AREAS = {
    "resident_out": "3174",
    "urgent": "3171",
    "dki_ktp_outside": "3175",
    "nonresident_in": "3273",
}
CITIES_OUT = ["Surabaya", "Semarang", "Medan", "Padang", "Cirebon", "Solo", "Malang"]
JAKARTA = ["Jakarta Selatan", "Jakarta Timur", "Jakarta Barat", "Jakarta Pusat", "Jakarta Utara"]
CATEGORIES = ["resident_out", "nonresident_in", "dki_ktp_outside", "urgent"]
POOL_SIZE = 40


@dataclass
class Applicant:
    """One invented person's documents (built once, reused with unique bytes)."""

    values: dict[str, str]
    form: bytes
    statement: bytes
    ktp: bytes


def _person(i: int, rng: random.Random) -> dict[str, str]:
    category = CATEGORIES[i % len(CATEGORIES)]
    first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
    female = first in {"Dewi", "Eka", "Hana", "Intan", "Kartika", "Lina", "Sri", "Umi", "Wulan"}
    born = date(1960, 1, 1) + timedelta(days=rng.randrange(0, 40 * 365))
    day = born.day + (40 if female else 0)
    area = f"{AREAS[category]}{rng.randrange(1, 9):02d}"
    nik = f"{area}{day:02d}{born:%m%y}{rng.randrange(1, 999):04d}"
    email = f"{first.lower()}.{last.lower()}{i}@example.com"
    inbound = category in ("nonresident_in", "dki_ktp_outside")
    away = CITIES_OUT[i % len(CITIES_OUT)]
    jkt = JAKARTA[i % len(JAKARTA)]
    depart = date(2020, 5, 22) + timedelta(days=i % 7)
    values = {
        "nama": f"{first} {last}",
        "nik": nik,
        "tempat_lahir": away if inbound else "Jakarta",
        "tanggal_lahir": f"{born:%d-%m-%Y}",
        "jenis_kelamin": "P" if female else "L",
        "alamat": f"Jl. Melati No. {i % 90 + 1}, {away if inbound else jkt}",
        "nomor_hp": f"0812{rng.randrange(10**7, 10**8)}",
        "email": email,
        "pekerjaan": "Karyawan Swasta",
        "kategori": category,
        "jenis_perjalanan": "Sekali",
        "kota_asal": away if inbound else jkt,
        "kota_tujuan": jkt if inbound else away,
        "tanggal_berangkat": f"{depart:%d-%m-%Y}",
        "tanggal_kembali": f"{depart + timedelta(days=10):%d-%m-%Y}",
        "keperluan": {
            "resident_out": "Tugas kantor di cabang perusahaan",
            "nonresident_in": "Bekerja sebagai perawat di rumah sakit Jakarta",
            "dki_ktp_outside": "Mengurus dokumen rumah di Jakarta",
            "urgent": "Orang tua dirawat di rumah sakit",
        }[category],
    }
    if category in ("resident_out", "nonresident_in"):
        values["sektor"] = "kesehatan" if category == "nonresident_in" else "logistik"
    if category == "nonresident_in":
        values.update(
            penjamin_nama="Hadi Kusuma",
            penjamin_nik="3174011010750003",
            penjamin_email=f"hrd{i}@rs.example.org",
            penjamin_hp="081399887766",
            penjamin_hubungan="Perusahaan",
        )
    return values


def build_pool(size: int = POOL_SIZE, seed: int = 2020) -> list[Applicant]:
    """``size`` invented applicants with their three documents."""
    rng = random.Random(seed)
    pool = []
    for i in range(size):
        values = _person(i, rng)
        person = {k: (v, v) for k, v in values.items()}
        person["kota_ktp"] = ("JAKARTA", "JAKARTA")
        # Grain and quality spread the scans over ~100-300 KB, like phone photos.
        grain = 0.07 + 0.07 * (i % 5) / 4
        quality = 82 + (i % 4) * 4
        ktp = bf.jpeg(bf.ktp_image(person, f"ktp{i}", grain=grain), quality)
        pool.append(
            Applicant(
                values=values,
                form=bf.filled_form_pdf(values, f"form{i}"),
                statement=bf.statement_pdf(
                    values["nama"].upper(), values["nik"], "Jakarta, 19 Mei 2020", f"sig{i}"
                ),
                ktp=ktp,
            )
        )
    return pool


def _unique_pdf(data: bytes, tag: str) -> bytes:
    return data + f"\n% {tag}\n".encode()


def _unique_jpeg(data: bytes, tag: str) -> bytes:
    comment = tag.encode()
    return data[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + data[2:]


def application_mail(i: int, pool: list[Applicant], run: str = "bench") -> bytes:
    """Mail number ``i``: a pooled applicant's documents, made unique to this mail."""
    person = pool[i % len(pool)]
    v = person.values
    tag = f"{run}-{i}"
    first = v["nama"].split()[0]
    sender = f"{v['nama']} <{v['email'].replace('@', f'+{i}@')}>"
    atts = [
        bf.pdf(f"Formulir SIKM {first}.pdf", _unique_pdf(person.form, tag), "form"),
        bf.pdf("surat pernyataan.pdf", _unique_pdf(person.statement, tag), "statement"),
        bf.image(f"KTP {first}.jpg", _unique_jpeg(person.ktp, tag), "ktp"),
    ]
    sent = datetime(2020, 5, 19, 8, 0, tzinfo=bf.WIB) + timedelta(seconds=37 * i)
    msg = bf.build_message(
        tag,
        sender,
        f"Permohonan SIKM a.n. {v['nama']}",
        sent,
        text=bf.GREETING.format(name=first),
        attachments=atts,
        headers=bf.THUNDERBIRD,
    )
    return bf.serialise(msg, tag, atts)


def build_mails(n: int, run: str = "bench", pool: list[Applicant] | None = None) -> list[bytes]:
    """``n`` application mails."""
    pool = pool or build_pool(min(POOL_SIZE, max(1, n)))
    return [application_mail(i, pool, run) for i in range(n)]
