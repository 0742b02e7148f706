"""The office's permit keys on disk, and the trust list that checkpoints load.

Two kinds of key:

* **signing** — ECDSA P-256 with a self-signed X.509 certificate. It signs the
  permit token (COSE_Sign1, ES256) and the permit PDF (PAdES). Its ``kid`` is the
  first 8 bytes of SHA-256 of the DER certificate (as in the EU DCC).
* **checkpoint** — 32 random bytes for AES-256-GCM. The signed token is sealed
  with it so only checkpoint devices read the personal data. Its ``kid`` is the
  first 8 bytes of SHA-256(b"sikm-checkpoint-kid" || key): a 256-bit random key
  cannot be recovered from a truncated hash, the label keeps this hash distinct
  from any other use of the key, and a device can check that a loaded key
  matches its kid.

Layout of the key directory (mode 0700; every secret file 0600)::

    keys.json                    index: kid, kind, status, validity, file names
    signing-<kid>.key.pem        PKCS#8 PEM, encrypted when a passphrase is given
    signing-<kid>.crt.pem        the self-signed certificate
    checkpoint-<kid>.json        the AES key (scrypt + AES-GCM wrapped with a passphrase)

Rotation adds a new *active* key and marks the previous one *retired*: retired
keys still verify (and decrypt) until their ``not_after``, but never sign.

Kids and certificates are made in :mod:`.certificates`, the files written and
read in :mod:`.key_files`, the trust list lives in :mod:`.trust`; their public
names are re-exported here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .aware import require_aware
from .certificates import checkpoint_kid, make_certificate, signing_kid
from .key_files import (
    KeyKind,
    KeyRecord,
    KeyStatus,
    KeyStoreError,
    unwrap_secret,
    wrap_secret,
    write_private,
)
from .trust import TrustedSigner, TrustList, TrustListError, ec_public

__all__ = [
    "CheckpointKey",
    "KeyKind",
    "KeyRecord",
    "KeyStatus",
    "KeyStore",
    "KeyStoreError",
    "Signer",
    "SigningKeyInfo",
    "TrustList",
    "TrustListError",
    "TrustedSigner",
    "checkpoint_kid",
    "make_certificate",
    "signing_kid",
]

INDEX_FILE = "keys.json"
SIGNING_VALIDITY = timedelta(days=5 * 365)
CHECKPOINT_VALIDITY = timedelta(days=365)

T = TypeVar("T")


class Signer(NamedTuple):
    """The key that signs: unpacks as ``(kid, private_key, certificate)``."""

    kid: bytes
    private_key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


class CheckpointKey(NamedTuple):
    """The AES-256-GCM sealing key: unpacks as ``(kid, key)``."""

    kid: bytes
    key: bytes


@dataclass(frozen=True)
class SigningKeyInfo:
    """What :meth:`KeyStore.init` and :meth:`KeyStore.rotate_signing` created."""

    kid: bytes
    certificate: x509.Certificate
    not_before: datetime
    not_after: datetime
    checkpoint_kid: bytes | None = None

    @property
    def kid_hex(self) -> str:
        """The kid as lower-case hex, as written in files and logs."""
        return self.kid.hex()


class KeyStore:
    """Permit keys in ``directory``; private keys encrypted when ``passphrase`` is set."""

    def __init__(self, directory: Path, passphrase: bytes | None = None) -> None:
        self.directory = Path(directory)
        self.passphrase = passphrase or None

    # ---- index -----------------------------------------------------------

    @property
    def index_path(self) -> Path:
        """Path of ``keys.json``."""
        return self.directory / INDEX_FILE

    def is_initialised(self) -> bool:
        """True when ``keys.json`` exists."""
        return self.index_path.exists()

    def records(self) -> list[KeyRecord]:
        """Every key in the index, oldest first."""
        return self._read_index(lambda doc: [KeyRecord.from_dict(d) for d in doc["keys"]])

    def issuer(self) -> str:
        """The issuer name given to :meth:`init`."""
        return self._read_index(lambda doc: str(doc["issuer"]))

    def _read_index(self, take: Callable[[dict[str, Any]], T]) -> T:
        """``take(keys.json)``; a missing or damaged index is a KeyStoreError."""
        try:
            return take(json.loads(self.index_path.read_text("utf-8")))
        except FileNotFoundError:
            raise KeyStoreError(f"key store {self.directory} is not initialised") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyStoreError(f"{self.index_path} is damaged: {exc}") from exc

    def _write_index(self, issuer: str, records: list[KeyRecord]) -> None:
        doc = {"version": 1, "issuer": issuer, "keys": [r.as_dict() for r in records]}
        write_private(self.index_path, json.dumps(doc, indent=2).encode(), replace=True)

    # ---- creation --------------------------------------------------------

    def init(self, issuer_name: str, now: datetime) -> SigningKeyInfo:
        """Create the directory, the first signing key and the first checkpoint key.

        Raises :class:`KeyStoreError` if the store is already initialised.
        """
        require_aware(now)
        if self.is_initialised():
            raise KeyStoreError(f"key store {self.directory} is already initialised")
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)  # mkdir's mode is filtered by the umask
        signing = self._new_signing(issuer_name, now)
        checkpoint = self._new_checkpoint(now)
        self._write_index(issuer_name, [signing, checkpoint])
        info = self._info(signing)
        return SigningKeyInfo(
            info.kid, info.certificate, info.not_before, info.not_after, checkpoint.kid
        )

    def rotate_signing(self, now: datetime) -> SigningKeyInfo:
        """Add a new active signing key; the previous active one becomes retired."""
        require_aware(now)
        issuer = self.issuer()
        record = self._new_signing(issuer, now)
        self._write_index(issuer, _retire(self.records(), "signing") + [record])
        return self._info(record)

    def rotate_checkpoint(self, now: datetime) -> bytes:
        """Add a new active checkpoint key (the old one is retired); return its kid."""
        require_aware(now)
        issuer = self.issuer()
        record = self._new_checkpoint(now)
        self._write_index(issuer, _retire(self.records(), "checkpoint") + [record])
        return record.kid

    def _new_signing(self, issuer: str, now: datetime) -> KeyRecord:
        key = ec.generate_private_key(ec.SECP256R1())
        not_after = now + SIGNING_VALIDITY
        cert = make_certificate(key, issuer, now, not_after)
        kid = signing_kid(cert)
        key_file, cert_file = f"signing-{kid.hex()}.key.pem", f"signing-{kid.hex()}.crt.pem"
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(self.passphrase)
            if self.passphrase
            else serialization.NoEncryption()
        )
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        write_private(self.directory / key_file, pem)
        write_private(
            self.directory / cert_file, cert.public_bytes(serialization.Encoding.PEM), mode=0o644
        )
        return KeyRecord(kid, "signing", "active", now, not_after, key_file, cert_file)

    def _new_checkpoint(self, now: datetime) -> KeyRecord:
        key = AESGCM.generate_key(bit_length=256)
        kid = checkpoint_kid(key)
        key_file = f"checkpoint-{kid.hex()}.json"
        write_private(self.directory / key_file, wrap_secret(key, self.passphrase))
        return KeyRecord(kid, "checkpoint", "active", now, now + CHECKPOINT_VALIDITY, key_file)

    # ---- loading ---------------------------------------------------------

    def _active(self, kind: KeyKind) -> KeyRecord:
        for rec in reversed(self.records()):
            if rec.kind == kind and rec.status == "active":
                return rec
        raise KeyStoreError(f"no active {kind} key in {self.directory}")

    def _info(self, rec: KeyRecord) -> SigningKeyInfo:
        return SigningKeyInfo(rec.kid, self._load_cert(rec), rec.not_before, rec.not_after)

    def _load_cert(self, rec: KeyRecord) -> x509.Certificate:
        try:
            return x509.load_pem_x509_certificate(
                (self.directory / str(rec.cert_file)).read_bytes()
            )
        except (OSError, ValueError) as exc:
            raise KeyStoreError(f"cannot read certificate {rec.cert_file}: {exc}") from exc

    def active_signer(self) -> Signer:
        """The active signing key: ``(kid, private_key, certificate)``."""
        rec = self._active("signing")
        try:
            key = serialization.load_pem_private_key(
                (self.directory / rec.key_file).read_bytes(), password=self.passphrase
            )
        except TypeError as exc:  # passphrase given for a plain key, or missing for an encrypted
            raise KeyStoreError(f"passphrase mismatch for {rec.key_file}: {exc}") from exc
        except ValueError as exc:
            raise KeyStoreError(f"cannot unlock {rec.key_file} (wrong passphrase?)") from exc
        except OSError as exc:
            raise KeyStoreError(f"cannot read {rec.key_file}: {exc}") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise KeyStoreError(f"{rec.key_file} is not an EC private key")
        return Signer(rec.kid, key, self._load_cert(rec))

    def signing_key_paths(self) -> tuple[Path, Path]:
        """Paths of the active signing key PEM and certificate PEM (e.g. for pyHanko)."""
        rec = self._active("signing")
        return self.directory / rec.key_file, self.directory / str(rec.cert_file)

    def _load_checkpoint(self, rec: KeyRecord) -> bytes:
        try:
            key = unwrap_secret((self.directory / rec.key_file).read_bytes(), self.passphrase)
        except OSError as exc:
            raise KeyStoreError(f"cannot read {rec.key_file}: {exc}") from exc
        if checkpoint_kid(key) != rec.kid:
            raise KeyStoreError(f"{rec.key_file} does not match its kid")
        return key

    def active_checkpoint(self) -> CheckpointKey:
        """The active checkpoint key: ``(kid, key_bytes)``."""
        rec = self._active("checkpoint")
        return CheckpointKey(rec.kid, self._load_checkpoint(rec))

    # ---- trust list ------------------------------------------------------

    def trust_list(
        self,
        revocations: list[dict[str, Any]] | None = None,
        now: datetime | None = None,
        sealed: bool | None = None,
    ) -> TrustList:
        """The in-memory trust list (every signing and checkpoint key, any status);
        ``sealed``: whether the office seals its tokens (``permits.encrypt_qr``)."""
        signers: dict[bytes, TrustedSigner] = {}
        checkpoints: dict[bytes, bytes] = {}
        for rec in self.records():
            if rec.kind == "signing":
                cert = self._load_cert(rec)
                signers[rec.kid] = TrustedSigner(
                    rec.kid, ec_public(cert.public_key()), rec.not_before, rec.not_after,
                    rec.status, cert,
                )  # fmt: skip
            else:
                checkpoints[rec.kid] = self._load_checkpoint(rec)
        revoked = {str(r["permit"]): dict(r) for r in (revocations or [])}
        return TrustList(
            issuer=self.issuer(),
            generated_at=now or datetime.now(UTC),
            signers=signers,
            checkpoint_keys=checkpoints,
            revoked=revoked,
            sealed=sealed,
        )

    def export_trust_list(
        self,
        path: Path,
        revocations: list[dict[str, Any]] | None = None,
        now: datetime | None = None,
        sealed: bool | None = None,
    ) -> None:
        """Write the trust list for checkpoint devices to ``path`` (mode 0600).

        The file holds the public signing certificates, the revoked permits
        (``{"permit", "reason", "revoked_at"}``) AND the checkpoint AES keys in
        base64: those are secrets shared with checkpoint devices only. Treat the
        file like a key; never publish it.
        """
        doc = self.trust_list(revocations, now, sealed).to_json()
        write_private(Path(path), json.dumps(doc, indent=2).encode(), replace=True)


def _retire(records: list[KeyRecord], kind: KeyKind) -> list[KeyRecord]:
    return [
        KeyRecord(r.kid, r.kind, "retired", r.not_before, r.not_after, r.key_file, r.cert_file)
        if r.kind == kind and r.status == "active"
        else r
        for r in records
    ]
