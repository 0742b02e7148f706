"""Checking a scanned permit token offline: :func:`verify_token` and its :class:`Verdict`.

Order: prefix and size → Base45 → zlib (capped) → CBOR → decrypt → alg → kid →
signature → only then the claims → validity → revocation. Never raises on bad
input: every failure is a Verdict with a stable ``reason_code`` (:data:`MESSAGES`).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .aware import require_aware
from .base45 import Base45Error, b45decode
from .token_format import (
    CLAIM_EXP,
    CLAIM_IAT,
    CLAIM_ISS,
    CLAIM_NBF,
    CLAIM_PERMIT,
    COSE_ALG_A256GCM,
    COSE_ALG_ES256,
    HDR_ALG,
    HDR_IV,
    HDR_KID,
    JAKARTA,
    MAX_CBOR_DEPTH,
    MAX_INFLATED,
    MAX_TOKEN_CHARS,
    P_CATEGORY,
    P_DEST,
    P_NAME,
    P_NIK4,
    P_NUMBER,
    P_ORIGIN,
    P_TRIP,
    PREFIX,
    TAG_ENCRYPT0,
    TAG_SIGN1,
    PermitClaims,
)
from .trust import TrustList

MESSAGES: dict[str, tuple[str, str]] = {
    "ok": ("Permit is genuine and valid.", "Izin asli dan berlaku."),
    "bad_prefix": ("Not an SIKM permit code.", "Bukan kode SIKM."),
    "too_large": ("Code is too large.", "Kode terlalu besar."),
    "bad_base45": ("Code is damaged (Base45).", "Kode rusak (Base45)."),
    "bad_zlib": ("Code is damaged (compression).", "Kode rusak (kompresi)."),
    "bad_cbor": ("Code is damaged (structure).", "Kode rusak (struktur)."),
    "no_checkpoint_key": (
        "This device has no checkpoint key.",
        "Perangkat ini tidak memiliki kunci pos pemeriksaan.",
    ),
    "wrong_checkpoint_key": (
        "Sealed for a checkpoint key this device lacks; update the trust list.",
        "Disegel untuk kunci pos lain; perbarui daftar kepercayaan.",
    ),
    "not_sealed": (
        "Permit code is not sealed, but this office seals every permit code.",
        "Kode izin tidak tersegel, padahal kantor ini menyegel setiap kode izin.",
    ),
    "decrypt_failed": ("Seal broken: altered or forged.", "Segel rusak: diubah atau palsu."),
    "alg_not_allowed": ("Algorithm not allowed.", "Algoritma tidak diizinkan."),
    "unknown_kid": ("Signed by an unknown key.", "Ditandatangani kunci tak dikenal."),
    "key_not_valid": (
        "Signing key was not valid at issue time.",
        "Kunci penanda tangan tidak berlaku saat terbit.",
    ),
    "bad_signature": ("Signature invalid: forged or altered.", "Tanda tangan tidak sah."),
    "bad_claims": ("Permit data is malformed.", "Data izin tidak sesuai format."),
    "not_yet_valid": ("Permit is not valid yet.", "Izin belum berlaku."),
    "expired": ("Permit has expired.", "Izin sudah kedaluwarsa."),
    "revoked": ("Permit has been revoked.", "Izin telah dicabut."),
    "error": ("Code could not be checked.", "Kode tidak dapat diperiksa."),
}


@dataclass(frozen=True)
class Verdict:
    """Outcome of :func:`verify_token`. ``claims`` is set only once the signature verified."""

    valid: bool
    reason_code: str
    message_en: str
    message_id: str
    claims: PermitClaims | None = None
    issuer: str | None = None
    issued_at: datetime | None = None
    signer_kid: str | None = None  # hex
    sealed: bool | None = None  # True: was COSE_Encrypt0; None: not known (failed before)

    @property
    def message(self) -> str:
        """``"English / Indonesian"`` one-liner."""
        return f"{self.message_en} / {self.message_id}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "valid": self.valid,
            "reason_code": self.reason_code,
            "message_en": self.message_en,
            "message_id": self.message_id,
            "claims": self.claims.as_dict() if self.claims else None,
            "issuer": self.issuer,
            "issued_at": self.issued_at.isoformat() if self.issued_at else None,
            "signer_kid": self.signer_kid,
            "sealed": self.sealed,
        }


def _verdict(code: str, **kw: Any) -> Verdict:
    en, id_ = MESSAGES[code]
    return Verdict(code == "ok", code, en, id_, **kw)


class _Refused(Exception):
    """Internal: a verification step refused the token with ``code``."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


