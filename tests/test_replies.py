"""Every reply renders, in both languages, as text and HTML, with realistic data."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from sikm_mailbot.config import DeskSettings, OfficeSettings
from sikm_mailbot.domain.assess import document_groups
from sikm_mailbot.domain.vocabulary import DOC_NAMES_EN, DOC_NAMES_ID, STATUS_NAMES_ID, Problem
from sikm_mailbot.domain.wording import (
    FILE_PROBLEMS,
    REJECTION_REASONS,
    format_date_en,
    format_date_id,
)
from sikm_mailbot.outbox.compose import (
    KINDS,
    LINK_REMOVED,
    MailDetails,
    ReplyError,
    UnreadableFile,
    build_context,
    defang,
    render,
)
from sikm_mailbot.store.models import Application
from tests.test_fixture_corpus import ATTACHMENT_CODES

OFFICE = OfficeSettings()
SEPARATOR = "------------- English -------------"


def make_app(**kw) -> Application:
    base = dict(
        id="SIKM-2020-000123",
        status="incomplete",
        category="nonresident_in",
        trip_type="single",
        applicant_email="budi@example.com",
        fields={
            "nama": "Budi Santoso",
            "kota_asal": "Bandung",
            "kota_tujuan": "Jakarta Selatan",
            "tanggal_berangkat": "25-05-2020",
            "tanggal_kembali": "30/05/2020",
            "keperluan": "Bekerja di rumah sakit",
            "penjamin_nama": "Siti Rahayu",
        },
        missing=["ktp", "guarantee_letter"],
        problems=[
            Problem(
                "nik",
                "nik_sex_mismatch",
                "NIK menunjukkan perempuan, formulir laki-laki.",
                "The NIK says female, the form says male.",
            ).as_dict(),
            Problem(
                "tanggal_kembali",
                "date_order",
                "Tanggal kembali sebelum tanggal berangkat.",
                "The return date is before the departure date.",
            ).as_dict(),
        ],
        due_at=datetime(2020, 5, 26, 3, 0, tzinfo=UTC),
        guarantor_requested_at=datetime(2020, 5, 22, 7, 0, tzinfo=UTC),
        permit_number="SIKM/DKI/2020/000045",
        decision_reason="no_signature",
    )
    base.update(kw)
    return Application(**base)


EXTRA = MailDetails(
    unreadable=(
        UnreadableFile("dokumen.zip", "archive_not_accepted"),
        UnreadableFile("ktp.pdf", "pdf_encrypted"),
        UnreadableFile("surat.docx", "unsupported_format"),
        UnreadableFile("foto.heic", "something_new"),
    ),
    attached_files=("Formulir-SIKM.pdf", "Surat-Pernyataan.pdf"),
)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_both_languages(kind: str) -> None:
    app = None if kind in ("forms", "not_understood") else make_app()
    r = render(kind, build_context(app, office=OFFICE, details=EXTRA), OFFICE)
    assert r.kind == kind and r.subject and "\n" not in r.subject
    assert " / " in r.subject  # Indonesian / English
    id_part, en_part = r.text.split(SEPARATOR)
    assert id_part.strip() and en_part.strip()
    assert "Yth." in id_part and "Dear" in en_part
    assert "<html" in r.html and 'lang="id"' in r.html and 'lang="en"' in r.html
    assert r.html.index('lang="id"') < r.html.index('lang="en"')
    assert OFFICE.address in r.text and OFFICE.address in r.html
    if app is not None:
        assert r.subject.startswith("[SIKM-2020-000123] ")
    else:
        assert "[" not in r.subject


def test_incomplete_names_every_missing_doc_and_problem() -> None:
    app = make_app()
    r = render("incomplete", build_context(app, office=OFFICE), OFFICE)
    for kind in app.missing:
        assert DOC_NAMES_ID[kind] in r.text and DOC_NAMES_EN[kind] in r.text
        assert DOC_NAMES_ID[kind] in r.html and DOC_NAMES_EN[kind] in r.html
    for p in app.problems:
        assert p["message_id"] in r.text and p["message_en"] in r.text
    assert "NIK: NIK menunjukkan" in r.text
    assert "Tanggal Kembali: Tanggal kembali sebelum" in r.text
    assert "Jangan ubah subjek" in r.text and "Do not change the subject" in r.text


def test_html_escapes_untrusted_names_text_does_not_mangle_them() -> None:
    evil = '<script>alert("x")</script> & Co'
    app = make_app(fields={"nama": evil, "penjamin_nama": "<b>boss</b>"})
    for kind in ("ack", "incomplete"):
        r = render(kind, build_context(app, office=OFFICE), OFFICE)
        assert "<script>" not in r.html and "&lt;script&gt;" in r.html
        assert "<b>boss</b>" not in r.html
        assert evil in r.text
    # To a third party (the guarantor) the applicant's markup does not travel at all.
    r = render("guarantor_request", build_context(app, office=OFFICE), OFFICE)
    assert "script" in r.text and "<script>" not in r.text and "<b>" not in r.text
    assert "&lt;script" not in r.html and "<script>" not in r.html and "&lt;b&gt;" not in r.html
    files = MailDetails(unreadable=(UnreadableFile("<img src=x onerror=alert(1)>.pdf", "corrupt"),))
    r = render("unreadable", build_context(app, office=OFFICE, details=files), OFFICE)
    assert "<img" not in r.html and "&lt;img" in r.html


def test_unreadable_reasons_are_plain_words_with_fallback() -> None:
    r = render("unreadable", build_context(make_app(), office=OFFICE, details=EXTRA), OFFICE)
    assert "dokumen.zip: file berupa ZIP/RAR" in r.text
    assert "ktp.pdf: the file is locked with a password" in r.text
    assert "surat.docx: format file ini tidak diterima — kirim sebagai PDF/JPG/PNG" in r.text
    assert "foto.heic: file tidak bisa dibuka" in r.text  # unknown code → generic words
    assert "tanpa kata sandi" in r.text and "PDF, JPG atau PNG" in r.text


def test_every_attachment_problem_code_of_the_intake_has_plain_words() -> None:
    # Each code mail/extract and the intake set is said both as a reason after the
    # file name and as a sentence among the problems to fix.
    for code in ATTACHMENT_CODES:
        words = FILE_PROBLEMS[code]
        assert all(words.reason) and words.advice and all(words.advice), code


def test_forms_lists_documents_per_category_from_the_table() -> None:
    r = render("forms", build_context(None, office=OFFICE, details=EXTRA), OFFICE)
    for groups in document_groups().values():
        for group in groups:
            for kind in group:
                assert DOC_NAMES_ID[kind] in r.text and DOC_NAMES_EN[kind] in r.text
    assert "Formulir-SIKM.pdf" in r.text and "Surat-Pernyataan.pdf" in r.html
    assert "Surat keterangan domisili Jakarta" in r.text  # the either/or group
    assert "1. Isi Formulir" in r.text


def test_status_uses_office_words_and_next_step() -> None:
    for status, words in STATUS_NAMES_ID.items():
        r = render("status", build_context(make_app(status=status), office=OFFICE), OFFICE)
        assert f"Status: {words}" in r.text
        assert words in r.subject
    r = render("status", build_context(make_app(status="under_review"), office=OFFICE), OFFICE)
    assert "Perkiraan keputusan: Selasa, 26 Mei 2020" in r.text
    assert "Expected decision: Tuesday 26 May 2020" in r.text


@pytest.mark.parametrize("code", sorted(REJECTION_REASONS))
def test_rejection_reason_sentences(code: str) -> None:
    note = "Tanda tangan tidak terlihat." if code == "other" else ""
    app = make_app(status="rejected", decision_reason=code, decision_note=note)
    r = render("rejection", build_context(app, office=OFFICE), OFFICE)
    sentence_id, sentence_en = REJECTION_REASONS[code]
    assert sentence_id in r.text and sentence_en in r.text
    assert "FORMULIR" in r.text  # how to apply again
    if note:
        assert f"Catatan petugas: {note}" in r.text


def test_unknown_rejection_code_falls_back_to_officer_note() -> None:
    app = make_app(status="rejected", decision_reason="new_code", decision_note="Lihat KTP.")
    r = render("rejection", build_context(app, office=OFFICE), OFFICE)
    assert REJECTION_REASONS["other"][0] in r.text and "Lihat KTP." in r.text


def test_ack_gives_due_date_in_both_languages() -> None:
    r = render("ack", build_context(make_app(status="under_review"), office=OFFICE), OFFICE)
    assert "Perkiraan keputusan: Selasa, 26 Mei 2020" in r.text
    assert "Expected decision: Tuesday 26 May 2020" in r.text
    assert "penelitian administrasi dan teknis" in r.text
    assert "STATUS SIKM-2020-000123" in r.text


def test_permit_validity_and_checkpoint_advice() -> None:
    app = make_app(status="issued", trip_type="multiple")
    app.fields = {**app.fields, "berlaku_sampai": "30-06-2020"}
    r = render("permit", build_context(app, office=OFFICE), OFFICE)
    assert "SIKM/DKI/2020/000045" in r.text
    assert "Berlaku: Senin, 25 Mei 2020 s.d. Selasa, 30 Juni 2020" in r.text
    assert "Valid: Monday 25 May 2020 to Tuesday 30 June 2020" in r.text
    assert "KTP asli" in r.text and "original KTP" in r.text


def test_guarantor_request_has_trip_deadline_and_no_answer_words_in_subject() -> None:
    r = render("guarantor_request", build_context(make_app(), office=OFFICE), OFFICE)
    assert "Budi Santoso" in r.text and "Bandung - Jakarta Selatan" in r.text
    assert "Berangkat: Senin, 25 Mei 2020" in r.text and "Kembali: Sabtu, 30 Mei 2020" in r.text
    assert "Batas waktu: Senin, 25 Mei 2020, 14:00 WIB" in r.text
    assert "SETUJU" in r.text and "TOLAK" in r.text
    # The subject must not contain an answer word: a reply keeps the subject.
    assert "SETUJU" not in r.subject.upper() and "TOLAK" not in r.subject.upper()


def test_guarantor_deadline_follows_the_desk_setting() -> None:
    desk = DeskSettings(guarantor_timeout_hours=24)
    r = render("guarantor_request", build_context(make_app(), office=OFFICE, desk=desk), OFFICE)
    assert "Batas waktu: Sabtu, 23 Mei 2020, 14:00 WIB" in r.text  # asked 22 May 14:00 WIB


def test_cancelled_guarantor_timeout() -> None:
    app = make_app(status="cancelled", decision_reason="guarantor_timeout")
    r = render("cancelled", build_context(app, office=OFFICE), OFFICE)
    assert "Penjamin tidak menjawab dalam 3 x 24 jam." in r.text
    assert "The guarantor did not answer within 72 hours." in r.text
    assert "email BARU" in r.text


def test_dates_in_both_languages() -> None:
    assert format_date_id(date(2020, 5, 26)) == "Selasa, 26 Mei 2020"
    assert format_date_en(date(2020, 5, 26)) == "Tuesday 26 May 2020"
    # 20:00 UTC on the 25th is already the 26th in Jakarta.
    assert format_date_id(datetime(2020, 5, 25, 20, 0, tzinfo=UTC)) == "Selasa, 26 Mei 2020"
    assert format_date_id(datetime(2020, 5, 25, 20, 0)) == "Selasa, 26 Mei 2020"  # naive = UTC
    assert format_date_en("22/05/2020") == "Friday 22 May 2020"
    assert format_date_id("besok") == "besok"  # not a date: shown as typed
    assert format_date_id(None) == ""


def test_unknown_kind_and_override_dir(tmp_path: Path) -> None:
    with pytest.raises(ReplyError, match="unknown reply kind"):
        render("nope", {}, OFFICE)
    (tmp_path / "ack.subject.j2").write_text("Diterima (kantor cabang) / Received\n")
    r = render("ack", build_context(make_app(), office=OFFICE), OFFICE, template_dir=tmp_path)
    assert r.subject == "[SIKM-2020-000123] Diterima (kantor cabang) / Received"
    assert "Budi Santoso" in r.text  # other templates still come from the shipped set


def test_missing_context_value_is_a_clear_error() -> None:
    with pytest.raises(ReplyError, match="ack"):
        render("ack", {"tracking_id": "SIKM-2020-000001"}, OFFICE)


def test_mail_to_the_guarantor_carries_no_links_from_the_applicant() -> None:
    """Purpose and names are the applicant's words: links become a plain note."""
    app = make_app(
        fields={
            "nama": "Budi www.evil.example.com",
            "keperluan": "Bekerja di PT. Maju, lihat https://evil.example.net/login?x=1",
            "kota_asal": "Bandung [link=https://evil.example.org]klik[/link]",
            "penjamin_nama": "Siti mailto:siti@evil.example.net",
        }
    )
    for kind in ("guarantor_request", "guarantor_reminder"):
        r = render(kind, build_context(app, office=OFFICE), OFFICE)
        for part in (r.text, r.html, r.subject):
            assert "evil.example" not in part and "://" not in part and "[link" not in part
        assert LINK_REMOVED in r.text and LINK_REMOVED in r.html
        assert "Bekerja di PT. Maju" in r.text  # the words themselves stay
    # The applicant's own mail keeps what they typed (they wrote it).
    ack = render("ack", build_context(app, office=OFFICE), OFFICE)
    assert "www.evil.example.com" in ack.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Rawat inap RS. Mitra Keluarga", "Rawat inap RS. Mitra Keluarga"),
        ("a\r\nSETUJU\x1b[2J", "a SETUJU 2J"),
        ("see evil.example.com/x now", f"see {LINK_REMOVED} now"),
        ("x" * 300, "x" * 199 + "…"),
    ],
)
def test_defang(text: str, expected: str) -> None:
    assert defang(text) == expected
