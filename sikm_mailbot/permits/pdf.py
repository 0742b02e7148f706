"""The permit PDF: build it, sign it (PAdES), optionally encrypt it, read the token back.

Pipeline: :func:`build_permit_pdf` (reportlab page + the token embedded twice,
as the attached file ``sikm-token.txt`` and the document-info key
``/SIKMToken``) → :func:`sign_pdf` (pikepdf AES-256 encryption first, if asked,
then a pyHanko PAdES signature as an incremental update; encrypting after
signing would break the signature). :func:`read_token_from_pdf` gets the exact
token back; :func:`check_pdf_signature` validates the signature with pyHanko.
"""

from __future__ import annotations

import io
import secrets
import warnings
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pikepdf
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image, ImageOps
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from sikm_mailbot.domain.vocabulary import CATEGORY_NAMES_EN, CATEGORY_NAMES_ID
from sikm_mailbot.errors import PermitError

from .base45 import ALPHABET
from .qr import make_qr_png
from .token import DEFAULT_ISSUER, JAKARTA, MAX_TOKEN_CHARS, PREFIX, PermitClaims

TOKEN_FILENAME = "sikm-token.txt"
TOKEN_INFO_KEY = "/SIKMToken"
SIGNATURE_FIELD = "SIKM-Signature"
QR_WIDTH = 50 * mm  # including the 4-module quiet zone; the brief asks for >= 35 mm
PHOTO_W, PHOTO_H = 30 * mm, 40 * mm
MAX_PHOTO_PIXELS = 40_000_000
TRIP_NAMES = {"single": ("Sekali perjalanan", "Single trip"), "multiple": ("Berulang", "Multiple")}


class PermitPdfError(PermitError):
    """The permit PDF cannot be built, signed or read as asked (the message says why)."""


@dataclass(frozen=True)
class PermitData:
    """What the permit page shows. The QR token carries a subset (see :meth:`claims`)."""

    permit_number: str
    name: str
    nik_last4: str  # printed masked: ************1234
    category: str  # domain.Category value
    trip_type: str  # domain.TripType value
    origin: str
    destination: str
    valid_from: date
    valid_until: date
    issued_at: datetime
    guarantor_name: str | None = None
    guarantor_contact: str | None = None  # email and/or phone
    issuer: str = DEFAULT_ISSUER

    def claims(self) -> PermitClaims:
        """The token claims for this permit, so PDF and QR cannot disagree."""
        return PermitClaims(
            self.permit_number, self.name, self.nik_last4, self.category, self.trip_type,
            self.origin, self.destination, self.valid_from, self.valid_until,
        )  # fmt: skip


@dataclass(frozen=True)
class PdfSignatureCheck:
    """Outcome of :func:`check_pdf_signature`."""

    ok: bool  # intact, cryptographically valid, trusted, and covering the whole file
    reason: str  # "ok" or what failed
    intact: bool = False
    valid: bool = False
    trusted: bool = False
    covers_whole_file: bool = False
    signer: str | None = None


# ---- build -----------------------------------------------------------------


def _d(day: date) -> str:
    return day.strftime("%d-%m-%Y")