def verify_token(
    text: str,
    trust: TrustList,
    now: datetime,
    skew: timedelta = timedelta(minutes=5),
    revoked: Iterable[str] | None = None,
    *,
    require_sealed: bool = False,
) -> Verdict:
    """Check a scanned token offline; never raises on bad input.

    Order: prefix and size → Base45 → zlib (capped) → CBOR → decrypt (checkpoint
    key by kid) → alg from the protected header → kid in the trust list →
    signature → only then the claims → nbf/exp with ``skew`` → revocation (the
    trust list's revoked permits plus ``revoked``). ``now`` must be
    timezone-aware (ValueError otherwise: a caller bug, not a token problem).
    ``require_sealed`` refuses a signed-only token (``not_sealed``) before its
    signature is looked at: where the office seals, an unsealed code was not
    issued as it stands, however genuine the signature inside.
    """
    require_aware(now)
    sealed: bool | None = None
    try:
        cose = _unwrap_text(text)
        msg = _decode_cbor(cose)
        sealed = msg.tag == TAG_ENCRYPT0
        if sealed:
            msg = _decode_cbor(_open_encrypt0(msg, trust))
        elif require_sealed:
            raise _Refused("not_sealed")
        if msg.tag != TAG_SIGN1:
            raise _Refused("bad_cbor")
        payload, kid = _verify_sign1(msg, trust)
        cwt = _decode_cbor(payload, want_tag=False)
        claims, iss, iat, nbf, exp = _parse_claims(cwt)
    except _Refused as ref:
        return _verdict(ref.code, sealed=sealed, **ref.extra)
    except Exception:  # noqa: BLE001 - safety net: untrusted input must not raise
        return _verdict("error", sealed=sealed)

    known = {
        "claims": claims,
        "issuer": iss,
        "issued_at": iat,
        "signer_kid": kid.hex(),
        "sealed": sealed,
    }
    signer = trust.signers[kid]
    if not (signer.not_before - skew <= iat <= signer.not_after + skew):
        return _verdict("key_not_valid", **known)
    if now + skew < nbf:
        return _verdict("not_yet_valid", **known)
    if now - skew > exp:
        return _verdict("expired", **known)
    if claims.permit_number in trust.revoked or claims.permit_number in set(revoked or ()):
        return _verdict("revoked", **known)
    return _verdict("ok", **known)


def _unwrap_text(text: str) -> bytes:
    if not isinstance(text, str):
        raise _Refused("bad_prefix")
    text = text.strip()
    if len(text) > MAX_TOKEN_CHARS:
        raise _Refused("too_large")
    if not text.startswith(PREFIX):
        raise _Refused("bad_prefix")
    try:
        data = b45decode(text[len(PREFIX) :])
    except Base45Error:
        raise _Refused("bad_base45") from None
    if data[:1] != b"\x78":
        return data
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_INFLATED)
    except zlib.error:
        raise _Refused("bad_zlib") from None
    if inflater.unconsumed_tail:
        raise _Refused("too_large")
    if not inflater.eof or inflater.unused_data:
        raise _Refused("bad_zlib")
    return out


def _decode_cbor(data: bytes, *, want_tag: bool = True) -> Any:
    if len(data) > MAX_INFLATED:
        raise _Refused("too_large")
    try:
        obj = cbor2.loads(data, max_depth=MAX_CBOR_DEPTH, allow_indefinite=False)
    except Exception:  # noqa: BLE001 - cbor2 raises several types on garbage
        raise _Refused("bad_cbor") from None
    if want_tag and not (isinstance(obj, cbor2.CBORTag) and obj.tag in (TAG_ENCRYPT0, TAG_SIGN1)):
        raise _Refused("bad_cbor")
    return obj


