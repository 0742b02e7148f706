"""Issue a permit for an approved application: token, signed PDF, stored file, Permit row.

The caller (the officer's approve command) owns the transaction: :meth:`PermitIssuer.issue`
adds the ``Permit`` row to the session and stores the PDF in the content-addressed file
store, but never commits, so the permit and the status change land together. A PDF left
in the file store by a rolled-back transaction is harmless (content-addressed, unreferenced).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlmodel import Session, func, select

from sikm_mailbot.config import Settings
from sikm_mailbot.domain.codes import category_code, trip_type_code
from sikm_mailbot.domain.dates import parse_date
from sikm_mailbot.domain.normalize import normalize_name
from sikm_mailbot.domain.safe_text import unsafe_characters
from sikm_mailbot.domain.vocabulary import Category, DocKind, TripType
from sikm_mailbot.errors import PermitError as BasePermitError
from sikm_mailbot.store.files import FileStore
from sikm_mailbot.store.models import Application, Attachment, Permit

from .keys import KeyStore, KeyStoreError
from .token import JAKARTA, issue_token

if TYPE_CHECKING:
    from .pdf import PermitData

log = logging.getLogger(__name__)

PASSWORD_HINT = (
    "Kata sandi PDF = tanggal lahir Anda (DDMMYYYY), mis. 17081979 untuk 17 Agustus 1979. / "
    "PDF password = your birth date (DDMMYYYY), e.g. 17081979 for 17 August 1979."
)


class PermitError(BasePermitError):
    """A permit cannot be issued; the message says what to do about it."""


@dataclass
class IssuedPermit:
    """What :meth:`PermitIssuer.issue` made (the Permit row is already in the session)."""

    number: str
    token: str
    pdf: bytes
    filename: str
    valid_from: date
    valid_until: date
    password_hint: str  # "" or a sentence for the permit mail (never the password itself)


def key_passphrase(settings: Settings) -> bytes | None:
    """The key files' passphrase from the environment variable the settings name, if set."""
    name = settings.permits.passphrase_env
    value = os.environ.get(name) if name else None
    return value.encode("utf-8") if value else None


def open_key_store(settings: Settings) -> KeyStore:
    """The configured key store (not checked for existence)."""
    return KeyStore(settings.path(settings.permits.keys_dir), key_passphrase(settings))


def _text(fields: dict, key: str) -> str:
    value = fields.get(key)
    return " ".join(str(value).split()) if value is not None else ""


def _date(fields: dict, key: str, label: str) -> date:
    raw = _text(fields, key)
    if not raw:
        raise PermitError(f"cannot issue a permit: {label} ({key}) is empty")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        parsed = parse_date(raw, two_digit_year=key != "tanggal_lahir")
    if parsed is None:
        raise PermitError(f"cannot issue a permit: {label} ({key}) is not a date: fix the field")
    return parsed


@dataclass(frozen=True)
class _PermitFields:
    """The application's fields, checked and shaped for a permit."""

    name: str
    nik_last4: str
    category: str
    trip_type: str
    origin: str
    destination: str
    valid_from: date
    valid_until: date
    guarantor_name: str | None
    guarantor_contact: str | None


# The application's fields that reach the token or the page.
PERMIT_FIELDS = (
    "nama",
    "nik",
    "kategori",
    "jenis_perjalanan",
    "kota_asal",
    "kota_tujuan",
    "tanggal_berangkat",
    "tanggal_kembali",
    "berlaku_sampai",
    "tanggal_lahir",
    "penjamin_nama",
    "penjamin_hp",
    "penjamin_email",
)


def _refuse_unsafe(fields: dict) -> None:
    """PermitError naming the first permit field with a control or bidi character."""
    for key in PERMIT_FIELDS:
        bad = unsafe_characters(str(fields.get(key) or ""))
        if bad:
            raise PermitError(
                f"cannot issue a permit: {key} holds control or bidi characters "
                f"({', '.join(bad)}): fix the field"
            )


def permit_fields(app: Application) -> _PermitFields:
    """Read and check what a permit needs from ``app``; :class:`PermitError` names the gap."""
    f = app.fields or {}
    _refuse_unsafe(f)
    name = normalize_name(_text(f, "nama"))
    if not name:
        raise PermitError("cannot issue a permit: the applicant's name (nama) is empty")
    nik = "".join(ch for ch in _text(f, "nik") if ch.isascii() and ch.isdigit())
    if len(nik) != 16:
        raise PermitError("cannot issue a permit: the NIK is not 16 digits: fix the field")
    category = app.category or category_code(_text(f, "kategori"))
    if category not in Category.__members__:
        raise PermitError("cannot issue a permit: the category (kategori) is unknown")
    trip = app.trip_type or trip_type_code(_text(f, "jenis_perjalanan"))
    if trip not in TripType.__members__:
        raise PermitError("cannot issue a permit: the trip type (jenis_perjalanan) is unknown")
    origin = normalize_name(_text(f, "kota_asal"))
    destination = normalize_name(_text(f, "kota_tujuan"))
    if not origin or not destination:
        raise PermitError("cannot issue a permit: kota_asal and kota_tujuan must both be filled")
    valid_from = _date(f, "tanggal_berangkat", "departure date")
    if trip == TripType.single:
        valid_until = _date(f, "tanggal_kembali", "return date")
    else:
        valid_until = _date(f, "berlaku_sampai", "end of the validity period")
    if valid_until < valid_from:
        raise PermitError(
            f"cannot issue a permit: it would end ({valid_until}) before it starts ({valid_from})"
        )
    contact = _text(f, "penjamin_hp") or _text(f, "penjamin_email")
    return _PermitFields(
        name=name,
        nik_last4=nik[-4:],
        category=str(category),
        trip_type=str(trip),
        origin=origin,
        destination=destination,
        valid_from=valid_from,
        valid_until=valid_until,
        guarantor_name=normalize_name(_text(f, "penjamin_nama")) or None,
        guarantor_contact=contact or None,
    )


