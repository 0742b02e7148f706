"""The generated citizen-document corpus (fixtures/documents): its invariants, and what the
bot reads of it today.

The corpus is built once per session into a temporary folder (~10 s). OCR expectations stay
in the manifest for bench/documents.py; here only the variants marked ``reads_today`` are
asserted on the bot's reading.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageOps
from pypdf import PdfReader

from fixtures.documents.build import MANIFEST, VARIANTS, build
from fixtures.documents.compare import same
from fixtures.documents.people import PEOPLE
from sikm_mailbot.domain.nik import parse_nik
from sikm_mailbot.domain.vocabulary import FORM_LABELS, DocKind
from sikm_mailbot.mail.extract import Limits, read_message

A4_PT = (595, 842)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("documents")
    return out, build(out, seed=2026)


def _entries(corpus: tuple[Path, dict[str, Any]], variant: str) -> list[dict[str, Any]]:
    return [e for e in corpus[1]["files"] if e["variant"] == variant]


def _image(path: Path) -> Image.Image:
    if path.suffix.lower() == ".heic":
        from pillow_heif import register_heif_opener

        register_heif_opener()
    return Image.open(path)


# ---------------------------------------------------------------- the people


def test_people_have_consistent_niks() -> None:
    for p in PEOPLE:
        info = parse_nik(p.nik, today=date(2026, 12, 1))
        assert info.valid, (p.key, info.problems)
        assert info.birth_date == p.born and info.sex == p.sex
        assert p.form_values["email"].endswith("@example.com")


# ---------------------------------------------------------------- the manifest


def test_manifest_matches_the_files(corpus: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = corpus
    assert json.loads((out / MANIFEST).read_text()) == manifest
    assert set(manifest["variants"]) == set(VARIANTS)
    names = [e["file"] for e in manifest["files"]]
    assert len(names) == len(set(names))
    kinds = {k.value for k in DocKind}
    for e in manifest["files"]:
        data = (out / e["file"]).read_bytes()
        assert len(data) == e["bytes"] and hashlib.sha256(data).hexdigest() == e["sha256"]
        assert e["pages"] and all(p["kind"] in kinds - {"unknown"} for p in e["pages"])
        for page in e["pages"]:
            assert set(page.get("fields", {})) <= set(FORM_LABELS), e["file"]
            if page["kind"] == "form":
                assert len(page["fields"]) >= 15, e["file"]


def test_build_is_deterministic(tmp_path: Path, corpus: tuple[Path, dict[str, Any]]) -> None:
    # Not odt here: odfpy declares namespaces it met earlier in the process (the same file
    # from a fresh process is byte-identical, which is what a rebuild does).
    again = build(tmp_path, seed=2026, variants={"text_pdf", "whatsapp", "docx", "scan_pdf"})
    first = {e["file"]: e["sha256"] for e in corpus[1]["files"]}
    assert again["files"] and all(first[e["file"]] == e["sha256"] for e in again["files"])


# ---------------------------------------------------------------- images


def test_phone_photos_are_12_megapixel_jpegs(corpus: tuple[Path, dict[str, Any]]) -> None:
    entries = _entries(corpus, "phone_photo")
    assert len(entries) >= 5
    for e in entries:
        assert e["file"].startswith("IMG_2026") and e["file"].endswith(".jpg")
        im = _image(corpus[0] / e["file"])
        assert im.format == "JPEG" and sorted(im.size) == [3000, 4000]
        assert im.getexif().get(0x0112) == 1
        portrait = e["pages"][0]["kind"] != "ktp"
        assert (im.height > im.width) == portrait, e["file"]


def test_exif_rotated_jpegs_need_turning(corpus: tuple[Path, dict[str, Any]]) -> None:
    for e in _entries(corpus, "exif_rotated"):
        im = _image(corpus[0] / e["file"])
        assert e["exif_orientation"] == 6 and im.getexif().get(0x0112) == 6
        assert im.width > im.height  # stored sideways ...
        upright = ImageOps.exif_transpose(im)
        assert upright.height > upright.width  # ... a portrait letter once turned


def test_whatsapp_and_heic_sizes(corpus: tuple[Path, dict[str, Any]]) -> None:
    for e in _entries(corpus, "whatsapp"):
        assert e["file"].startswith("IMG-20261201-WA")
        im = _image(corpus[0] / e["file"])
        assert sorted(im.size) == [1200, 1600] and not im.getexif()
    for e in _entries(corpus, "heic"):
        data = (corpus[0] / e["file"]).read_bytes()
        assert data[4:12] in (b"ftypheic", b"ftypmif1")
        assert sorted(_image(corpus[0] / e["file"]).size) == [1134, 1512]


# ---------------------------------------------------------------- PDFs and office files


@pytest.mark.parametrize("variant", ["scan_pdf", "multi_scan_pdf"])
def test_scans_are_image_only_a4(corpus: tuple[Path, dict[str, Any]], variant: str) -> None:
    for e in _entries(corpus, variant):
        doc = pdfium.PdfDocument(corpus[0] / e["file"])
        try:
            assert len(doc) == len(e["pages"]) and 150 <= e["dpi"] <= 300
            for page in doc:
                assert page.get_textpage().get_text_range().strip() == ""
                w, h = page.get_size()
                assert abs(w - A4_PT[0]) < 3 and abs(h - A4_PT[1]) < 3
        finally:
            doc.close()
    if variant == "multi_scan_pdf":
        kinds = {p["kind"] for e in _entries(corpus, variant) for p in e["pages"]}
        assert {"form", "statement", "ktp"} <= kinds


def test_typed_pdfs_have_text_and_no_fields(corpus: tuple[Path, dict[str, Any]]) -> None:
    for e in _entries(corpus, "text_pdf"):
        reader = PdfReader(corpus[0] / e["file"])
        assert not reader.get_fields(), e["file"]  # flattened: values are page text
        text = reader.pages[0].extract_text()
        for value in e["pages"][0].get("fields", {}).values():
            assert value in text, (e["file"], value)
    (acro,) = _entries(corpus, "acroform_pdf")
    assert set(PdfReader(corpus[0] / acro["file"]).get_fields()) >= set(FORM_LABELS)


def test_office_files_are_what_they_claim(corpus: tuple[Path, dict[str, Any]]) -> None:
    for variant, member in (("docx", "word/document.xml"), ("odt", "content.xml")):
        (e,) = _entries(corpus, variant)
        with zipfile.ZipFile(io.BytesIO((corpus[0] / e["file"]).read_bytes())) as z:
            xml = z.read(member).decode()
        assert "FORMULIR PERMOHONAN SIKM" in xml and e["pages"][0]["fields"]["nik"] in xml


# ---------------------------------------------------------------- what the bot reads today


def _read(path: Path) -> Any:
    msg = EmailMessage()
    msg["From"] = "Pemohon <pemohon@example.com>"
    msg["To"] = "sikm@sikm.example.org"
    msg["Subject"] = "Permohonan SIKM"
    msg.set_content("Terlampir.")
    msg.add_attachment(
        path.read_bytes(), maintype="application", subtype="octet-stream", filename=path.name
    )
    (att,) = read_message(msg.as_bytes(), Limits()).attachments
    return att


def test_the_bot_reads_what_it_reads_today(corpus: tuple[Path, dict[str, Any]]) -> None:
    today = [e for e in corpus[1]["files"] if e["reads_today"]["kind"]]
    assert len(today) >= 4
    for e in today:
        att = _read(corpus[0] / e["file"])
        (page,) = e["pages"]
        assert att.kind == page["kind"], (e["file"], att.kind, att.reason)
        if e["reads_today"]["fields"]:
            wrong = {
                k: att.fields.get(k)
                for k, v in page["fields"].items()
                if not same(k, att.fields.get(k), v)
            }
            assert not wrong, (e["file"], wrong)
