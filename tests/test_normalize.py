"""Normalising what citizens type: dates, phones, names, codes, the whole form."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sikm_mailbot.domain.codes import (
    category_code,
    is_jakarta,
    relation_code,
    sector_code,
    sex_code,
    trip_type_code,
)
from sikm_mailbot.domain.dates import parse_date
from sikm_mailbot.domain.normalize import (
    normalize_email,
    normalize_fields,
    normalize_name,
    normalize_phone,
)
from sikm_mailbot.domain.vocabulary import FORM_LABELS

# ----------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20-05-2020", date(2020, 5, 20)),
        ("20/05/2020", date(2020, 5, 20)),
        ("20.05.2020", date(2020, 5, 20)),
        ("2020-05-20", date(2020, 5, 20)),
        ("2020-05-20T00:00:00", date(2020, 5, 20)),
        ("1-6-2020", date(2020, 6, 1)),
        (" 20 Mei 2020 ", date(2020, 5, 20)),
        ("20 May 2020", date(2020, 5, 20)),
        ("20 Agustus 2020", date(2020, 8, 20)),
        ("17 Agt 2020", date(2020, 8, 17)),
        ("17-Agu-2020", date(2020, 8, 17)),
        ("1 Okt. 2020", date(2020, 10, 1)),
        ("25 Des 2020", date(2020, 12, 25)),
        ("25 DESEMBER 2020", date(2020, 12, 25)),
        ("3 Nopember 2020", date(2020, 11, 3)),
        ("May 20, 2020", date(2020, 5, 20)),
        ("Rabu, 20 Mei 2020", date(2020, 5, 20)),
        ("12/03/1990", date(1990, 3, 12)),
    ],
)
def test_parse_date_accepts(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "besok",
        "31-02-2020",  # no such day
        "05/20/2020",  # month-first is not guessed
        "20-05-20",  # two-digit year, not allowed by default
        "20 Mai 2020",  # not a month name we know
        "20-05/2020",  # mixed separators
        "20-05-1800",
        "２０-05-2020",  # full-width digits
    ],
)
def test_parse_date_refuses(text):
    assert parse_date(text) is None


def test_two_digit_year_only_when_asked():
    assert parse_date("20-05-20", two_digit_year=True) == date(2020, 5, 20)
    assert parse_date("20-05-20") is None


_MONTH_WORDS = {
    1: ["Januari", "Jan", "January"],
    2: ["Februari", "Feb"],
    3: ["Maret", "Mar", "March"],
    4: ["April", "Apr"],
    5: ["Mei", "May"],
    6: ["Juni", "Jun"],
    7: ["Juli", "Jul", "July"],
    8: ["Agustus", "Agt", "Aug"],
    9: ["September", "Sep", "Sept"],
    10: ["Oktober", "Okt", "Oct"],
    11: ["November", "Nov"],
    12: ["Desember", "Des", "Dec", "December"],
}


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)), st.data())
def test_parse_date_round_trips(day, data):
    month_word = data.draw(st.sampled_from(_MONTH_WORDS[day.month]))
    text = data.draw(
        st.sampled_from(
            [
                f"{day.day:02d}-{day.month:02d}-{day.year}",
                f"{day.day}/{day.month}/{day.year}",
                f"{day.day:02d}.{day.month:02d}.{day.year}",
                day.isoformat(),
                f"{day.day} {month_word} {day.year}",
                f"{day.day} {month_word.upper()} {day.year}",
                f"{month_word} {day.day}, {day.year}",
            ]
        )
    )
    assert parse_date(text) == day


@given(st.text(max_size=30))
def test_parse_date_never_raises(text):
    result = parse_date(text, two_digit_year=True)
    assert result is None or isinstance(result, date)


# ---------------------------------------------------------------------- phones


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("081234567890", "+6281234567890"),
        ("0812-3456-7890", "+6281234567890"),
        ("0812 3456 7890", "+6281234567890"),
        ("(0812) 3456.7890", "+6281234567890"),
        ("+62 812 3456 7890", "+6281234567890"),
        ("+62 (0)812 3456 7890", "+6281234567890"),
        ("6281234567890", "+6281234567890"),
        ("0062 812 3456 7890", "+6281234567890"),
        ("08123456789", "+628123456789"),
        ("0812345678", "+62812345678"),  # shortest: 8 + 8 digits
    ],
)
def test_normalize_phone_accepts(text, expected):
    assert normalize_phone(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0812345",
        "081234567",
        "0812345678901234",
        "021 5551234",
        "+1 212 555 0100",
        "08123abc567",
        "nomor",
    ],
)
def test_normalize_phone_refuses(text):
    assert normalize_phone(text) is None


@given(st.from_regex(r"8[0-9]{8,11}", fullmatch=True), st.integers(0, 5), st.data())
def test_phone_formats_round_trip(national, style, data):
    spaced = " ".join(national[i : i + 4] for i in range(0, len(national), 4))
    text = [
        "0" + national,
        "+62" + national,
        "62" + national,
        "+62 " + spaced,
        "0" + spaced.replace(" ", "-"),
        "(0" + national[:3] + ") " + national[3:],
    ][style]
    assert normalize_phone(text) == "+62" + national
    assert normalize_phone("+62" + national) == "+62" + national  # idempotent


@given(st.from_regex(r"8[0-9]{0,7}|8[0-9]{12,16}", fullmatch=True))
def test_phone_wrong_length_refused(national):
    assert normalize_phone("0" + national) is None


@given(st.text(max_size=30))
def test_normalize_phone_never_raises(text):
    result = normalize_phone(text)
    assert result is None or result.startswith("+628")


# ---------------------------------------------------------- names, emails, codes


def test_normalize_name():
    assert normalize_name("  budi   santoso\t") == "BUDI SANTOSO"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Budi@Example.COM", "budi@example.com"),
        (" budi.s+sikm@mail.example.org ", "budi.s+sikm@mail.example.org"),
        ("Budi <budi@example.net>", "budi@example.net"),
        ("mailto:budi@example.com", "budi@example.com"),
        ("budi@example", None),
        ("budi example.com", None),
        ("budi@@example.com", None),
        ("budi@exa mple.com", None),
        (".budi@example.com", None),
        ("", None),
    ],
)
def test_normalize_email(text, expected):
    assert normalize_email(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("resident_out", "resident_out"),
        ("Penduduk DKI keluar Jabodetabek", "resident_out"),
        ("resident out", "resident_out"),
        ("Penduduk luar Jabodetabek masuk Jakarta", "nonresident_in"),
        ("luar Jabodetabek masuk", "nonresident_in"),
        ("NONRESIDENT", "nonresident_in"),
        ("Pemegang KTP DKI berdomisili di luar Jabodetabek", "dki_ktp_outside"),
        ("KTP DKI di luar Jabodetabek", "dki_ktp_outside"),
        ("domisili luar", "dki_ktp_outside"),
        ("Keperluan mendesak", "urgent"),
        ("DARURAT", "urgent"),
        ("Urgent", "urgent"),
        ("Jakarta resident travelling out of Jabodetabek", "resident_out"),
        ("Resident outside Jabodetabek coming into Jakarta", "nonresident_in"),
        ("Jakarta KTP holder living outside Jabodetabek", "dki_ktp_outside"),
        ("wisata", None),
        ("", None),
    ],
)
def test_category_code(text, expected):
    assert category_code(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sekali", "single"),
        ("sekali perjalanan", "single"),
        ("single", "single"),
        ("Berulang", "multiple"),
        ("multiple", "multiple"),
        ("Sekali / Berulang", None),
        ("pulang pergi", None),
    ],
)
def test_trip_type_code(text, expected):
    assert trip_type_code(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("L", "L"),
        ("Laki-laki", "L"),
        ("pria", "L"),
        ("Male", "L"),
        ("P", "P"),
        ("PEREMPUAN", "P"),
        ("Wanita", "P"),
        ("female", "P"),
        ("L/P", None),
        ("x", None),
    ],
)
def test_sex_code(text, expected):
    assert sex_code(text) == expected


def test_relation_and_sector_codes():
    assert relation_code("Keluarga (kakak)") == "keluarga"
    assert relation_code("PT Contoh Jaya") == "perusahaan"
    assert relation_code("Teman") == "teman"
    assert sector_code("Kesehatan") == "kesehatan"
    assert sector_code("Rumah Sakit") == "kesehatan"
    assert sector_code("Industri Strategis") == "industri_strategis"
    assert sector_code("kebutuhan sehari-hari") == "kebutuhan_sehari_hari"
    assert sector_code("TIK") == "tik"
    assert sector_code("Pariwisata Alam") == "pariwisata alam"


@pytest.mark.parametrize(
    ("city", "expected"),
    [
        ("Jakarta", True),
        ("JAKARTA SELATAN", True),
        ("Kota Administrasi Jakarta Timur", True),
        ("Kepulauan Seribu", True),
        ("Kab. Adm. Kepulauan Seribu", True),
        ("DKI Jakarta", True),
        ("Jaksel", True),
        ("Bekasi", False),
        ("Depok", False),
        ("Kota Tangerang Selatan", False),
        ("Bandung", False),
        ("", False),
    ],
)
def test_is_jakarta(city, expected):
    assert is_jakarta(city) is expected


# -------------------------------------------------------------------- the form

RAW = {
    "nama": "  siti   rahayu ",
    "nik": "3171 0152 0390 0001",
    "tempat_lahir": "jakarta",
    "tanggal_lahir": "12/03/1990",
    "jenis_kelamin": "Perempuan",
    "alamat": "  Jl. Contoh No. 1 ",
    "nomor_hp": "0812-3456-7890",
    "email": "",
    "kategori": "Penduduk DKI keluar Jabodetabek",
    "sektor": "Kesehatan",
    "jenis_perjalanan": "Sekali",
    "kota_asal": "jakarta selatan",
    "kota_tujuan": "bandung",
    "tanggal_berangkat": "20 Mei 2020",
    "tanggal_kembali": "27-05-20",
    "keperluan": "Tugas kantor",
    "penjamin_hubungan": "Perusahaan",
}


def test_normalize_fields_per_contract():
    values, problems = normalize_fields(RAW, sender="Siti <Siti@Example.com>")
    assert problems == []
    assert values == {
        "nama": "SITI RAHAYU",
        "nik": "3171015203900001",
        "tempat_lahir": "JAKARTA",
        "tanggal_lahir": "1990-03-12",
        "jenis_kelamin": "P",
        "alamat": "Jl. Contoh No. 1",
        "nomor_hp": "+6281234567890",
        "email": "siti@example.com",
        "kategori": "resident_out",
        "sektor": "kesehatan",
        "jenis_perjalanan": "single",
        "kota_asal": "JAKARTA SELATAN",
        "kota_tujuan": "BANDUNG",
        "tanggal_berangkat": "2020-05-20",
        "tanggal_kembali": "2020-05-27",
        "keperluan": "Tugas kantor",
        "penjamin_hubungan": "perusahaan",
    }


def test_unreadable_values_are_kept_and_reported():
    raw = {
        "tanggal_lahir": "12-03-90",  # two-digit birth year: ambiguous
        "nomor_hp": " 021-555 ",
        "email": "siti at example",
        "kategori": "wisata",
        "jenis_perjalanan": "pulang pergi",
        "jenis_kelamin": "?",
        "penjamin_email": "x@",
        "penjamin_hp": "12",
    }
    values, problems = normalize_fields(raw, sender="siti@example.com")
    assert values["nomor_hp"] == "021-555"
    assert values["email"] == "siti at example"  # not replaced by the sender
    assert values["tanggal_lahir"] == "12-03-90"
    got = [(p.field, p.code) for p in problems]
    assert got == [
        ("tanggal_lahir", "date_format"),
        ("jenis_kelamin", "sex_unknown"),
        ("nomor_hp", "phone_invalid"),
        ("email", "email_invalid"),
        ("kategori", "category_unknown"),
        ("jenis_perjalanan", "trip_type_unknown"),
        ("penjamin_email", "email_invalid"),
        ("penjamin_hp", "phone_invalid"),
    ]
    for problem in problems:
        assert FORM_LABELS[problem.field] in problem.message_id
        assert FORM_LABELS[problem.field] in problem.message_en


def test_empty_values_dropped_and_sender_is_default():
    values, problems = normalize_fields({"nama": "  ", "email": ""}, sender="A@Example.org")
    assert values == {"email": "a@example.org"}
    assert problems == []
    assert normalize_fields({}, sender="not an address") == ({}, [])


@given(st.dictionaries(st.sampled_from(list(FORM_LABELS)), st.text(max_size=25), max_size=8))
def test_normalize_is_idempotent_and_never_raises(raw):
    once, _ = normalize_fields(raw)
    twice, _ = normalize_fields(once)
    assert twice == once
