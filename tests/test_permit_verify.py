"""What `verify` says it verified: the page only under a whole-file office signature.

Real permits from the real issuer, then the forger's edits made with the real tools:
pikepdf strips the signature and the embedded token and edits the page, reportlab
rebuilds a page around the genuine QR image, pyHanko appends an incremental update
after the signature, and a sealed token is opened with the checkpoint key and
re-encoded signed-only. The forging helpers here are shared with
tests/drills/test_spoofing_verify.py. Verification runs in-process (``sandbox=False``)
for speed; the drill runs the same cases through the CLI and the sandbox.
"""

from __future__ import annotations

import contextlib
import io
import json
import zlib
from pathlib import Path

import cbor2
import pikepdf
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from PIL import Image
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from sikm_mailbot.cli.permits import print_verdict
from sikm_mailbot.permits.base45 import b45decode
from sikm_mailbot.permits.issue import IssuedPermit
from sikm_mailbot.permits.keys import KeyStore
from sikm_mailbot.permits.pdf import TOKEN_FILENAME, TOKEN_INFO_KEY
from sikm_mailbot.permits.qr import make_qr_png
from sikm_mailbot.permits.token import PREFIX, to_text
from sikm_mailbot.permits.trust import TrustList
from sikm_mailbot.permits.verify import VerifyResult, sealing_required, verify_input
from sikm_mailbot.wiring import App
from tests.test_permit_issue import (
    FIELDS,
    NOW,
    add_application,
    cli,
    issue_permit,
    open_app,
    write_config,
)

FORGED_NAME = "ORANG LAIN SAMA SEKALI"
QR_SIZE = 680  # pixels of the QR image the issuer draws (box 8, version 14-15)


# ---- the forger's tools ----------------------------------------------------------------


def _forged_photo(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (20, 60, 200)).save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def strip_and_edit(
    pdf: bytes, new_name: str = FORGED_NAME, *, keep_token: str | None = None
) -> bytes:
    """The genuine file without its signature and embedded token, another name and
    photo on the page, the genuine QR kept. ``keep_token`` embeds that token instead."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        for key in ("/AcroForm", "/AF"):
            if key in doc.Root:
                del doc.Root[key]
        if TOKEN_FILENAME in doc.attachments:
            del doc.attachments[TOKEN_FILENAME]
        if TOKEN_INFO_KEY in doc.docinfo:
            del doc.docinfo[TOKEN_INFO_KEY]
        page = doc.pages[0]
        if "/Annots" in page.obj:
            del page.obj["/Annots"]
        content = page.obj.Contents.read_bytes()
        old = f"({FIELDS['nama']})".encode()
        assert old in content
        page.obj.Contents.write(content.replace(old, f"({new_name})".encode()))
        for _, image in page.obj.Resources.XObject.items():
            if int(image.get("/Width", 0)) != QR_SIZE:  # the photo, not the QR
                w, h = int(image.Width), int(image.Height)
                image.write(_forged_photo(w, h), filter=pikepdf.Name.DCTDecode)
        if keep_token is not None:
            doc.docinfo[TOKEN_INFO_KEY] = pikepdf.String(keep_token)
        out = io.BytesIO()
        doc.save(out)
    return out.getvalue()


def qr_image_of(pdf: bytes) -> Image.Image:
    """The QR image drawn on the genuine page, as pikepdf extracts it."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        for _, image in doc.pages[0].obj.Resources.XObject.items():
            if int(image.get("/Width", 0)) == QR_SIZE:
                return pikepdf.PdfImage(image).as_pil_image()
    raise AssertionError("no QR image on the page")