class PermitIssuer:
    """Issues permits with the office keys in ``settings.permits.keys_dir``."""

    def __init__(self, settings: Settings, files: FileStore) -> None:
        self.settings = settings
        self.files = files

    def _photo(self, session: Session, app: Application) -> bytes | None:
        """Bytes of the first usable photo attachment (checked later by the PDF builder)."""
        rows = session.exec(
            select(Attachment)
            .where(Attachment.application_id == app.id)
            .where(Attachment.kind == DocKind.photo.value)
            .where(Attachment.problem.is_(None))  # type: ignore[union-attr]
            .order_by(Attachment.id)  # type: ignore[arg-type]
        ).all()
        for row in rows:
            try:
                return self.files.get(row.sha256)
            except OSError:
                log.warning("photo attachment %s of %s is not in the file store", row.id, app.id)
        return None

    def _number(self, session: Session, app: Application) -> str:
        earlier = session.exec(
            select(func.count()).select_from(Permit).where(Permit.application_id == app.id)
        ).one()
        return f"{app.id}-P{int(earlier) + 1}"

    def issue(
        self, session: Session, app: Application, now: datetime, officer: str
    ) -> IssuedPermit:
        """Make, sign and store the permit for ``app``; add its Permit row (no commit).

        Raises :class:`PermitError` when the keys are missing or locked, when a
        field a permit needs is missing or invalid, when the permit would already
        have expired at ``now``, or when the birth date needed as the PDF password
        is missing.
        """
        # Imported here: pyHanko costs ~0.6 s to import and `sikm verify TOKEN` never needs it.
        from .pdf import PermitData, PermitPdfError, sign_pdf

        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        pf = permit_fields(app)
        if pf.valid_until < now.astimezone(JAKARTA).date():
            raise PermitError(
                f"cannot issue a permit: its validity ended on {pf.valid_until:%d-%m-%Y}; "
                "ask the applicant for new travel dates"
            )
        password = self._pdf_password(app)
        store = open_key_store(self.settings)
        if not store.is_initialised():
            if self.settings.config_file is not None:
                raise PermitError(
                    f"no signing key in {store.directory}: run `sikm keys init` first"
                )
            # Built-in default (no config file: a trial desk): make the keys on first
            # use. With a config file, keys are never made behind the operator's back.
            store.init(self.settings.permits.issuer, now)
            log.warning("made new office keys in %s (built-in default)", store.directory)
        encrypt = self.settings.permits.encrypt_qr
        try:
            issuer = store.issuer()
            signer = store.active_signer()
            checkpoint = store.active_checkpoint() if encrypt else None
        except KeyStoreError as exc:
            env = self.settings.permits.passphrase_env
            raise PermitError(
                f"cannot use the permit keys: {exc} (passphrase from ${env})"
            ) from exc

        number = self._number(session, app)
        data = PermitData(
            permit_number=number,
            name=pf.name,
            nik_last4=pf.nik_last4,
            category=pf.category,
            trip_type=pf.trip_type,
            origin=pf.origin,
            destination=pf.destination,
            valid_from=pf.valid_from,
            valid_until=pf.valid_until,
            issued_at=now,
            guarantor_name=pf.guarantor_name,
            guarantor_contact=pf.guarantor_contact,
            issuer=issuer,
        )
        try:
            token = issue_token(
                data.claims(), signer, checkpoint, now, issuer=issuer, encrypt=encrypt
            )
        except ValueError as exc:
            raise PermitError(f"cannot issue a permit: {exc}") from exc
        unsigned = _build_pdf(data, token, self._photo(session, app))
        try:
            pdf = sign_pdf(
                unsigned, signer.private_key, signer.certificate, encrypt_password=password
            )
        except PermitPdfError as exc:
            raise PermitError(f"cannot sign the permit PDF: {exc}") from exc

        digest = self.files.put(pdf)
        session.add(
            Permit(
                number=number,
                application_id=app.id,
                token=token,
                pdf_sha256=digest,
                signer_kid=signer.kid.hex(),
                issued_at=now,
                valid_from=pf.valid_from,
                valid_until=pf.valid_until,
                issued_by=officer,
            )
        )
        log.info(
            "permit %s issued for %s by %s (kid %s)", number, app.id, officer, signer.kid.hex()
        )
        return IssuedPermit(
            number=number,
            token=token,
            pdf=pdf,
            filename=f"{number}.pdf",
            valid_from=pf.valid_from,
            valid_until=pf.valid_until,
            password_hint=PASSWORD_HINT if password else "",
        )

    def _pdf_password(self, app: Application) -> str | None:
        if self.settings.permits.pdf_password != "birthdate":
            return None
        born = _date(app.fields or {}, "tanggal_lahir", "birth date (needed as the PDF password)")
        return f"{born:%d%m%Y}"


def _build_pdf(data: PermitData, token: str, photo: bytes | None) -> bytes:
    """Build the page; an unreadable photo is left out (the officer compares the KTP)."""
    from .pdf import PermitPdfError, build_permit_pdf

    if photo is not None:
        try:
            return build_permit_pdf(data, token, photo)
        except PermitPdfError as exc:
            log.warning("permit %s: photo left out: %s", data.permit_number, exc)
    try:
        return build_permit_pdf(data, token, None)
    except PermitPdfError as exc:
        raise PermitError(f"cannot build the permit PDF: {exc}") from exc
