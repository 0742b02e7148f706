"""Permit PDF: layout facts, PAdES signature (pyHanko and poppler's pdfsig), encryption,
token read-back, and the QR scanned from the rendered page."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pikepdf
import pypdfium2 as pdfium
import pytest
from PIL import Image
from pypdfium2 import raw as pdfium_c

from sikm_mailbot.permits.keys import KeyStore
from sikm_mailbot.permits.pdf import (
    PermitData,
    PermitPdfError,
    build_permit_pdf,
    check_pdf_signature,
    read_token_from_pdf,
    sign_pdf,
)
from sikm_mailbot.permits.qr import decode_qr_from_pdf
from sikm_mailbot.permits.token import issue_token, verify_token

# Real clock: pdfsig checks the certificate against today, so keys are made "now".
NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.astimezone(ZoneInfo("Asia/Jakarta")).date()
PASSWORD = "Rahasia-2020!"
DATA = PermitData(
    permit_number="SIKM-2020-05-000123",
    name="Raden Ayu Kusumawardhani Setyaningrum Purbonegoro",
    nik_last4="7305",
    category="nonresident_in",
    trip_type="multiple",
    origin="Kabupaten Bandung Barat",
    destination="Jakarta Selatan",
    valid_from=TODAY,
    valid_until=TODAY + timedelta(days=30),
    issued_at=NOW,
    guarantor_name="PT Contoh Logistik",
    guarantor_contact="hrd@example.com / 081234567890",
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    ks = KeyStore(tmp_path_factory.mktemp("pdfkeys") / "store", passphrase=b"pdf test")
    ks.init("DPMPTSP DKI Jakarta", NOW - timedelta(minutes=1))
    return ks


@pytest.fixture(scope="module")
def token(store: KeyStore) -> str:
    return issue_token(DATA.claims(), store.active_signer(), store.active_checkpoint(), NOW)


@pytest.fixture(scope="module")
def files(store: KeyStore, token: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("pdfs")
    signer = store.active_signer()
    unsigned = build_permit_pdf(DATA, token, None)
    plain = out / "permit.pdf"
    plain.write_bytes(sign_pdf(unsigned, signer.private_key, signer.certificate))
    key_path, cert_path = store.signing_key_paths()
    locked = out / "permit-locked.pdf"
    locked.write_bytes(
        sign_pdf(unsigned, key_path, cert_path, b"pdf test", encrypt_password=PASSWORD)
    )
    return {"plain": plain, "locked": locked, "unsigned": unsigned, "cert": signer.certificate}


def _pdfsig(path: Path, password: str | None = None) -> str:
    if shutil.which("pdfsig") is None:
        pytest.skip("poppler-utils pdfsig not installed")
    args = ["pdfsig", *(["-upw", password] if password else []), str(path)]
    return subprocess.run(args, capture_output=True, text=True, timeout=60).stdout


def test_page_text_and_masked_nik(files: dict) -> None:
    pdf = pdfium.PdfDocument(str(files["plain"]))
    text = pdf[0].get_textpage().get_text_range()
    for expected in (
        "Surat Izin Keluar Masuk (SIKM)",
        "Exit-Entry Permit",
        DATA.permit_number,
        DATA.name,
        "************7305",
        "Kabupaten Bandung Barat",
        "hrd@example.com",
        "foto",
    ):
        assert expected in text, expected
    assert len(pdf) == 1
    width, height = pdf[0].get_size()
    assert (round(width), round(height)) == (595, 842)  # A4


def test_qr_printed_at_least_35_mm(files: dict) -> None:
    page = pdfium.PdfDocument(str(files["plain"]))[0]
    squares = []
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]):
        left, bottom, right, top = obj.get_bounds()
        if abs((right - left) - (top - bottom)) < 1:
            squares.append(right - left)
    assert squares and max(squares) >= 35 / 25.4 * 72


def test_signature_valid_with_pyhanko(files: dict, store: KeyStore) -> None:
    for name, password in (("plain", None), ("locked", PASSWORD)):
        check = check_pdf_signature(files[name], [files["cert"]], password)
        assert check.ok, (name, check)
        assert check.intact and check.valid and check.trusted and check.covers_whole_file
        assert "DPMPTSP DKI Jakarta" in (check.signer or "")


def test_signature_untrusted_or_tampered_is_refused(files: dict, tmp_path: Path) -> None:
    other = KeyStore(tmp_path / "other")
    other.init("Somebody Else", NOW)
    wrong_root = check_pdf_signature(files["plain"], [other.active_signer().certificate])
    assert not wrong_root.ok and wrong_root.reason == "not_trusted" and wrong_root.intact
    data = bytearray(files["plain"].read_bytes())
    pos = data.index(b"SIKM-2020-05-000123")  # inside the signed byte range
    data[pos] ^= 0x01
    tampered = check_pdf_signature(bytes(data), [files["cert"]])
    assert not tampered.ok and not tampered.intact
    assert check_pdf_signature(files["unsigned"], [files["cert"]]).reason == "not_signed"
    assert not check_pdf_signature(files["locked"], [files["cert"]]).ok  # no password
    assert not check_pdf_signature(b"junk", [files["cert"]]).ok


def test_signature_valid_with_pdfsig(files: dict, tmp_path: Path) -> None:
    out = _pdfsig(files["plain"])
    assert "Signature Validation: Signature is Valid." in out, out
    assert "Total document signed" in out
    out = _pdfsig(files["locked"], PASSWORD)
    assert "Signature Validation: Signature is Valid." in out, out
    data = bytearray(files["plain"].read_bytes())
    data[data.index(b"SIKM-2020-05-000123")] ^= 0x01
    bad = tmp_path / "tampered.pdf"
    bad.write_bytes(bytes(data))
    out = _pdfsig(bad)
    assert "Signature Validation:" in out and "Signature is Valid." not in out, out


def test_encrypted_permit_opens_with_right_password_only(files: dict) -> None:
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(files["locked"])
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(files["locked"], password="salah")
    with pikepdf.open(files["locked"], password=PASSWORD) as pdf:
        assert pdf.is_encrypted and pdf.encryption.R == 6
        assert len(pdf.pages) == 1
    assert DATA.name.encode() not in files["locked"].read_bytes()
    assert read_token_from_pdf(files["locked"]) is None
    assert read_token_from_pdf(files["locked"], "salah") is None
    assert decode_qr_from_pdf(files["locked"]) is None


def test_token_read_back_exactly(files: dict, token: str) -> None:
    assert read_token_from_pdf(files["plain"]) == token
    assert read_token_from_pdf(files["plain"].read_bytes()) == token
    assert read_token_from_pdf(files["locked"], PASSWORD) == token
    assert read_token_from_pdf(b"%PDF-1.4 junk") is None


def test_qr_scanned_from_rendered_page_verifies(files: dict, token: str, store: KeyStore) -> None:
    for name, password in (("plain", None), ("locked", PASSWORD)):
        scanned = decode_qr_from_pdf(files[name], password)
        assert scanned == token, name
    verdict = verify_token(scanned, store.trust_list(), NOW + timedelta(hours=1))
    assert verdict.reason_code == "ok"
    assert verdict.claims == DATA.claims()


def test_photo_is_used_and_bad_photo_refused(token: str) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (600, 800), (180, 40, 40)).save(buf, format="JPEG")
    pdf = build_permit_pdf(DATA, token, buf.getvalue())
    page = pdfium.PdfDocument(pdf)[0]
    images = list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]))
    assert len(images) == 2  # photo + QR
    assert "foto" not in page.get_textpage().get_text_range()
    with pytest.raises(PermitPdfError, match="photo"):
        build_permit_pdf(DATA, token, b"not a photo")
    with pytest.raises(PermitPdfError, match="token"):
        build_permit_pdf(DATA, "not a token", None)


def test_permit_dates_match_token(token: str, store: KeyStore) -> None:
    verdict = verify_token(token, store.trust_list(), NOW)
    assert verdict.claims is not None
    assert (verdict.claims.valid_from, verdict.claims.valid_until) == (
        DATA.valid_from,
        DATA.valid_until,
    )
    assert isinstance(DATA.valid_from, date)
