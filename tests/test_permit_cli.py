"""`sikm keys …`, `sikm verify`, `sikm revoke` through the real CLI, on a real store.

An office folder (config + SQLite + file store + keys) issues permits; verification is
tried from the PDF, a clean PNG of the QR, a JPEG "phone photo" of it, and the token
text; then tampering, revocation, an offline checkpoint folder with only the exported
trust list, key rotation, and an encrypted (birth-date password) PDF.
"""

from __future__ import annotations

import io
import json
import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image, ImageFilter
from sqlmodel import Session, select

from sikm_mailbot.permits.issue import IssuedPermit
from sikm_mailbot.permits.qr import make_qr_png
from sikm_mailbot.store.models import Event, Permit
from sikm_mailbot.wiring import App
from tests.test_permit_issue import (
    BIRTH_PASSWORD,
    FIELDS,
    FULL_NIK,
    NOW,
    TODAY,
    add_application,
    cli,
    issue_permit,
    open_app,
    write_config,
)


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> App:
    cfg = write_config(tmp_path_factory.mktemp("office"))
    result = cli(cfg, "keys", "init")
    assert result.exit_code == 0, result.stderr
    app = open_app(cfg)
    for n in range(1, 4):
        add_application(app, f"SIKM-2020-00070{n}")
    return app


@pytest.fixture(scope="module")
def permit(office: App) -> IssuedPermit:
    return issue_permit(office, "SIKM-2020-000701")


def _cfg(app: App) -> Path:
    return app.settings.base_dir / "config.toml"


def _pdf_file(app: App, issued: IssuedPermit) -> Path:
    path = app.settings.base_dir / issued.filename
    path.write_bytes(issued.pdf)
    return path


def _phone_photo(token: str) -> bytes:
    """The QR as a phone would see a printout: scaled, turned 7°, blurred, on a grey desk."""
    qr = Image.open(io.BytesIO(make_qr_png(token, box_size=6))).convert("RGB")
    qr = qr.rotate(7, expand=True, fillcolor=(255, 255, 255), resample=Image.BICUBIC)
    qr = qr.resize((int(qr.width * 1.6), int(qr.height * 1.6)), Image.BILINEAR)
    desk = Image.new("RGB", (qr.width + 500, qr.height + 400), (120, 118, 110))
    desk.paste(qr, (230, 170))
    desk = desk.filter(ImageFilter.GaussianBlur(1.6))
    buf = io.BytesIO()
    desk.save(buf, format="JPEG", quality=70)
    return buf.getvalue()


def _json(result) -> dict:  # noqa: ANN001 - typer Result
    return json.loads(result.stdout)


# ---- keys ------------------------------------------------------------------------------


def test_keys_are_owner_only_and_listed(office: App) -> None:
    keys_dir = office.settings.base_dir / "var" / "keys"
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    files = list(keys_dir.iterdir())
    secret = [f for f in files if not f.name.endswith(".crt.pem")]
    assert len(secret) >= 3  # index, signing key, checkpoint key
    for f in secret:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name
    again = cli(_cfg(office), "keys", "init")
    assert again.exit_code == 1 and "already" in again.stderr
    listed = cli(_cfg(office), "keys", "list", "--json")
    assert listed.exit_code == 0, listed.stderr
    doc = _json(listed)
    kinds = {(k["kind"], k["status"]) for k in doc["keys"]}
    assert {("signing", "active"), ("checkpoint", "active")} <= kinds
    assert doc["issuer"] == "DPMPTSP DKI Jakarta"