def rebuilt_page(pdf: bytes, new_name: str = FORGED_NAME) -> bytes:
    """A new reportlab page (a "print-to-PDF") with another name and the genuine QR."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    width, height = A4
    c.setFont("Helvetica-Bold", 18)
    c.drawString(20 * mm, height - 40 * mm, "Surat Izin Keluar Masuk (SIKM)")
    c.setFont("Helvetica", 11)
    c.drawString(20 * mm, height - 60 * mm, f"Nama / Name: {new_name}")
    c.drawImage(ImageReader(qr_image_of(pdf)), 20 * mm, 60 * mm, 50 * mm, 50 * mm)
    c.showPage()
    c.save()
    return buf.getvalue()


def appended_update(pdf: bytes, new_name: str = FORGED_NAME) -> bytes:
    """The signed file plus an incremental update (pyHanko) that paints another name
    over the page: the signature stays intact for the revision it signed."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page_ref = writer.root["/Pages"]["/Kids"][0]
    page = page_ref.get_object()
    overlay = (
        b"q 1 1 1 rg 160 660 280 20 re f Q "
        b"BT /F1 10 Tf 1 0 0 1 164.4094 667.5276 Tm (" + new_name.encode() + b") Tj ET"
    )
    ref = writer.add_object(generic.StreamObject(stream_data=overlay))
    page["/Contents"] = generic.ArrayObject([page.raw_get("/Contents"), ref])
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def unsealed(token: str, trust: TrustList) -> str:
    """A sealed token opened with a checkpoint key and re-encoded signed-only: the
    office's signature inside is untouched."""
    data = b45decode(token[len(PREFIX) :])
    if data[:1] == b"\x78":
        data = zlib.decompress(data)
    protected, unprotected, ciphertext = cbor2.loads(data).value
    key = trust.checkpoint_keys[unprotected[4]]
    aad = cbor2.dumps(["Encrypt0", protected, b""])
    return to_text(AESGCM(key).decrypt(unprotected[5], ciphertext, aad))


# ---- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> App:
    cfg = write_config(tmp_path_factory.mktemp("verify-office"))
    assert cli(cfg, "keys", "init").exit_code == 0
    app = open_app(cfg)
    for n in (1, 2):
        add_application(app, f"SIKM-2020-00110{n}")
    return app


@pytest.fixture(scope="module")
def permit(office: App) -> IssuedPermit:
    return issue_permit(office, "SIKM-2020-001101")


@pytest.fixture(scope="module")
def trust(office: App) -> TrustList:
    return KeyStore(office.settings.path(office.settings.permits.keys_dir)).trust_list()


def _cfg(app: App) -> Path:
    return app.settings.base_dir / "config.toml"


def _verify(office: App, trust: TrustList, name: str, data: bytes, **kw: bool) -> VerifyResult:
    path = office.settings.base_dir / name
    path.write_bytes(data)
    return verify_input(str(path), trust, NOW, sandbox=False, **kw)


def _qr_valid_page_unsigned(result: VerifyResult) -> None:
    doc = result.as_dict()
    assert (doc["valid"], doc["page_verified"], doc["reason_code"]) == (
        True, False, "page_not_signed",
    )  # fmt: skip
    assert doc["message_en"].startswith("QR valid; this page is NOT signed")
    assert "compare the name with the KTP, not the page" in doc["message_en"]
    assert "TIDAK ditandatangani" in doc["message_id"]
    assert doc["token_from"] == "qr"
    # The name shown is the token's, never the page's.
    assert doc["holder"]["name"] == FIELDS["nama"]
    assert FORGED_NAME not in str(doc)


# ---- tests -------------------------------------------------------------------------------


def test_genuine_pdf_verifies_the_page(office: App, trust: TrustList, permit: IssuedPermit) -> None:
    result = _verify(office, trust, "genuine.pdf", permit.pdf, require_sealed=True)
    doc = result.as_dict()
    assert (doc["valid"], doc["page_verified"], doc["reason_code"]) == (True, True, "ok")
    assert doc["token_from"] == "embedded" and doc["pdf_signature"]["covers_whole_file"]
    assert doc["page_note_en"].startswith("verified")


def test_stripped_and_edited_pdf_is_judged_on_its_qr(
    office: App, trust: TrustList, permit: IssuedPermit
) -> None:
    forged = strip_and_edit(permit.pdf)
    assert FORGED_NAME.encode() not in permit.pdf
    result = _verify(office, trust, "stripped.pdf", forged)
    _qr_valid_page_unsigned(result)
    assert result.pdf_signature is not None and result.pdf_signature["reason"] == "not_signed"


def test_rebuilt_page_with_the_genuine_qr_is_judged_on_its_qr(
    office: App, trust: TrustList, permit: IssuedPermit
) -> None:
    _qr_valid_page_unsigned(_verify(office, trust, "rebuilt.pdf", rebuilt_page(permit.pdf)))


def test_update_appended_after_the_signature_leaves_the_page_unverified(
    office: App, trust: TrustList, permit: IssuedPermit
) -> None:
    result = _verify(office, trust, "appended.pdf", appended_update(permit.pdf))
    _qr_valid_page_unsigned(result)
    sig = result.pdf_signature
    assert sig is not None and sig["intact"] and sig["trusted"]
    assert (sig["covers_whole_file"], sig["reason"]) == (False, "not_covers_whole_file")


