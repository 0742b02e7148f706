"""Issuing a permit from a stored application: token, signed PDF, file store, Permit row.

Real parts throughout: a migrated SQLite store, the content-addressed file store, a key
store made by `sikm keys init`, pyHanko for the signature. The helpers here are shared
with test_permit_cli.py.
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pikepdf
import pypdfium2 as pdfium
import pytest
from PIL import Image
from pypdfium2 import raw as pdfium_c
from sqlmodel import Session, select
from typer.testing import CliRunner, Result

from sikm_mailbot.cli import app as cli_app
from sikm_mailbot.cli.permits import register
from sikm_mailbot.config import load_settings
from sikm_mailbot.permits.issue import IssuedPermit, PermitError, PermitIssuer
from sikm_mailbot.permits.keys import KeyStore
from sikm_mailbot.permits.pdf import check_pdf_signature, read_token_from_pdf
from sikm_mailbot.permits.token import JAKARTA, verify_token
from sikm_mailbot.store.models import Application, Attachment, Permit
from sikm_mailbot.wiring import App

# Real clock: pyHanko validates the signing certificate against the present time.
NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.astimezone(JAKARTA).date()
BIRTH_PASSWORD = "14031990"

# An invented applicant: a woman born 14-03-1990 (NIK day 54 = 14 + 40), serial 0042.
FIELDS: dict[str, str] = {
    "nama": "DEWI ANGGRAINI PRATAMA",
    "nik": "3173015403900042",
    "tempat_lahir": "JAKARTA",
    "tanggal_lahir": "1990-03-14",
    "jenis_kelamin": "P",
    "alamat": "Jl. Contoh Raya No. 7, Kembangan, Jakarta Barat",
    "nomor_hp": "+6281298765432",
    "email": "dewi.anggraini@example.com",
    "pekerjaan": "Perawat",
    "kategori": "resident_out",
    "sektor": "kesehatan",
    "jenis_perjalanan": "single",
    "kota_asal": "JAKARTA BARAT",
    "kota_tujuan": "SURABAYA",
    "tanggal_berangkat": TODAY.isoformat(),
    "tanggal_kembali": (TODAY + timedelta(days=7)).isoformat(),
    "keperluan": "Penugasan rumah sakit rujukan",
    "penjamin_nama": "RS CONTOH SEHAT",
    "penjamin_hp": "+6281311112222",
    "penjamin_email": "sdm@rs-contoh.example.org",
}
FULL_NIK = FIELDS["nik"]

_runner = CliRunner()
register(cli_app)
register(cli_app)  # a second call must be harmless (the lead also calls it in cli.py)


def write_config(root: Path, **permits: Any) -> Path:
    """A config.toml in ``root`` (all data under root/var) with [permits] overrides."""
    root.mkdir(parents=True, exist_ok=True)
    lines = ['data_dir = "var"', "[permits]"]
    for key, value in permits.items():
        lines.append(f"{key} = {str(value).lower() if isinstance(value, bool) else repr(value)}")
    path = root / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cli(cfg: Path | None, *args: str, env: dict[str, str | None] | None = None) -> Result:
    """Run `sikm [--config cfg] args…` through the real Typer app."""
    argv = (["--config", str(cfg)] if cfg else []) + list(args)
    # The CLI's clock is the tests' NOW (keys made "now" must predate what they sign,
    # however long the suite ran before these tests).
    base = {"SIKM_KEY_PASSPHRASE": None, "SIKM_NOW": NOW.isoformat()}
    result = _runner.invoke(cli_app, argv, env={**base, **(env or {})})
    # The CLI's logging handler wrote to the runner's stderr, which is closed now.
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(getattr(handler, "stream", None), "closed", False):
            root.removeHandler(handler)
    return result


def open_app(cfg: Path) -> App:
    """The wired application for a config file (migrated store, file store)."""
    return App(load_settings(cfg))


def photo_jpeg() -> bytes:
    """A portrait 3x4 'pas foto' (invented: a plain coloured figure)."""
    img = Image.new("RGB", (600, 800), (200, 30, 30))
    img.paste((240, 220, 200), (180, 150, 420, 450))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def add_application(
    app: App, app_id: str, fields: dict[str, str] | None = None, photo: bytes | None = None
) -> None:
    """Store an under-review application with the given fields and a photo attachment."""
    fields = dict(FIELDS if fields is None else fields)
    with Session(app.engine) as s:
        s.add(
            Application(
                id=app_id,
                status="under_review",
                category=fields.get("kategori"),
                trip_type=fields.get("jenis_perjalanan"),
                applicant_email=fields.get("email", ""),
                name=fields.get("nama", ""),
                nik_last4=fields.get("nik", "")[-4:],
                fields=fields,
            )
        )
        s.flush()  # the attachment's foreign key needs the application row first
        data = photo if photo is not None else photo_jpeg()
        s.add(
            Attachment(
                application_id=app_id,
                filename="pasfoto.jpg",
                kind="photo",
                detected_type="jpeg",
                sha256=app.files.put(data),
                size=len(data),
            )
        )
        s.commit()


def issue_permit(app: App, app_id: str, officer: str = "Officer Test") -> IssuedPermit:
    """Issue and commit a permit, as the approve command will."""
    with Session(app.engine, expire_on_commit=False) as s:
        application = s.get(Application, app_id)
        assert application is not None
        issued = PermitIssuer(app.settings, app.files).issue(s, application, NOW, officer)
        s.commit()
    return issued


# ---- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> App:
    cfg = write_config(tmp_path_factory.mktemp("office"))
    assert cli(cfg, "keys", "init").exit_code == 0
    app = open_app(cfg)
    add_application(app, "SIKM-2020-000101")
    return app


@pytest.fixture(scope="module")
def issued(office: App) -> IssuedPermit:
    return issue_permit(office, "SIKM-2020-000101")


def _store(app: App) -> KeyStore:
    return KeyStore(app.settings.path(app.settings.permits.keys_dir))


# ---- issuing ----------------------------------------------------------------------------


def test_permit_row_token_and_pdf_agree(office: App, issued: IssuedPermit) -> None:
    assert issued.number == "SIKM-2020-000101-P1"
    assert issued.filename == "SIKM-2020-000101-P1.pdf"
    assert (issued.valid_from, issued.valid_until) == (TODAY, TODAY + timedelta(days=7))
    assert issued.password_hint == ""
    with Session(office.engine) as s:
        row = s.get(Permit, issued.number)
        assert row is not None
        assert row.application_id == "SIKM-2020-000101" and row.issued_by == "Officer Test"
        assert row.token == issued.token and row.revoked_at is None
        assert row.signer_kid == _store(office).active_signer().kid.hex()
        assert office.files.get(row.pdf_sha256) == issued.pdf
    verdict = verify_token(issued.token, _store(office).trust_list(), NOW)
    assert verdict.valid and verdict.sealed is True
    c = verdict.claims
    assert c is not None
    assert (c.permit_number, c.name, c.nik_last4) == (issued.number, FIELDS["nama"], "0042")
    assert (c.category, c.trip_type) == ("resident_out", "single")
    assert (c.origin, c.destination) == ("JAKARTA BARAT", "SURABAYA")
    assert (c.valid_from, c.valid_until) == (issued.valid_from, issued.valid_until)
    assert read_token_from_pdf(issued.pdf) == issued.token


def test_pdf_is_signed_shows_photo_and_masks_nik(office: App, issued: IssuedPermit) -> None:
    check = check_pdf_signature(issued.pdf, [_store(office).active_signer().certificate])
    assert check.ok, check
    page = pdfium.PdfDocument(issued.pdf)[0]
    text = page.get_textpage().get_text_range()
    assert FIELDS["nama"] in text and "************0042" in text
    assert "RS CONTOH SEHAT" in text and "+6281311112222" in text
    assert FULL_NIK not in text
    images = list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]))
    assert len(images) == 2  # photo + QR
    assert FULL_NIK.encode() not in issued.pdf and FULL_NIK not in issued.token


def test_second_permit_gets_next_number(office: App, issued: IssuedPermit) -> None:
    again = issue_permit(office, "SIKM-2020-000101")
    assert again.number == "SIKM-2020-000101-P2"
    assert again.token != issued.token


def test_no_commit_inside_issue(office: App) -> None:
    add_application(office, "SIKM-2020-000102")
    with Session(office.engine) as s:
        application = s.get(Application, "SIKM-2020-000102")
        assert application is not None
        issued = PermitIssuer(office.settings, office.files).issue(s, application, NOW, "x")
        s.rollback()  # the caller's status change failed: the permit must vanish too
    with Session(office.engine) as s:
        assert s.get(Permit, issued.number) is None


def test_multiple_trip_uses_berlaku_sampai(office: App) -> None:
    fields = {k: v for k, v in FIELDS.items() if k != "tanggal_kembali"}
    fields.update(jenis_perjalanan="multiple", berlaku_sampai=str(TODAY + timedelta(days=60)))
    add_application(office, "SIKM-2020-000103", fields)
    issued = issue_permit(office, "SIKM-2020-000103")
    assert issued.valid_until == TODAY + timedelta(days=60)
    verdict = verify_token(issued.token, _store(office).trust_list(), NOW)
    assert verdict.claims is not None and verdict.claims.trip_type == "multiple"


@pytest.mark.parametrize(
    ("n", "change", "message"),
    [
        (1, {"nama": ""}, "name"),
        (2, {"tanggal_berangkat": ""}, "departure date"),
        (3, {"tanggal_kembali": "kapan-kapan"}, "not a date"),
        (4, {"nik": "31730154"}, "NIK"),
        (5, {"jenis_perjalanan": "sometimes"}, "trip type"),
        (6, {"tanggal_berangkat": "2020-05-01", "tanggal_kembali": "2020-05-08"}, "ended"),
        (7, {"tanggal_kembali": str(TODAY - timedelta(days=1))}, "before it starts"),
    ],
)
def test_missing_or_invalid_fields_are_refused(
    office: App, n: int, change: dict[str, str], message: str
) -> None:
    app_id = f"SIKM-2020-0002{n:02d}"
    fields = {**FIELDS, **change}
    add_application(office, app_id, fields)
    with Session(office.engine) as s:
        application = s.get(Application, app_id)
        assert application is not None
        application.trip_type = None  # let the field decide, as for an untyped row
        with pytest.raises(PermitError, match=message):
            PermitIssuer(office.settings, office.files).issue(s, application, NOW, "x")
        assert not s.new  # nothing added to the caller's session
    with Session(office.engine) as s:
        assert not s.exec(select(Permit).where(Permit.application_id == app_id)).all()


def test_no_keys_is_refused_with_the_fix(tmp_path: Path) -> None:
    app = open_app(write_config(tmp_path))
    add_application(app, "SIKM-2020-000301")
    with pytest.raises(PermitError, match="sikm keys init"):
        issue_permit(app, "SIKM-2020-000301")


def test_missing_or_unreadable_photo_gives_a_permit_without_photo(office: App) -> None:
    add_application(office, "SIKM-2020-000104", photo=b"\xff\xd8\xff not really a jpeg")
    issued = issue_permit(office, "SIKM-2020-000104")
    page = pdfium.PdfDocument(issued.pdf)[0]
    assert len(list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]))) == 1  # QR only
    assert "foto" in page.get_textpage().get_text_range()


def test_birthdate_password_and_signed_only(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, pdf_password="birthdate", encrypt_qr=False)
    assert cli(cfg, "keys", "init", "--issuer", "Kantor Uji").exit_code == 0
    app = open_app(cfg)
    add_application(app, "SIKM-2020-000401")
    issued = issue_permit(app, "SIKM-2020-000401")
    assert "DDMMYYYY" in issued.password_hint and BIRTH_PASSWORD not in issued.password_hint
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(io.BytesIO(issued.pdf))
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(io.BytesIO(issued.pdf), password="19900314")
    with pikepdf.open(io.BytesIO(issued.pdf), password=BIRTH_PASSWORD) as pdf:
        assert pdf.is_encrypted and len(pdf.pages) == 1
    # Signed only: a verifier without any checkpoint key reads and checks it.
    trust = _store(app).trust_list()
    trust.checkpoint_keys.clear()
    verdict = verify_token(issued.token, trust, NOW)
    assert verdict.valid and verdict.sealed is False and verdict.issuer == "Kantor Uji"

    no_birth = {k: v for k, v in FIELDS.items() if k != "tanggal_lahir"}
    add_application(app, "SIKM-2020-000402", no_birth)
    with pytest.raises(PermitError, match="birth date"):
        issue_permit(app, "SIKM-2020-000402")


def test_passphrase_protected_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write_config(tmp_path, passphrase_env="SIKM_TEST_PASSPHRASE")
    env = {"SIKM_TEST_PASSPHRASE": "kata sandi kunci"}
    assert cli(cfg, "keys", "init", env=env).exit_code == 0
    pem = next((tmp_path / "var" / "keys").glob("signing-*.key.pem")).read_bytes()
    assert b"ENCRYPTED" in pem
    app = open_app(cfg)
    add_application(app, "SIKM-2020-000501")
    monkeypatch.delenv("SIKM_TEST_PASSPHRASE", raising=False)
    with pytest.raises(PermitError, match="SIKM_TEST_PASSPHRASE"):
        issue_permit(app, "SIKM-2020-000501")
    monkeypatch.setenv("SIKM_TEST_PASSPHRASE", "kata sandi kunci")
    assert issue_permit(app, "SIKM-2020-000501").number == "SIKM-2020-000501-P1"