def _photo_reader(photo: bytes) -> ImageReader:
    """Re-encode an applicant's photo safely (format allow-list, pixel cap, EXIF turn)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(photo), formats=["JPEG", "PNG", "WEBP"])
            if img.width * img.height > MAX_PHOTO_PIXELS:
                raise PermitPdfError("photo is too large")
            img = ImageOps.exif_transpose(img).convert("RGB")
            img = ImageOps.fit(img, (354, 472))  # 3x4 cm at 300 dpi, centre crop
            buf = io.BytesIO()
            img.save(buf, format="JPEG", quality=88)
    except PermitPdfError:
        raise
    except Exception as exc:  # noqa: BLE001 - any undecodable upload
        raise PermitPdfError(f"photo cannot be read: {exc}") from exc
    buf.seek(0)
    return ImageReader(buf)


def _rows(data: PermitData) -> list[tuple[str, str, str]]:
    trip_id, trip_en = TRIP_NAMES.get(data.trip_type, (data.trip_type, data.trip_type))
    cat_id = CATEGORY_NAMES_ID.get(data.category, data.category)
    cat_en = CATEGORY_NAMES_EN.get(data.category, data.category)
    guarantor = " / ".join(x for x in (data.guarantor_name, data.guarantor_contact) if x) or "-"
    return [
        ("Nama", "Name", data.name),
        ("NIK", "ID number", "*" * 12 + data.nik_last4),
        ("Kategori", "Category", f"{cat_id} ({cat_en})"),
        ("Jenis perjalanan", "Trip type", f"{trip_id} ({trip_en})"),
        ("Kota asal", "Origin", data.origin),
        ("Kota tujuan", "Destination", data.destination),
        ("Berlaku", "Valid", f"{_d(data.valid_from)} s.d./to {_d(data.valid_until)}"),
        ("Penjamin", "Guarantor", guarantor),
    ]


def build_permit_pdf(data: PermitData, token: str, photo: bytes | None = None) -> bytes:
    """One A4 page: headings (Indonesian, English below), details, photo, QR of ``token``.

    The token is also embedded as ``sikm-token.txt`` and the info key
    ``/SIKMToken`` so :func:`read_token_from_pdf` returns it exactly.
    Raises :class:`PermitPdfError` for an unreadable photo or a malformed token.
    """
    if not _looks_like_token(token):
        raise PermitPdfError("token is not an SK1 token")
    photo_reader = _photo_reader(photo) if photo else None
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, pageCompression=1)
    c.setTitle(f"SIKM {data.permit_number}")
    c.setAuthor(data.issuer)
    c.setSubject("Surat Izin Keluar Masuk (SIKM) / Exit-Entry Permit")
    width, height = A4
    left, y = 20 * mm, height - 22 * mm

    c.setFont("Helvetica-Bold", 11)
    c.drawString(left, y, "PEMERINTAH PROVINSI DAERAH KHUSUS IBUKOTA JAKARTA")
    c.setFont("Helvetica", 9)
    c.drawString(left, y - 12, data.issuer)
    c.line(left, y - 18, width - left, y - 18)

    y -= 42
    c.setFont("Helvetica-Bold", 18)
    c.drawString(left, y, "Surat Izin Keluar Masuk (SIKM)")
    c.setFont("Helvetica-Oblique", 12)
    c.drawString(left, y - 16, "Exit-Entry Permit")
    c.setFont("Helvetica-Bold", 12)
    c.drawString(left, y - 38, f"Nomor / Number: {data.permit_number}")

    # Photo (or an empty box labelled "foto") at the top right.
    px, py = width - left - PHOTO_W, y - 40 - PHOTO_H + 20
    if photo_reader is not None:
        c.drawImage(photo_reader, px, py, PHOTO_W, PHOTO_H)
    else:
        c.setFont("Helvetica", 10)
        c.drawCentredString(px + PHOTO_W / 2, py + PHOTO_H / 2, "foto")
    c.rect(px, py, PHOTO_W, PHOTO_H)

    y -= 70
    for label_id, label_en, value in _rows(data):
        c.setFont("Helvetica-Bold", 10)
        c.drawString(left, y, label_id)
        c.setFont("Helvetica-Oblique", 8)
        c.drawString(left, y - 10, label_en)
        c.setFont("Helvetica", 10)
        c.drawString(left + 38 * mm, y, value[:90])
        y -= 26

    qr = ImageReader(io.BytesIO(make_qr_png(token, box_size=8)))
    qy = y - QR_WIDTH - 4 * mm
    c.drawImage(qr, left, qy, QR_WIDTH, QR_WIDTH)
    c.setFont("Helvetica", 9)
    tx = left + QR_WIDTH + 8 * mm
    notes = [
        "Kode QR ini disegel untuk petugas pos pemeriksaan.",
        "This QR code is sealed for checkpoint officers.",
        "",
        "Tunjukkan bersama KTP asli.",
        "Show together with your original KTP.",
        "",
        f"Diterbitkan / Issued: {data.issued_at.astimezone(JAKARTA):%d-%m-%Y %H:%M} WIB",
        "Ditandatangani secara elektronik / Electronically signed.",
    ]
    for i, line in enumerate(notes):
        c.drawString(tx, qy + QR_WIDTH - 12 - 12 * i, line)
    c.showPage()
    c.save()
    return _embed_token(buf.getvalue(), token)


def _embed_token(pdf_bytes: bytes, token: str) -> bytes:
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        pdf.attachments[TOKEN_FILENAME] = pikepdf.AttachedFileSpec(
            pdf,
            token.encode("ascii"),
            filename=TOKEN_FILENAME,
            mime_type="text/plain",
            description="SIKM permit token (same as the QR code)",
        )
        pdf.docinfo[pikepdf.Name(TOKEN_INFO_KEY)] = pikepdf.String(token)
        out = io.BytesIO()
        pdf.save(out)
    return out.getvalue()


# ---- sign and encrypt --------------------------------------------------------


def _load_key(
    private_key: ec.EllipticCurvePrivateKey | str | Path, passphrase: bytes | None
) -> ec.EllipticCurvePrivateKey:
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return private_key
    try:
        key = serialization.load_pem_private_key(Path(private_key).read_bytes(), passphrase)
    except (OSError, TypeError, ValueError) as exc:
        raise PermitPdfError(f"cannot load signing key {private_key}: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PermitPdfError("signing key is not an EC key")
    return key


def _load_cert(certificate: x509.Certificate | str | Path) -> x509.Certificate:
    if isinstance(certificate, x509.Certificate):
        return certificate
    try:
        return x509.load_pem_x509_certificate(Path(certificate).read_bytes())
    except (OSError, ValueError) as exc:
        raise PermitPdfError(f"cannot load certificate {certificate}: {exc}") from exc


def encrypt_pdf(pdf_bytes: bytes, user_password: str, owner_password: str) -> bytes:
    """AES-256 (R6) encryption with pikepdf; printing allowed, changes not."""
    if not user_password:
        raise PermitPdfError("empty encryption password")
    perms = pikepdf.Permissions(modify_other=False, modify_annotation=False, modify_form=False)
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        out = io.BytesIO()
        pdf.save(out, encryption=pikepdf.Encryption(
            user=user_password, owner=owner_password, R=6, allow=perms
        ))  # fmt: skip
    return out.getvalue()


def sign_pdf(
    pdf_bytes: bytes,
    private_key: ec.EllipticCurvePrivateKey | str | Path,
    certificate: x509.Certificate | str | Path,
    key_passphrase: bytes | None = None,
    *,
    encrypt_password: str | None = None,
    reason: str = "Surat Izin Keluar Masuk (SIKM) diterbitkan / Exit-Entry Permit issued",
    location: str = "Jakarta",
) -> bytes:
    """PAdES baseline signature (pyHanko, incremental update) over ``pdf_bytes``.

    ``private_key``/``certificate`` are key objects or PEM paths (``key_passphrase``
    for an encrypted PEM). With ``encrypt_password`` the file is first encrypted
    (AES-256) with that user password and a random, discarded owner password;
    pyHanko authenticates with the owner password to append the signature.
    """
    key = _load_key(private_key, key_passphrase)
    cert = _load_cert(certificate)
    owner_password = None
    if encrypt_password is not None:
        owner_password = secrets.token_urlsafe(32)
        pdf_bytes = encrypt_pdf(pdf_bytes, encrypt_password, owner_password)
    asn1_cert = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    signer = signers.SimpleSigner(
        signing_cert=asn1_cert,
        signing_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ),
        cert_registry=SimpleCertificateStore.from_certs([asn1_cert]),
    )
    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
    )
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf_bytes))
        if owner_password is not None:
            writer.encrypt(owner_password)
        out = signers.sign_pdf(writer, meta, signer=signer)
    except Exception as exc:  # noqa: BLE001 - pyHanko raises many types
        raise PermitPdfError(f"cannot sign PDF: {exc}") from exc
    return out.getvalue()


def check_pdf_signature(
    source: str | Path | bytes,
    trusted: list[x509.Certificate],
    password: str | None = None,
) -> PdfSignatureCheck:
    """Validate the permit's signature with pyHanko against ``trusted`` certificates."""
    try:
        data = Path(source).read_bytes() if isinstance(source, str | Path) else bytes(source)
        reader = PdfFileReader(io.BytesIO(data))
        if reader.encrypted and (not password or reader.decrypt(password).status.name == "FAILED"):
            return PdfSignatureCheck(False, "password_required_or_wrong")
        sigs = reader.embedded_signatures
        if not sigs:
            return PdfSignatureCheck(False, "not_signed")
        roots = [
            asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in trusted
        ]
        status = validate_pdf_signature(sigs[-1], ValidationContext(trust_roots=roots))
    except Exception as exc:  # noqa: BLE001 - untrusted file
        return PdfSignatureCheck(False, f"unreadable: {type(exc).__name__}")
    whole = status.coverage is not None and status.coverage.name == "ENTIRE_FILE"
    checks = {
        "intact": status.intact,
        "valid": status.valid,
        "trusted": status.trusted,
        "covers_whole_file": whole,
    }
    failed = [name for name, good in checks.items() if not good]
    return PdfSignatureCheck(
        ok=not failed,
        reason="ok" if not failed else "not_" + failed[0],
        intact=status.intact,
        valid=status.valid,
        trusted=status.trusted,
        covers_whole_file=whole,
        signer=status.signing_cert.subject.human_friendly if status.signing_cert else None,
    )


