"""The blank forms: field layout, labels, reproducible bytes, fillable with pypdf."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
from pathlib import Path

import pdfplumber
import pytest
from pypdf import PdfReader, PdfWriter

from sikm_mailbot.domain.vocabulary import FORM_LABELS
from sikm_mailbot.forms import (
    APPLICATION_FILENAME,
    APPLICATION_SUBTITLE,
    APPLICATION_TITLE,
    STATEMENT_FIELDS,
    STATEMENT_FILENAME,
    build_application_form,
    build_statement_form,
    write_forms,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def application_pdf() -> bytes:
    return build_application_form()


@pytest.fixture(scope="module")
def statement_pdf() -> bytes:
    return build_statement_form()


def _page_text(data: bytes) -> str:
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        assert len(pdf.pages) == 1
        page = pdf.pages[0]
        text = page.extract_text() or ""
        page.close()
    return text


def test_application_form_has_one_text_field_per_key(application_pdf: bytes) -> None:
    reader = PdfReader(io.BytesIO(application_pdf))
    fields = reader.get_fields()
    assert fields is not None
    assert list(fields) == list(FORM_LABELS)  # same names, same order, nothing extra
    assert all(field.get("/FT") == "/Tx" for field in fields.values())
    widgets = [a.get_object() for a in reader.pages[0].get("/Annots", [])]
    names = [w["/T"] for w in widgets if w.get("/Subtype") == "/Widget"]
    assert sorted(names) == sorted(FORM_LABELS)
    assert reader.pages[0].mediabox.width == pytest.approx(595.28, abs=0.5)  # A4


def test_application_form_prints_every_label(application_pdf: bytes) -> None:
    text = _page_text(application_pdf)
    lines = [line.strip() for line in text.splitlines()]
    assert APPLICATION_TITLE in lines
    assert APPLICATION_SUBTITLE in lines
    for label in FORM_LABELS.values():
        assert label in lines, label
    assert "sikm@jakarta.go.id" in text
    for code in ("resident_out", "nonresident_in", "dki_ktp_outside", "urgent"):
        assert code in text


def test_help_text_never_reads_as_a_filled_field(application_pdf: bytes) -> None:
    """A reader parsing "Label value" lines from page text must find only empty labels."""
    labels = sorted(FORM_LABELS.values(), key=len, reverse=True)
    for line in _page_text(application_pdf).splitlines():
        stripped = line.strip()
        for label in labels:
            if stripped.lower().startswith(label.lower()):
                assert stripped == label, f"help line looks like data: {stripped!r}"
                break


def test_statement_form(statement_pdf: bytes) -> None:
    reader = PdfReader(io.BytesIO(statement_pdf))
    fields = reader.get_fields() or {}
    assert list(fields) == list(STATEMENT_FIELDS)
    assert not set(fields) & set(FORM_LABELS)  # never mistaken for the application form
    text = _page_text(statement_pdf)
    assert "SURAT PERNYATAAN" in text
    assert "sehat" in text and "benar" in text and "good health" in text
    assert "Meterai" in text
    assert "formulir permohonan sikm" not in text.lower()


def test_builds_are_byte_identical(tmp_path: Path) -> None:
    assert build_application_form() == build_application_form()
    assert build_statement_form() == build_statement_form()
    first = write_forms(tmp_path / "a")
    second = write_forms(tmp_path / "b")
    assert [p.name for p in first] == [APPLICATION_FILENAME, STATEMENT_FILENAME]
    for one, two in zip(first, second, strict=True):
        digest = hashlib.sha256(one.read_bytes()).hexdigest()
        assert digest == hashlib.sha256(two.read_bytes()).hexdigest()


def test_committed_templates_are_current() -> None:
    directory = ROOT / "templates" / "forms"
    assert (directory / APPLICATION_FILENAME).read_bytes() == build_application_form()
    assert (directory / STATEMENT_FILENAME).read_bytes() == build_statement_form()


def test_filled_with_pypdf_reads_back(application_pdf: bytes) -> None:
    values = {key: f"value of {key}" for key in FORM_LABELS}
    values["nik"] = "3174051403850012"
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(application_pdf)))
    writer.update_page_form_field_values(writer.pages[0], values, auto_regenerate=True)
    out = io.BytesIO()
    writer.write(out)
    reader = PdfReader(io.BytesIO(out.getvalue()))
    read = {name: field.get("/V") for name, field in (reader.get_fields() or {}).items()}
    assert read == values
    assert bool(reader.trailer["/Root"]["/AcroForm"].get("/NeedAppearances"))


def test_statement_fields_fill(statement_pdf: bytes) -> None:
    values = {
        "pernyataan_nama": "Siti Rahmawati",
        "pernyataan_nik": "3175034907900003",
        "pernyataan_tanggal": "Jakarta, 19 Mei 2020",
    }
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(statement_pdf)))
    writer.update_page_form_field_values(writer.pages[0], values, auto_regenerate=True)
    out = io.BytesIO()
    writer.write(out)
    fields = PdfReader(io.BytesIO(out.getvalue())).get_fields() or {}
    assert {name: f.get("/V") for name, f in fields.items()} == values


def test_module_entry_point_writes_both(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sikm_mailbot.forms", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert (tmp_path / APPLICATION_FILENAME).read_bytes() == build_application_form()
    assert (tmp_path / STATEMENT_FILENAME).read_bytes() == build_statement_form()
    assert APPLICATION_FILENAME in result.stdout