def test_commands_without_keys_exit_2(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    for args in (["keys", "list"], ["verify", "SK1:ABC"], ["keys", "export", "t.json"]):
        result = cli(cfg, *args)
        assert result.exit_code == 2 and "sikm keys init" in result.stderr, args


# ---- verify: the four ways in ------------------------------------------------------------


def test_verify_pdf(office: App, permit: IssuedPermit) -> None:
    result = cli(_cfg(office), "verify", str(_pdf_file(office, permit)))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.startswith("VALID")
    assert FIELDS["nama"] in out and "************0042" in out and permit.number in out
    assert "JAKARTA BARAT -> SURABAYA" in out and str(TODAY) in out
    assert "PDF signature:     ok" in out
    assert FULL_NIK not in out and result.stderr == ""


def test_verify_pdf_json(office: App, permit: IssuedPermit) -> None:
    result = cli(_cfg(office), "verify", "--json", str(_pdf_file(office, permit)))
    assert result.exit_code == 0, result.stderr
    doc = _json(result)
    assert doc["valid"] is True and doc["reason_code"] == "ok"
    assert (doc["source"], doc["token_from"]) == ("pdf", "embedded")
    assert doc["holder"] == {"name": FIELDS["nama"], "nik_last4": "0042"}
    assert doc["route"] == {"origin": "JAKARTA BARAT", "destination": "SURABAYA"}
    assert doc["permit_number"] == permit.number and doc["sealed"] is True
    assert doc["valid_until"] == str(TODAY + timedelta(days=7))
    assert doc["pdf_signature"]["ok"] is True and doc["pdf_signature_required"] is True
    text = result.stdout
    for private in (FULL_NIK, FIELDS["tanggal_lahir"], FIELDS["alamat"], FIELDS["nomor_hp"]):
        assert private not in text


def test_verify_qr_png_phone_photo_and_token(office: App, permit: IssuedPermit) -> None:
    folder = office.settings.base_dir
    png = folder / "qr.png"
    png.write_bytes(make_qr_png(permit.token))
    photo = folder / "foto-hp.jpg"
    photo.write_bytes(_phone_photo(permit.token))
    for arg, source in ((png, "image"), (photo, "image")):
        result = cli(_cfg(office), "verify", "--json", str(arg))
        assert result.exit_code == 0, (arg.name, result.stderr)
        doc = _json(result)
        assert (doc["source"], doc["token_from"], doc["valid"]) == (source, "qr", True)
        assert doc["pdf_signature"] is None and doc["permit_number"] == permit.number
    result = cli(_cfg(office), "verify", permit.token)
    assert result.exit_code == 0, result.stderr
    assert FIELDS["nama"] in result.stdout and "token (text)" in result.stdout


# ---- verify: refusals ----------------------------------------------------------------------


def test_tampered_pdf_is_refused(office: App, permit: IssuedPermit) -> None:
    data = bytearray(permit.pdf)
    pos = data.index(permit.number.encode())  # the title, inside the signed byte range
    data[pos] ^= 0x01
    bad = office.settings.base_dir / "tampered.pdf"
    bad.write_bytes(bytes(data))
    result = cli(_cfg(office), "verify", "--json", str(bad))
    assert result.exit_code == 1
    doc = _json(result)  # the JSON document still goes to stdout
    assert doc["valid"] is False and doc["reason_code"] == "pdf_signature"
    assert doc["token_check"]["valid"] is True  # the token itself is intact
    assert doc["pdf_signature"]["intact"] is False
    assert result.stderr.count("\n") == 1 and "pdf_signature" in result.stderr


def test_tampered_token_and_junk_are_refused(office: App, permit: IssuedPermit) -> None:
    mid = len(permit.token) // 2
    flipped = (
        permit.token[:mid] + ("A" if permit.token[mid] != "A" else "B") + permit.token[mid + 1 :]
    )
    result = cli(_cfg(office), "verify", "--json", flipped)
    assert result.exit_code == 1
    doc = _json(result)
    assert doc["valid"] is False and doc["holder"] is None
    assert doc["reason_code"] in {"decrypt_failed", "bad_base45", "bad_cbor"}
    assert f"({doc['reason_code']})" in result.stderr

    junk = office.settings.base_dir / "kucing.png"
    junk.write_bytes(make_qr_png("HELLO WORLD"))
    result = cli(_cfg(office), "verify", str(junk))
    assert result.exit_code == 1 and "bad_prefix" in result.stderr

    blank = office.settings.base_dir / "blank.jpg"
    Image.new("RGB", (300, 300), "white").save(blank)
    result = cli(_cfg(office), "verify", str(blank))
    assert result.exit_code == 1 and "no_token" in result.stderr

    result = cli(_cfg(office), "verify", str(office.settings.base_dir / "no-such-file.pdf"))
    assert result.exit_code == 2 and "no such file" in result.stderr


# ---- revocation, export, offline checkpoint ------------------------------------------------


def test_revoke_export_and_offline_checkpoint(
    office: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    revoked = issue_permit(office, "SIKM-2020-000702")
    kept = issue_permit(office, "SIKM-2020-000703")
    cfg = _cfg(office)

    assert cli(cfg, "revoke", "SIKM-2020-000999-P1", "--reason", "x").exit_code == 1
    result = cli(
        cfg, "revoke", revoked.number, "--reason", "data palsu", env={"SIKM_OFFICER": "Budi"}
    )
    assert result.exit_code == 0, result.stderr
    again = cli(cfg, "revoke", revoked.number, "--reason", "twice")
    assert again.exit_code == 1 and "already revoked" in again.stderr
    with Session(office.engine) as s:
        row = s.get(Permit, revoked.number)
        assert row is not None and row.revoked_at is not None
        assert (row.revoked_by, row.revoke_reason) == ("Budi", "data palsu")
        events = s.exec(select(Event).where(Event.action == "permit_revoked")).all()
        assert [(e.application_id, e.actor) for e in events] == [("SIKM-2020-000702", "Budi")]

    result = cli(cfg, "verify", revoked.token)
    assert result.exit_code == 1 and "revoked" in result.stderr
    assert "INVALID" in result.stdout and FIELDS["nama"] in result.stdout

    trust_file = tmp_path / "trust.json"
    result = cli(cfg, "keys", "export", str(trust_file))
    assert result.exit_code == 0, result.stderr
    assert stat.S_IMODE(trust_file.stat().st_mode) == 0o600
    assert [r["permit"] for r in json.loads(trust_file.read_text())["revoked"]] == [revoked.number]

    # A checkpoint laptop: an empty folder, no config, no database, no key store.
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    monkeypatch.chdir(checkpoint)
    pdf = checkpoint / kept.filename
    pdf.write_bytes(kept.pdf)
    result = cli(None, "verify", "--trust", str(trust_file), str(pdf))
    assert result.exit_code == 0, result.stderr
    result = cli(None, "verify", "--trust", str(trust_file), "--json", revoked.token)
    assert result.exit_code == 1 and _json(result)["reason_code"] == "revoked"
    assert sorted(os.listdir(checkpoint)) == [kept.filename]  # nothing created offline


def test_rotation_keeps_old_permits_valid(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "office")
    assert cli(cfg, "keys", "init").exit_code == 0
    app = open_app(cfg)
    add_application(app, "SIKM-2020-000801")
    old = issue_permit(app, "SIKM-2020-000801")
    for args in (["keys", "rotate"], ["keys", "rotate", "--checkpoint"]):
        result = cli(cfg, *args)
        assert result.exit_code == 0, result.stderr
    new = issue_permit(app, "SIKM-2020-000801")
    with Session(app.engine) as s:
        kids = {p.number: p.signer_kid for p in s.exec(select(Permit)).all()}
    assert kids[old.number] != kids[new.number]
    listed = _json(cli(cfg, "keys", "list", "--json"))["keys"]
    assert sorted((k["kind"], k["status"]) for k in listed) == [
        ("checkpoint", "active"), ("checkpoint", "retired"),
        ("signing", "active"), ("signing", "retired"),
    ]  # fmt: skip
    for issued in (old, new):
        result = cli(cfg, "verify", "--json", issued.token)
        assert result.exit_code == 0, result.stderr
        assert _json(result)["signer_kid"] == kids[issued.number]
    trust = tmp_path / "trust.json"
    assert cli(cfg, "keys", "export", str(trust)).exit_code == 0
    assert cli(None, "verify", "--trust", str(trust), old.token).exit_code == 0


def test_signed_only_office(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, encrypt_qr=False)
    assert cli(cfg, "keys", "init").exit_code == 0
    app = open_app(cfg)
    add_application(app, "SIKM-2020-000901")
    issued = issue_permit(app, "SIKM-2020-000901")
    result = cli(cfg, "verify", "--json", issued.token)
    assert result.exit_code == 0, result.stderr
    assert _json(result)["sealed"] is False
    # Anyone holding only the public part of the trust list can check it.
    trust = tmp_path / "trust.json"
    assert cli(cfg, "keys", "export", str(trust)).exit_code == 0
    doc = json.loads(trust.read_text())
    doc["checkpoint_keys"] = []
    public = tmp_path / "public.json"
    public.write_text(json.dumps(doc))
    assert cli(None, "verify", "--trust", str(public), issued.token).exit_code == 0


def test_encrypted_pdf_needs_the_password(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, pdf_password="birthdate")
    assert cli(cfg, "keys", "init").exit_code == 0
    app = open_app(cfg)
    add_application(app, "SIKM-2020-001001")
    issued = issue_permit(app, "SIKM-2020-001001")
    pdf = _pdf_file(app, issued)
    result = cli(cfg, "verify", str(pdf))
    assert result.exit_code == 1 and "pdf_password_required" in result.stderr
    result = cli(cfg, "verify", "--password", "01011990", str(pdf))
    assert result.exit_code == 1 and "pdf_password_wrong" in result.stderr
    result = cli(cfg, "verify", "--json", "--password", BIRTH_PASSWORD, str(pdf))
    assert result.exit_code == 0, result.stderr
    doc = _json(result)
    assert doc["pdf_signature"]["ok"] is True and doc["holder"]["name"] == FIELDS["nama"]


def test_hostile_files_give_reasons_not_exceptions(
    office: App, permit: IssuedPermit, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sikm_mailbot.permits import verify as v
    from sikm_mailbot.permits.keys import KeyStore

    trust = KeyStore(office.settings.path(office.settings.permits.keys_dir)).trust_list()
    folder = office.settings.base_dir
    truncated = folder / "truncated.pdf"
    truncated.write_bytes(permit.pdf[: len(permit.pdf) // 3])
    result = v.verify_input(str(truncated), trust, NOW)
    # pikepdf may rebuild enough to find the token; the broken signature still refuses it.
    assert not result.valid
    assert result.reason in {"no_token", "file_unreadable", "pdf_signature"}
    garbage = folder / "garbage.pdf"
    garbage.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 50)
    result = v.verify_input(str(garbage), trust, NOW)
    assert (result.valid, result.reason) == (False, "no_token")
    assert result.as_dict()["holder"] is None

    monkeypatch.setattr(v, "MAX_IMAGE_BYTES", 1000)
    big = folder / "big.png"
    big.write_bytes(make_qr_png(permit.token))
    result = v.verify_input(str(big), trust, NOW)
    assert (result.valid, result.reason) == (False, "file_too_large")

    token_file = folder / "sikm-token.txt"
    token_file.write_text(permit.token + "\n")
    assert v.verify_input(str(token_file), trust, NOW).valid
    with pytest.raises(v.VerifyInputError, match="not a PDF"):
        v.verify_input(str(_cfg(office)), trust, NOW)