# ---- read back ---------------------------------------------------------------


def _looks_like_token(text: object) -> bool:
    return (
        isinstance(text, str)
        and text.startswith(PREFIX)
        and len(text) <= MAX_TOKEN_CHARS
        and all(ch in ALPHABET for ch in text[len(PREFIX) :])
    )


def read_token_from_pdf(source: str | Path | bytes, password: str | None = None) -> str | None:
    """The token embedded by :func:`build_permit_pdf`, or None (no token, bad file, bad password).

    Prefers the attached ``sikm-token.txt``, then the ``/SIKMToken`` info key.
    """
    try:
        src = io.BytesIO(source) if isinstance(source, bytes | bytearray) else Path(source)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "password given but not needed" is harmless
            pdf = pikepdf.open(src, password=password or "")
        with pdf:
            candidates: list[object] = []
            spec = pdf.attachments.get(TOKEN_FILENAME)
            if spec is not None:
                raw = spec.get_file().read_bytes()
                if len(raw) <= MAX_TOKEN_CHARS:
                    candidates.append(raw.decode("ascii", errors="replace").strip())
            info = pdf.docinfo.get(TOKEN_INFO_KEY)
            if info is not None:
                candidates.append(str(info))
    except Exception:  # noqa: BLE001 - damaged file or wrong password
        return None
    for text in candidates:
        if _looks_like_token(text):
            return str(text)
    return None
