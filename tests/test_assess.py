"""Assessment rules: required fields and documents per category, every problem code."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sikm_mailbot.domain.assess import RULES, assess, required_documents
from sikm_mailbot.domain.vocabulary import FORM_LABELS, Problem

TODAY = date(2020, 5, 20)

APPLICANT = {
    "nama": "Siti Rahayu",
    "nik": "3171015203900001",  # woman, born 12-03-1990
    "tempat_lahir": "Jakarta",
    "tanggal_lahir": "12-03-1990",
    "jenis_kelamin": "P",
    "alamat": "Jl. Contoh No. 1, Jakarta Selatan",
    "nomor_hp": "0812 3456 7890",
    "email": "siti@example.com",
    "pekerjaan": "Perawat",
    "jenis_perjalanan": "Sekali",
    "tanggal_berangkat": "21-05-2020",
    "tanggal_kembali": "28-05-2020",
}
GUARANTOR = {
    "penjamin_nama": "Budi Santoso",
    "penjamin_nik": "3174010101800002",
    "penjamin_email": "budi@example.org",
    "penjamin_hp": "+62 813 1111 2222",
    "penjamin_hubungan": "Keluarga",
}

CASES = {
    "resident_out": (
        {
            **APPLICANT,
            "kategori": "Penduduk DKI keluar Jabodetabek",
            "sektor": "Kesehatan",
            "kota_asal": "Jakarta Selatan",
            "kota_tujuan": "Bandung",
            "keperluan": "Tugas dinas ke rumah sakit",
        },
        ["form", "statement", "ktp", "photo", "rtrw_letter", "work_letter"],
    ),
    "nonresident_in_work": (
        {
            **APPLICANT,
            **GUARANTOR,
            "kategori": "nonresident_in",
            "sektor": "logistik",
            "kota_asal": "Semarang",
            "kota_tujuan": "Jakarta Utara",
            "keperluan": "Bekerja di gudang",
        },
        ["form", "statement", "ktp", "photo", "rtrw_letter", "guarantee_letter", "work_letter"],
    ),
    "nonresident_in_domicile": (
        {
            **APPLICANT,
            **GUARANTOR,
            "kategori": "nonresident_in",
            "kota_asal": "Semarang",
            "kota_tujuan": "Jakarta",
            "keperluan": "Pindah domisili karena pekerjaan suami",
        },
        [
            "form",
            "statement",
            "ktp",
            "photo",
            "rtrw_letter",
            "guarantee_letter",
            "domicile_letter",
        ],
    ),
    "dki_ktp_outside": (
        {
            **APPLICANT,
            "kategori": "KTP DKI di luar Jabodetabek",
            "kota_asal": "Surabaya",
            "kota_tujuan": "Jakarta Timur",
            "keperluan": "Kembali bekerja",
        },
        ["form", "statement", "ktp"],
    ),
    "urgent": (
        {
            **APPLICANT,
            "kategori": "Keperluan mendesak",
            "kota_asal": "Jakarta",
            "kota_tujuan": "Yogyakarta",
            "keperluan": "Mudik karena ayah meninggal",  # allowed for urgent
        },
        ["form", "statement", "ktp", "photo", "emergency_letter"],
    ),
}


def run(fields, documents, form_found=True, attachment_problems=()):
    docs = [d for d in documents if d != "form"]
    return assess(fields, docs, attachment_problems, today=TODAY, form_found=form_found)


def codes(assessment):
    return [(p.field, p.code) for p in assessment.problems]


@pytest.mark.parametrize("case", list(CASES))
def test_each_category_complete(case):
    fields, documents = CASES[case]
    result = run(fields, documents)
    assert codes(result) == []
    assert result.missing == []
    assert result.complete is True


@pytest.mark.parametrize(
    ("case", "doc"), [(case, doc) for case, (_, docs) in CASES.items() for doc in docs]
)
def test_each_missing_document(case, doc):
    fields, documents = CASES[case]
    remaining = [d for d in documents if d != doc]
    result = run(fields, remaining, form_found=doc != "form")
    assert result.missing == [doc]
    assert result.problems == []
    assert result.complete is False


def test_missing_is_sorted_and_unique_and_form_goes_by_the_flag():
    fields, _ = CASES["urgent"]
    result = assess(fields, ["ktp", "ktp", "form"], today=TODAY, form_found=False)
    assert result.missing == ["emergency_letter", "form", "photo", "statement"]
    result = assess(fields, [], today=TODAY, form_found=True)
    assert "form" not in result.missing


def test_required_documents_per_category():
    assert required_documents("dki_ktp_outside", {}) == ["form", "statement", "ktp"]
    assert required_documents("nonresident_in", {"sektor": "tik"})[-1] == "work_letter"
    assert required_documents("nonresident_in", {"sektor": " "})[-1] == "domicile_letter"
    assert required_documents(None, {}) == ["form", "statement", "ktp"]
    assert required_documents("holiday", {}) == ["form", "statement", "ktp"]


def test_unknown_category_assesses_what_it_can():
    fields = {**CASES["resident_out"][0], "kategori": "wisata", "nomor_hp": "123"}
    result = run(fields, [])
    assert result.missing == ["ktp", "statement"]
    assert codes(result) == [("nomor_hp", "phone_invalid"), ("kategori", "category_unknown")]


# ------------------------------------------------------------ every problem code


def with_(case, **changes):
    fields = dict(CASES[case][0])
    for key, value in changes.items():
        if value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
    return fields


PROBLEM_TABLE = [
    ("resident_out", {"nama": None}, [("nama", "required")]),
    ("resident_out", {"alamat": "   "}, [("alamat", "required")]),
    ("resident_out", {"tanggal_kembali": None}, [("tanggal_kembali", "required")]),
    (
        "resident_out",
        {"jenis_perjalanan": "Berulang", "tanggal_kembali": None},
        [("berlaku_sampai", "required")],
    ),
    ("resident_out", {"nik": "31710152039"}, [("nik", "nik_format")]),
    ("resident_out", {"nik": "3171013503900001"}, [("nik", "nik_date")]),
    ("resident_out", {"nik": "3171015203900000"}, [("nik", "nik_serial")]),
    ("resident_out", {"tanggal_lahir": "13-03-1990"}, [("nik", "nik_birthdate_mismatch")]),
    ("resident_out", {"jenis_kelamin": "Laki-laki"}, [("nik", "nik_sex_mismatch")]),
    ("resident_out", {"tanggal_lahir": "12 Maret 90"}, [("tanggal_lahir", "date_format")]),
    (
        "resident_out",
        {"tanggal_berangkat": "12-05-2020"},
        [("tanggal_berangkat", "departure_past")],
    ),
    (
        "resident_out",
        {"tanggal_kembali": "20-05-2020"},
        [("tanggal_kembali", "return_before_departure")],
    ),
    ("resident_out", {"email": "siti@example"}, [("email", "email_invalid")]),
    ("resident_out", {"nomor_hp": "021 5550 1234"}, [("nomor_hp", "phone_invalid")]),
    ("resident_out", {"kategori": "wisata"}, [("kategori", "category_unknown")]),
    (
        "resident_out",
        {"jenis_perjalanan": "pulang pergi"},
        [("jenis_perjalanan", "trip_type_unknown")],
    ),
    ("resident_out", {"jenis_kelamin": "-"}, [("jenis_kelamin", "sex_unknown")]),
    (
        "resident_out",
        {"keperluan": "Halal bihalal keluarga"},
        [("keperluan", "purpose_not_allowed")],
    ),
    ("resident_out", {"keperluan": "visiting family"}, [("keperluan", "purpose_not_allowed")]),
    ("dki_ktp_outside", {"keperluan": "Reuni SMA"}, [("keperluan", "purpose_not_allowed")]),
    ("resident_out", {"kota_asal": "Bekasi"}, [("kota_asal", "trip_not_jakarta")]),
    # Guarantor rules.
    ("nonresident_in_work", {"penjamin_nama": None}, [("penjamin_nama", "required")]),
    ("nonresident_in_work", {"penjamin_hubungan": None}, [("penjamin_hubungan", "required")]),
    ("nonresident_in_work", {"penjamin_nik": None}, []),  # optional, checked when given
    ("nonresident_in_work", {"penjamin_nik": "1234"}, [("penjamin_nik", "nik_format")]),
    ("nonresident_in_work", {"penjamin_hp": "0812"}, [("penjamin_hp", "phone_invalid")]),
    (
        "nonresident_in_work",
        {"penjamin_email": "bukan email"},
        [("penjamin_email", "email_invalid")],
    ),
    (
        "nonresident_in_work",
        {"penjamin_email": "SITI@example.com"},
        [("penjamin_email", "guarantor_email_same")],
    ),
    ("resident_out", {"penjamin_nik": "3174010101800000"}, [("penjamin_nik", "nik_serial")]),
]


@pytest.mark.parametrize(("case", "changes", "expected"), PROBLEM_TABLE)
def test_problem_codes(case, changes, expected):
    result = run(with_(case, **changes), CASES[case][1])
    assert codes(result) == expected
    assert result.complete is (expected == [])


def test_guarantor_fields_required_only_for_nonresident_in():
    result = run(CASES["nonresident_in_work"][0] | {k: "" for k in GUARANTOR}, [])
    required = [f for f, c in codes(result) if c == "required"]
    assert required == ["penjamin_nama", "penjamin_email", "penjamin_hp", "penjamin_hubungan"]
    fields = dict(CASES["resident_out"][0])
    assert codes(run(fields, CASES["resident_out"][1])) == []  # no guarantor needed


@pytest.mark.parametrize(
    ("departure", "expected"),
    [
        ("13-05-2020", []),  # exactly 7 days ago: still fine
        ("12-05-2020", [("tanggal_berangkat", "departure_past")]),
        ("20-05-2020", []),
    ],
)
def test_departure_edge(departure, expected):
    fields = with_("resident_out", tanggal_berangkat=departure, tanggal_kembali="30-05-2020")
    assert codes(run(fields, CASES["resident_out"][1])) == expected


@pytest.mark.parametrize(
    ("end", "expected"),
    [
        ("21-05-2020", []),  # same day
        ("19-08-2020", []),  # 90 days
        ("20-08-2020", [("berlaku_sampai", "period_invalid")]),  # 91 days
        ("20-05-2020", [("berlaku_sampai", "period_invalid")]),  # before the start
    ],
)
def test_multiple_trip_period(end, expected):
    fields = with_(
        "resident_out", jenis_perjalanan="Berulang", tanggal_kembali=None, berlaku_sampai=end
    )
    assert codes(run(fields, CASES["resident_out"][1])) == expected


def test_same_day_return_is_fine_and_multiple_ignores_tanggal_kembali():
    fields = with_("resident_out", tanggal_kembali="21-05-2020")
    assert codes(run(fields, CASES["resident_out"][1])) == []
    fields = with_(
        "resident_out",
        jenis_perjalanan="multiple",
        tanggal_kembali="01-01-2020",
        berlaku_sampai="2020-06-30",
    )
    assert codes(run(fields, CASES["resident_out"][1])) == []


def test_problems_in_form_order_then_code_with_attachments_last():
    fields = with_(
        "resident_out",
        nama=None,
        jenis_kelamin="L",
        tanggal_lahir="01-01-1991",
        kota_asal="Bogor",
        keperluan="mudik",
    )
    attachment = Problem("scan.zip", "archive_not_accepted", "Arsip zip.", "A zip archive.")
    too_many = Problem("", "too_many_attachments", "Terlalu banyak.", "Too many.")
    result = run(fields, CASES["resident_out"][1], attachment_problems=[attachment, too_many])
    assert codes(result) == [
        ("nama", "required"),
        ("nik", "nik_birthdate_mismatch"),
        ("nik", "nik_sex_mismatch"),
        ("kota_asal", "trip_not_jakarta"),
        ("keperluan", "purpose_not_allowed"),
        ("", "too_many_attachments"),
        ("scan.zip", "archive_not_accepted"),
    ]
    assert result.complete is False
    assert result.missing == []


def test_messages_are_bilingual_and_name_the_form_label():
    fields = with_(
        "nonresident_in_work",
        nama=None,
        tanggal_lahir="13-03-1990",
        tanggal_kembali="01-05-2020",
        penjamin_email="siti@example.com",
    )
    result = run(fields, CASES["nonresident_in_work"][1])
    assert {p.code for p in result.problems} == {
        "required",
        "nik_birthdate_mismatch",
        "return_before_departure",
        "guarantor_email_same",
    }
    for problem in result.problems:
        label = FORM_LABELS["tanggal_lahir" if "birthdate" in problem.code else problem.field]
        assert label in problem.message_id and label in problem.message_en
        assert problem.message_id != problem.message_en
    mismatch = next(p for p in result.problems if p.code == "nik_birthdate_mismatch")
    assert (
        mismatch.message_id == "Tanggal Lahir tidak sesuai dengan NIK (NIK menunjukkan 12-03-1990)."
    )


def test_assess_accepts_normalised_fields_and_is_deterministic():
    fields = with_("resident_out", kota_asal="Bogor", keperluan="silaturahmi", nama=None)
    first = run(fields, CASES["resident_out"][1])
    second = run(dict(reversed(list(fields.items()))), list(reversed(CASES["resident_out"][1])))
    assert codes(first) == codes(second)
    assert [p.as_dict() for p in first.problems] == [p.as_dict() for p in second.problems]


def test_empty_application_never_raises():
    result = assess({}, [], today=TODAY, form_found=False)
    assert result.missing == ["form", "ktp", "statement"]
    assert {c for _, c in codes(result)} == {"required"}
    assert len(RULES) >= 8


@given(
    st.dictionaries(st.sampled_from(list(FORM_LABELS)), st.text(max_size=20), max_size=12),
    st.lists(st.sampled_from(["form", "statement", "ktp", "photo", "unknown"]), max_size=5),
    st.dates(),
)
def test_any_input_gives_an_ordered_assessment(fields, documents, today):
    result = assess(fields, documents, today=today, form_found=bool(fields))
    order = list(FORM_LABELS)
    positions = [order.index(p.field) for p in result.problems]
    assert positions == sorted(positions)
    assert result.missing == sorted(set(result.missing))
    assert result.complete is (not result.missing and not result.problems)
