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
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, NamedTuple

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.x509.oid import NameOID

from sikm_mailbot.errors import UsageError

INDEX_FILE = "keys.json"
SIGNING_VALIDITY = timedelta(days=5 * 365)
CHECKPOINT_VALIDITY = timedelta(days=365)
_CHECKPOINT_KID_LABEL = b"sikm-checkpoint-kid"
_SCRYPT_N = 2**15  # ~32 MiB, ~0.1 s: once per key load, not per token

KeyKind = Literal["signing", "checkpoint"]
KeyStatus = Literal["active", "retired"]


class KeyStoreError(UsageError):
    """The key store is missing, damaged, locked, or asked to do something it refuses."""


class TrustListError(UsageError):
    """A trust list file cannot be read or is inconsistent."""


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


@dataclass(frozen=True)
class KeyRecord:
    """One line of ``keys.json``."""

    kid: bytes
    kind: KeyKind
    status: KeyStatus
    not_before: datetime
    not_after: datetime
    key_file: str
    cert_file: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "kid": self.kid.hex(),
            "kind": self.kind,
            "status": self.status,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "key_file": self.key_file,
            "cert_file": self.cert_file,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> KeyRecord:
        """Inverse of :meth:`as_dict`."""
        return cls(
            kid=bytes.fromhex(d["kid"]),
            kind=d["kind"],
            status=d["status"],
            not_before=_parse_dt(d["not_before"]),
            not_after=_parse_dt(d["not_after"]),
            key_file=d["key_file"],
            cert_file=d.get("cert_file"),
        )


def signing_kid(certificate: x509.Certificate) -> bytes:
    """kid of a signing key: first 8 bytes of SHA-256 of the DER certificate."""
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest()[:8]


def checkpoint_kid(key: bytes) -> bytes:
    """kid of a checkpoint key: first 8 bytes of SHA-256(label || key)."""
    return hashlib.sha256(_CHECKPOINT_KID_LABEL + key).digest()[:8]


def make_certificate(
    private_key: ec.EllipticCurvePrivateKey,
    issuer_name: str,
    not_before: datetime,
    not_after: datetime,
    *,
    serial: int | None = None,
    deterministic: bool = False,
) -> x509.Certificate:
    """A self-signed certificate fit for signing tokens and PAdES PDFs.

    ``serial`` and ``deterministic`` (RFC 6979 signature) exist for test vectors;
    production certificates use a random serial.
    """
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, issuer_name),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{issuer_name} SIKM permit signing"),
        ]
    )
    public = private_key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            # digitalSignature + nonRepudiation: what PDF signature validators expect.
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    return builder.sign(private_key, hashes.SHA256(), ecdsa_deterministic=deterministic)


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
        try:
            raw = json.loads(self.index_path.read_text("utf-8"))
            return [KeyRecord.from_dict(d) for d in raw["keys"]]
        except FileNotFoundError:
            raise KeyStoreError(f"key store {self.directory} is not initialised") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyStoreError(f"{self.index_path} is damaged: {exc}") from exc

    def issuer(self) -> str:
        """The issuer name given to :meth:`init`."""
        try:
            return str(json.loads(self.index_path.read_text("utf-8"))["issuer"])
        except FileNotFoundError:
            raise KeyStoreError(f"key store {self.directory} is not initialised") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyStoreError(f"{self.index_path} is damaged: {exc}") from exc

    def _write_index(self, issuer: str, records: list[KeyRecord]) -> None:
        doc = {"version": 1, "issuer": issuer, "keys": [r.as_dict() for r in records]}
        _write_private(self.index_path, json.dumps(doc, indent=2).encode(), replace=True)

    # ---- creation --------------------------------------------------------

    def init(self, issuer_name: str, now: datetime) -> SigningKeyInfo:
        """Create the directory, the first signing key and the first checkpoint key.

        Raises :class:`KeyStoreError` if the store is already initialised.
        """
        _require_aware(now)
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
        _require_aware(now)
        issuer = self.issuer()
        record = self._new_signing(issuer, now)
        self._write_index(issuer, _retire(self.records(), "signing") + [record])
        return self._info(record)

    def rotate_checkpoint(self, now: datetime) -> bytes:
        """Add a new active checkpoint key (the old one is retired); return its kid."""
        _require_aware(now)
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
        _write_private(self.directory / key_file, pem)
        _write_private(
            self.directory / cert_file, cert.public_bytes(serialization.Encoding.PEM), mode=0o644
        )
        return KeyRecord(kid, "signing", "active", now, not_after, key_file, cert_file)

    def _new_checkpoint(self, now: datetime) -> KeyRecord:
        key = AESGCM.generate_key(bit_length=256)
        kid = checkpoint_kid(key)
        key_file = f"checkpoint-{kid.hex()}.json"
        _write_private(self.directory / key_file, _wrap_secret(key, self.passphrase))
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
            key = _unwrap_secret((self.directory / rec.key_file).read_bytes(), self.passphrase)
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
        self, revocations: list[dict[str, Any]] | None = None, now: datetime | None = None
    ) -> TrustList:
        """The in-memory trust list (every signing and checkpoint key, any status)."""
        signers: dict[bytes, TrustedSigner] = {}
        checkpoints: dict[bytes, bytes] = {}
        for rec in self.records():
            if rec.kind == "signing":
                cert = self._load_cert(rec)
                signers[rec.kid] = TrustedSigner(
                    rec.kid, _ec_public(cert.public_key()), rec.not_before, rec.not_after,
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
        )

    def export_trust_list(
        self,
        path: Path,
        revocations: list[dict[str, Any]] | None = None,
        now: datetime | None = None,
    ) -> None:
        """Write the trust list for checkpoint devices to ``path`` (mode 0600).

        The file holds the public signing certificates, the revoked permits
        (``{"permit", "reason", "revoked_at"}``) AND the checkpoint AES keys in
        base64: those are secrets shared with checkpoint devices only. Treat the
        file like a key; never publish it.
        """
        doc = self.trust_list(revocations, now).to_json()
        _write_private(Path(path), json.dumps(doc, indent=2).encode(), replace=True)


