"""The permit token carried by the QR code: issue it, and verify it offline.

Layers, outside in (modelled on the EU Digital COVID Certificate)::

    "SK1:" + Base45( zlib?( COSE_Encrypt0( COSE_Sign1( CWT claims ) ) ) )

* **CWT claims** (RFC 8392), CBOR map::

      1  iss   issuer name (text)
      6  iat   issued at (epoch seconds)
      5  nbf   start of the first valid day, 00:00:00 WIB
      4  exp   end of the last valid day, 23:59:59 WIB (Asia/Jakarta)
      -65537   permit claim (private-use key, < -65536 per the CWT registry), a map:
               1 permit number   2 name            3 last 4 NIK digits
               4 category code   5 trip type code  6 origin   7 destination

  One private claim holding a small-int map (as HCERT's -260 does) keeps the
  token short. No full NIK, birth date or address: the checkpoint compares
  name and photo with the KTP, and that needs nothing more.
* **COSE_Sign1** (RFC 9052, tag 18), ES256: protected ``{1: -7, 4: kid}``,
  signature = raw r||s (64 bytes) over ``["Signature1", protected, b"", payload]``.
  Signing is deterministic (RFC 6979), so equal inputs give equal tokens.
* **COSE_Encrypt0** (tag 16), AES-256-GCM: protected ``{1: 3}``, unprotected
  ``{4: checkpoint kid, 5: 12-byte random IV}``, AAD ``["Encrypt0", protected, b""]``.
  Omitted for signed-only tokens (``encrypt=False``).
* **zlib** only when it makes the bytes shorter. A reader knows it by the first
  byte: a zlib stream starts with 0x78, a COSE message with 0xD0 (tag 16) or
  0xD2 (tag 18) — the EU DCC's rule. Ciphertext does not compress, so sealed
  tokens are normally not compressed.
* **Base45** and the prefix ``SK1:`` (format version 1). All of it lies in the
  QR alphanumeric character set.

:func:`verify_token` never raises on bad input: every failure is a
:class:`Verdict` with a stable ``reason_code``.

Issuing lives here; checking in :mod:`.token_check`, the shared labels and claims
in :mod:`.token_format` (their public names are re-exported here).
"""

from __future__ import annotations

import secrets
import zlib
from datetime import datetime
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .base45 import b45encode
from .token_check import MESSAGES, Verdict, verify_token
from .token_format import (
    COSE_ALG_A256GCM,
    COSE_ALG_ES256,
    DEFAULT_ISSUER,
    HDR_ALG,
    HDR_IV,
    HDR_KID,
    JAKARTA,
    MAX_TOKEN_CHARS,
    PREFIX,
    TAG_ENCRYPT0,
    TAG_SIGN1,
    PermitClaims,
    encode_claims,
    validity_window,
)

__all__ = [
    "DEFAULT_ISSUER",
    "JAKARTA",
    "MAX_TOKEN_CHARS",
    "MESSAGES",
    "PREFIX",
    "PermitClaims",
    "Verdict",
    "encode_claims",
    "encrypt0",
    "issue_token",
    "sign1",
    "to_text",
    "validity_window",
    "verify_token",
]


def sign1(payload: bytes, signer: tuple[bytes, ec.EllipticCurvePrivateKey, Any]) -> bytes:
    """COSE_Sign1 (tag 18) over ``payload`` with ES256; returns the CBOR bytes."""
    kid, private_key = signer[0], signer[1]
    protected = cbor2.dumps({HDR_ALG: COSE_ALG_ES256, HDR_KID: kid}, canonical=True)
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload])
    der = private_key.sign(to_sign, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = decode_dss_signature(der)
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return cbor2.dumps(cbor2.CBORTag(TAG_SIGN1, [protected, {}, payload, signature]))


def encrypt0(plaintext: bytes, checkpoint: tuple[bytes, bytes], iv: bytes | None = None) -> bytes:
    """COSE_Encrypt0 (tag 16) with AES-256-GCM. ``iv`` is for test vectors only."""
    kid, key = checkpoint
    iv = iv if iv is not None else secrets.token_bytes(12)
    if len(iv) != 12 or len(key) != 32:
        raise ValueError("AES-256-GCM needs a 32-byte key and a 12-byte IV")
    protected = cbor2.dumps({HDR_ALG: COSE_ALG_A256GCM})
    aad = cbor2.dumps(["Encrypt0", protected, b""])
    ciphertext = AESGCM(key).encrypt(iv, plaintext, aad)
    unprotected = {HDR_KID: kid, HDR_IV: iv}
    return cbor2.dumps(cbor2.CBORTag(TAG_ENCRYPT0, [protected, unprotected, ciphertext]))


def to_text(cose: bytes) -> str:
    """zlib (only if shorter) → Base45 → ``SK1:`` prefix."""
    packed = zlib.compress(cose, 9)
    return PREFIX + b45encode(packed if len(packed) < len(cose) else cose)


def issue_token(
    claims: PermitClaims,
    signer: tuple[bytes, ec.EllipticCurvePrivateKey, Any],
    checkpoint: tuple[bytes, bytes] | None,
    now: datetime,
    *,
    issuer: str = DEFAULT_ISSUER,
    encrypt: bool = True,
) -> str:
    """Sign ``claims`` and, when ``encrypt``, seal them for checkpoint devices.

    ``signer`` is ``KeyStore.active_signer()``; ``checkpoint`` is
    ``KeyStore.active_checkpoint()``, or None with ``encrypt=False`` for a
    signed-only token whose claims anyone can read. Raises ValueError on
    malformed claims or a missing checkpoint key while ``encrypt`` is on.
    """
    signed = sign1(encode_claims(claims, now, issuer), signer)
    if not encrypt:
        return to_text(signed)
    if checkpoint is None:
        raise ValueError("encrypt=True needs a checkpoint key")
    return to_text(encrypt0(signed, checkpoint))
