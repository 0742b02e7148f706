"""Regenerate tests/vectors/permit_token_v1.json: ``python tests/make_vectors.py``.

*** TEST KEYS — PUBLIC TEST VECTORS — NEVER USE FOR REAL PERMITS ***

Nothing secret is committed as a key file: the EC signing key is derived from a
public label (SHA-256 of it, reduced into the P-256 scalar range), the test
certificate has a fixed serial and an RFC 6979 (deterministic) signature, and
the AES key is another hash of a public label. The AES-GCM IV is fixed HERE
ONLY so the bytes are reproducible; production tokens always use a random IV.
Token signatures are deterministic (RFC 6979), so every field is reproducible.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sikm_mailbot.permits.certificates import checkpoint_kid, make_certificate, signing_kid
from sikm_mailbot.permits.keys import CheckpointKey, Signer
from sikm_mailbot.permits.token import (
    PermitClaims,
    encode_claims,
    encrypt0,
    sign1,
    to_text,
)
from sikm_mailbot.permits.trust import TrustedSigner, TrustList

VECTOR_PATH = Path(__file__).parent / "vectors" / "permit_token_v1.json"
WARNING = "TEST KEYS - PUBLIC TEST VECTORS - NEVER USE FOR REAL PERMITS"
SIGNING_LABEL = b"sikm-mailbot TEST signing key v1 (public test vector)"
CHECKPOINT_LABEL = b"sikm-mailbot TEST checkpoint key v1 (public test vector)"
TEST_IV = bytes.fromhex("000102030405060708090a0b")  # fixed for the vector only
ISSUER = "TEST ISSUER - sikm-mailbot vectors"
WIB = ZoneInfo("Asia/Jakarta")
CLOCK = datetime(2020, 5, 22, 9, 30, tzinfo=WIB)
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

CLAIMS = PermitClaims(
    permit_number="SIKM-TEST-2020-000001",
    name="Contoh Penduduk Uji Coba",
    nik_last4="0042",
    category="resident_out",
    trip_type="single",
    origin="Jakarta Timur",
    destination="Kota Semarang",
    valid_from=date(2020, 5, 23),
    valid_until=date(2020, 5, 30),
)


def vector_signer() -> Signer:
    """The deterministic TEST signing key and its deterministic TEST certificate."""
    scalar = int.from_bytes(hashlib.sha256(SIGNING_LABEL).digest(), "big") % (P256_ORDER - 1) + 1
    key = ec.derive_private_key(scalar, ec.SECP256R1())
    cert = make_certificate(
        key,
        ISSUER,
        datetime(2020, 1, 1, tzinfo=WIB),
        datetime(2025, 1, 1, tzinfo=WIB),
        serial=1,
        deterministic=True,
    )
    return Signer(signing_kid(cert), key, cert)


def vector_checkpoint() -> CheckpointKey:
    """The TEST checkpoint AES-256 key."""
    key = hashlib.sha256(CHECKPOINT_LABEL).digest()
    return CheckpointKey(checkpoint_kid(key), key)


def vector_trust_list() -> TrustList:
    """A trust list holding only the TEST keys."""
    signer, checkpoint = vector_signer(), vector_checkpoint()
    cert = signer.certificate
    trusted = TrustedSigner(
        signer.kid,
        signer.private_key.public_key(),
        cert.not_valid_before_utc,
        cert.not_valid_after_utc,
        "active",
        cert,
    )
    return TrustList(ISSUER, CLOCK, {signer.kid: trusted}, {checkpoint.kid: checkpoint.key})


def build() -> dict[str, Any]:
    """Every vector field, computed from the fixed inputs above."""
    signer, checkpoint = vector_signer(), vector_checkpoint()
    cbor = encode_claims(CLAIMS, CLOCK, ISSUER)
    signed = sign1(cbor, signer)
    sealed = encrypt0(signed, checkpoint, iv=TEST_IV)
    return {
        "warning": WARNING,
        "format": "SK1: Base45(zlib?(COSE_Encrypt0(COSE_Sign1(CWT))))",
        "clock": CLOCK.isoformat(),
        "issuer": ISSUER,
        "signing_key_derivation": (
            "P-256 scalar = int(SHA-256(label)) mod (n-1) + 1, label = " + SIGNING_LABEL.decode()
        ),
        "signing_kid_hex": signer.kid.hex(),
        "signing_public_key_pem": signer.private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
        "signing_certificate_pem": signer.certificate.public_bytes(
            serialization.Encoding.PEM
        ).decode(),
        "checkpoint_key_derivation": "SHA-256(label), label = " + CHECKPOINT_LABEL.decode(),
        "checkpoint_kid_hex": checkpoint.kid.hex(),
        "checkpoint_key_hex_TEST_ONLY": checkpoint.key.hex(),
        "iv_hex_TEST_ONLY_random_in_production": TEST_IV.hex(),
        "claims": CLAIMS.as_dict(),
        "cwt_cbor_hex": cbor.hex(),
        "cose_sign1_hex": signed.hex(),
        "cose_encrypt0_hex": sealed.hex(),
        "token_sealed": to_text(sealed),
        "token_signed_only": to_text(signed),
    }


def main() -> int:
    """Write the vector file."""
    VECTOR_PATH.parent.mkdir(parents=True, exist_ok=True)
    VECTOR_PATH.write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {VECTOR_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