@dataclass(frozen=True)
class TrustedSigner:
    """A signing key a verifier accepts."""

    kid: bytes
    public_key: ec.EllipticCurvePublicKey
    not_before: datetime
    not_after: datetime
    status: str
    certificate: x509.Certificate | None = None


@dataclass
class TrustList:
    """What a verifier needs: public signing keys, checkpoint keys, revocations."""

    issuer: str
    generated_at: datetime
    signers: dict[bytes, TrustedSigner] = field(default_factory=dict)
    checkpoint_keys: dict[bytes, bytes] = field(default_factory=dict)
    revoked: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (contains the secret checkpoint keys)."""
        return {
            "version": 1,
            "issuer": self.issuer,
            "generated_at": self.generated_at.isoformat(),
            "signing_keys": [
                {
                    "kid": s.kid.hex(),
                    "status": s.status,
                    "not_before": s.not_before.isoformat(),
                    "not_after": s.not_after.isoformat(),
                    "public_key_pem": s.public_key.public_bytes(
                        serialization.Encoding.PEM,
                        serialization.PublicFormat.SubjectPublicKeyInfo,
                    ).decode(),
                    "certificate_pem": (
                        s.certificate.public_bytes(serialization.Encoding.PEM).decode()
                        if s.certificate
                        else None
                    ),
                }
                for s in self.signers.values()
            ],
            "checkpoint_keys": [
                {"kid": kid.hex(), "key_b64": base64.b64encode(key).decode()}
                for kid, key in self.checkpoint_keys.items()
            ],
            "revoked": list(self.revoked.values()),
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> TrustList:
        """Build from :meth:`to_json` output; raise :class:`TrustListError` if inconsistent."""
        try:
            if doc.get("version") != 1:
                raise TrustListError(f"unsupported trust list version {doc.get('version')!r}")
            signers: dict[bytes, TrustedSigner] = {}
            for s in doc["signing_keys"]:
                kid = bytes.fromhex(s["kid"])
                cert = None
                if s.get("certificate_pem"):
                    cert = x509.load_pem_x509_certificate(s["certificate_pem"].encode())
                    if signing_kid(cert) != kid:
                        raise TrustListError(f"signing key {s['kid']}: kid does not match cert")
                    public = _ec_public(cert.public_key())
                else:
                    public = _ec_public(
                        serialization.load_pem_public_key(s["public_key_pem"].encode())
                    )
                signers[kid] = TrustedSigner(
                    kid, public, _parse_dt(s["not_before"]), _parse_dt(s["not_after"]),
                    str(s.get("status", "active")), cert,
                )  # fmt: skip
            checkpoints: dict[bytes, bytes] = {}
            for c in doc.get("checkpoint_keys", []):
                key = base64.b64decode(c["key_b64"], validate=True)
                if len(key) != 32 or checkpoint_kid(key) != bytes.fromhex(c["kid"]):
                    raise TrustListError(f"checkpoint key {c['kid']}: bad length or kid")
                checkpoints[bytes.fromhex(c["kid"])] = key
            revoked = {str(r["permit"]): dict(r) for r in doc.get("revoked", [])}
            return cls(
                issuer=str(doc["issuer"]),
                generated_at=_parse_dt(doc["generated_at"]),
                signers=signers,
                checkpoint_keys=checkpoints,
                revoked=revoked,
            )
        except TrustListError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise TrustListError(f"malformed trust list: {exc!r}") from exc

    @classmethod
    def load(cls, path: Path) -> TrustList:
        """Read a trust list written by :meth:`KeyStore.export_trust_list`."""
        try:
            doc = json.loads(Path(path).read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise TrustListError(f"cannot read trust list {path}: {exc}") from exc
        if not isinstance(doc, dict):
            raise TrustListError(f"trust list {path} is not a JSON object")
        return cls.from_json(doc)


# ---- helpers ---------------------------------------------------------------


def _retire(records: list[KeyRecord], kind: KeyKind) -> list[KeyRecord]:
    return [
        KeyRecord(r.kid, r.kind, "retired", r.not_before, r.not_after, r.key_file, r.cert_file)
        if r.kind == kind and r.status == "active"
        else r
        for r in records
    ]


def _ec_public(key: object) -> ec.EllipticCurvePublicKey:
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise TrustListError("signing keys must be ECDSA P-256")
    return key


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")


def _parse_dt(text: str) -> datetime:
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        raise ValueError(f"datetime without a timezone: {text!r}")
    return dt


def _write_private(path: Path, data: bytes, *, mode: int = 0o600, replace: bool = False) -> None:
    """Write ``data`` with ``mode`` from the first byte (never world-readable in between)."""
    target = path.with_name(path.name + ".tmp") if replace else path
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    if replace and target.exists():
        target.unlink()
    fd = os.open(target, flags, mode)
    try:
        os.fchmod(fd, mode)  # os.open's mode is filtered by the umask
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    finally:
        if fd != -1:
            os.close(fd)
    if replace:
        os.replace(target, path)


def _wrap_secret(key: bytes, passphrase: bytes | None) -> bytes:
    """File content for a checkpoint key: plain base64, or scrypt + AES-GCM wrapped."""
    if not passphrase:
        return json.dumps({"v": 1, "key_b64": base64.b64encode(key).decode()}).encode()
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    kek = Scrypt(salt=salt, length=32, n=_SCRYPT_N, r=8, p=1).derive(passphrase)
    sealed = AESGCM(kek).encrypt(nonce, key, b"sikm-checkpoint-key")
    doc = {
        "v": 1,
        "kdf": "scrypt",
        "n": _SCRYPT_N,
        "r": 8,
        "p": 1,
        "salt_b64": base64.b64encode(salt).decode(),
        "nonce_b64": base64.b64encode(nonce).decode(),
        "sealed_b64": base64.b64encode(sealed).decode(),
    }
    return json.dumps(doc).encode()


def _unwrap_secret(data: bytes, passphrase: bytes | None) -> bytes:
    try:
        doc = json.loads(data)
        if "key_b64" in doc:
            return base64.b64decode(doc["key_b64"], validate=True)
        if not passphrase:
            raise KeyStoreError("checkpoint key is passphrase-protected; no passphrase given")
        kek = Scrypt(
            salt=base64.b64decode(doc["salt_b64"]), length=32, n=doc["n"], r=doc["r"], p=doc["p"]
        ).derive(passphrase)
        return AESGCM(kek).decrypt(
            base64.b64decode(doc["nonce_b64"]),
            base64.b64decode(doc["sealed_b64"]),
            b"sikm-checkpoint-key",
        )
    except InvalidTag:
        raise KeyStoreError("cannot unlock checkpoint key (wrong passphrase?)") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyStoreError(f"damaged checkpoint key file: {exc!r}") from exc