def _header(protected: Any) -> Mapping[Any, Any]:
    """Decode a protected header bstr into a map (empty bstr = empty map)."""
    if not isinstance(protected, bytes):
        raise _Refused("bad_cbor")
    if protected == b"":
        return {}
    try:
        hdr = cbor2.loads(protected, max_depth=2, allow_indefinite=False)
    except Exception:  # noqa: BLE001
        raise _Refused("bad_cbor") from None
    if not isinstance(hdr, Mapping):
        raise _Refused("bad_cbor")
    return hdr


def _open_encrypt0(msg: cbor2.CBORTag, trust: TrustList) -> bytes:
    parts = msg.value
    if not (isinstance(parts, (list, tuple)) and len(parts) == 3):
        raise _Refused("bad_cbor")
    protected, unprotected, ciphertext = parts
    hdr = _header(protected)
    if not isinstance(unprotected, Mapping) or not isinstance(ciphertext, bytes):
        raise _Refused("bad_cbor")
    kid, iv = unprotected.get(HDR_KID), unprotected.get(HDR_IV)
    if not isinstance(kid, bytes) or not isinstance(iv, bytes) or len(iv) != 12:
        raise _Refused("bad_cbor")
    if hdr.get(HDR_ALG) != COSE_ALG_A256GCM:
        raise _Refused("alg_not_allowed")
    if not trust.checkpoint_keys:
        raise _Refused("no_checkpoint_key")
    key = trust.checkpoint_keys.get(kid)
    if key is None:
        raise _Refused("wrong_checkpoint_key")
    aad = cbor2.dumps(["Encrypt0", protected, b""])
    try:
        return AESGCM(key).decrypt(iv, ciphertext, aad)
    except InvalidTag:
        raise _Refused("decrypt_failed") from None


def _verify_sign1(msg: cbor2.CBORTag, trust: TrustList) -> tuple[bytes, bytes]:
    parts = msg.value
    if not (isinstance(parts, (list, tuple)) and len(parts) == 4):
        raise _Refused("bad_cbor")
    protected, unprotected, payload, signature = parts
    hdr = _header(protected)
    if not (
        isinstance(unprotected, Mapping)
        and isinstance(payload, bytes)
        and isinstance(signature, bytes)
    ):
        raise _Refused("bad_cbor")
    # Only the protected header counts: an unprotected alg/kid could be swapped freely.
    if hdr.get(HDR_ALG) != COSE_ALG_ES256:
        raise _Refused("alg_not_allowed")
    kid = hdr.get(HDR_KID)
    if not isinstance(kid, bytes) or kid not in trust.signers:
        raise _Refused("unknown_kid")
    if len(signature) != 64:
        raise _Refused("bad_signature")
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    to_verify = cbor2.dumps(["Signature1", protected, b"", payload])
    try:
        trust.signers[kid].public_key.verify(der, to_verify, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise _Refused("bad_signature") from None
    return payload, kid


def _parse_claims(cwt: Any) -> tuple[PermitClaims, str, datetime, datetime, datetime]:
    """Typed claims from a verified CWT map; ``bad_claims`` when anything is off."""
    try:
        if not isinstance(cwt, Mapping) or not isinstance(cwt.get(CLAIM_PERMIT), Mapping):
            raise TypeError("claims map expected")
        p = cwt[CLAIM_PERMIT]
        fields = [p[k] for k in (P_NUMBER, P_NAME, P_NIK4, P_CATEGORY, P_TRIP, P_ORIGIN, P_DEST)]
        iss = cwt[CLAIM_ISS]
        stamps = [cwt[k] for k in (CLAIM_IAT, CLAIM_NBF, CLAIM_EXP)]
        if not all(isinstance(f, str) for f in [*fields, iss]):
            raise TypeError("text claim expected")
        if not all(type(t) is int for t in stamps):
            raise TypeError("integer time expected")
        iat, nbf, exp = (datetime.fromtimestamp(t, JAKARTA) for t in stamps)
    except (KeyError, IndexError, TypeError, ValueError, OverflowError, OSError):
        raise _Refused("bad_claims") from None
    number, name, nik4, category, trip, origin, dest = fields
    claims = PermitClaims(number, name, nik4, category, trip, origin, dest, nbf.date(), exp.date())
    return claims, iss, iat, nbf, exp
