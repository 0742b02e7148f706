"""The trust list: what a checkpoint verifier loads (signing keys, checkpoint keys, revocations).

Built from the key store (:meth:`KeyStore.trust_list`) or read from the file it
exports. The file holds the checkpoint AES keys: a secret shared with
checkpoint devices only.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sikm_mailbot.errors import UsageError

from .aware import parse_aware
from .certificates import checkpoint_kid, signing_kid


class TrustListError(UsageError):
    """A trust list file cannot be read or is inconsistent."""


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
    sealed: bool | None = None  # the office seals its tokens; None: the list does not say

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
            **({} if self.sealed is None else {"sealed": self.sealed}),
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
                    public = ec_public(cert.public_key())
                else:
                    public = ec_public(
                        serialization.load_pem_public_key(s["public_key_pem"].encode())
                    )
                signers[kid] = TrustedSigner(
                    kid, public, parse_aware(s["not_before"]), parse_aware(s["not_after"]),
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
                generated_at=parse_aware(doc["generated_at"]),
                signers=signers,
                checkpoint_keys=checkpoints,
                revoked=revoked,
                sealed=doc["sealed"] if isinstance(doc.get("sealed"), bool) else None,
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


def ec_public(key: object) -> ec.EllipticCurvePublicKey:
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise TrustListError("signing keys must be ECDSA P-256")
    return key