def test_embedded_token_disagreeing_with_the_qr_is_ignored(
    office: App, trust: TrustList, permit: IssuedPermit
) -> None:
    other = issue_permit(office, "SIKM-2020-001102")
    forged = strip_and_edit(permit.pdf, keep_token=other.token)
    result = _verify(office, trust, "swapped.pdf", forged)
    _qr_valid_page_unsigned(result)
    assert result.as_dict()["permit_number"] == permit.number


def test_unsigned_embedded_token_without_a_readable_qr_is_refused(
    office: App, trust: TrustList, permit: IssuedPermit
) -> None:
    forged = strip_and_edit(permit.pdf, keep_token=permit.token)
    with pikepdf.open(io.BytesIO(forged)) as doc:  # blank the QR image out
        for _, image in doc.pages[0].obj.Resources.XObject.items():
            if int(image.get("/Width", 0)) == QR_SIZE:
                image.write(_forged_photo(QR_SIZE, QR_SIZE), filter=pikepdf.Name.DCTDecode)
        out = io.BytesIO()
        doc.save(out)
    result = _verify(office, trust, "no-qr.pdf", out.getvalue())
    assert (result.valid, result.page_verified, result.reason) == (False, False, "pdf_signature")
    assert result.as_dict()["page_note_en"].startswith("not verified")


def test_image_and_token_have_no_page(office: App, trust: TrustList, permit: IssuedPermit) -> None:
    image = _verify(office, trust, "qr.png", make_qr_png(permit.token))
    text = verify_input(permit.token, trust, NOW)
    for result in (image, text):
        doc = result.as_dict()
        assert (doc["valid"], doc["page_verified"], doc["reason_code"]) == (True, False, "ok")
        assert doc["page_note_en"].startswith("none: a QR image or a code has no page")


def test_signed_only_token_refused_when_sealing_is_on(
    office: App, trust: TrustList, permit: IssuedPermit
) -> None:
    signed_only = unsealed(permit.token, trust)
    assert signed_only != permit.token
    assert verify_input(signed_only, trust, NOW).valid  # genuine signature inside
    result = verify_input(signed_only, trust, NOW, require_sealed=True)
    doc = result.as_dict()
    assert (doc["valid"], doc["page_verified"], doc["reason_code"]) == (
        False, False, "not_sealed",
    )  # fmt: skip
    assert verify_input(permit.token, trust, NOW, require_sealed=True).valid


def test_sealing_required_follows_the_setting_and_the_device(trust: TrustList) -> None:
    public = TrustList(trust.issuer, trust.generated_at, dict(trust.signers))
    assert sealing_required(True, trust) is True
    assert sealing_required(False, trust) is False
    assert sealing_required(True, public) is False  # cannot open sealed codes at all


def test_trust_list_tells_checkpoints_whether_the_office_seals(
    office: App,
    permit: IssuedPermit,
    trust: TrustList,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # a checkpoint laptop: no config.toml here
    sealing = tmp_path / "trust-sealing.json"
    assert cli(_cfg(office), "keys", "export", str(sealing)).exit_code == 0
    assert json.loads(sealing.read_text())["sealed"] is True
    signed_only = unsealed(permit.token, trust)
    result = cli(None, "verify", "--trust", str(sealing), signed_only)
    assert result.exit_code == 1 and "(not_sealed)" in result.stderr

    # A signed-only office: its full trust list (checkpoint keys included) lets a
    # checkpoint with no config accept its signed-only codes.
    cfg = write_config(tmp_path / "open-office", encrypt_qr=False)
    assert cli(cfg, "keys", "init").exit_code == 0
    app = open_app(cfg)
    add_application(app, "SIKM-2020-001103")
    issued = issue_permit(app, "SIKM-2020-001103")
    open_list = tmp_path / "trust-open.json"
    assert cli(cfg, "keys", "export", str(open_list)).exit_code == 0
    doc = json.loads(open_list.read_text())
    assert doc["sealed"] is False and doc["checkpoint_keys"]
    result = cli(None, "verify", "--trust", str(open_list), "--json", issued.token)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["sealed"] is False


def test_verdict_printer_shows_outside_text_as_text(
    office: App, trust: TrustList, permit: IssuedPermit
) -> None:
    doc = _verify(office, trust, "genuine.pdf", permit.pdf).as_dict()
    hostile = "\x1b]8;;https://evil.example\x07[link=https://evil.example]X[/link]\u202e"
    doc["holder"]["name"] = hostile
    doc["pdf_signature"]["signer"] = hostile
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        print_verdict(doc)
    out = buffer.getvalue()
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "[link=https://evil.example]X[/link]" in out and "<U+202E>" in out
