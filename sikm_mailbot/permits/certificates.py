"""Key identifiers (kid) and the self-signed signing certificate."""

from __future__ import annotations

import hashlib
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CHECKPOINT_KID_LABEL = b"sikm-checkpoint-kid"


def signing_kid(certificate: x509.Certificate) -> bytes:
    """kid of a signing key: first 8 bytes of SHA-256 of the DER certificate."""
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest()[:8]


def checkpoint_kid(key: bytes) -> bytes:
    """kid of a checkpoint key: first 8 bytes of SHA-256(label || key)."""
    return hashlib.sha256(CHECKPOINT_KID_LABEL + key).digest()[:8]


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
