"""The permit token's format: labels, limits, and the claims with their CBOR encoding.

Shared by issuing (:mod:`.token`) and checking (:mod:`.token_check`); the layers
are described in :mod:`.token`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import cbor2

from sikm_mailbot.domain.safe_text import unsafe_characters

from .aware import require_aware

JAKARTA = ZoneInfo("Asia/Jakarta")
PREFIX = "SK1:"
DEFAULT_ISSUER = "DPMPTSP DKI Jakarta"
MAX_TOKEN_CHARS = 4096  # refuse before any decoding; a permit token is ~500 chars
MAX_INFLATED = 8192  # zlib output cap (bomb guard)
MAX_CBOR_DEPTH = 8

COSE_ALG_ES256 = -7
COSE_ALG_A256GCM = 3
HDR_ALG, HDR_KID, HDR_IV = 1, 4, 5
TAG_ENCRYPT0, TAG_SIGN1 = 16, 18
CLAIM_ISS, CLAIM_EXP, CLAIM_NBF, CLAIM_IAT = 1, 4, 5, 6
CLAIM_PERMIT = -65537
P_NUMBER, P_NAME, P_NIK4, P_CATEGORY, P_TRIP, P_ORIGIN, P_DEST = 1, 2, 3, 4, 5, 6, 7


@dataclass(frozen=True)
class PermitClaims:
    """What the token says about the permit (and nothing more)."""

    permit_number: str
    name: str
    nik_last4: str
    category: str  # domain.Category value
    trip_type: str  # domain.TripType value
    origin: str
    destination: str
    valid_from: date  # first valid day (Jakarta)
    valid_until: date  # last valid day (Jakarta), inclusive

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form (dates ISO)."""
        return {
            "permit_number": self.permit_number,
            "name": self.name,
            "nik_last4": self.nik_last4,
            "category": self.category,
            "trip_type": self.trip_type,
            "origin": self.origin,
            "destination": self.destination,
            "valid_from": self.valid_from.isoformat(),
            "valid_until": self.valid_until.isoformat(),
        }


def validity_window(valid_from: date, valid_until: date) -> tuple[datetime, datetime]:
    """(nbf, exp): 00:00:00 WIB of the first day, 23:59:59 WIB of the last day."""
    return (
        datetime.combine(valid_from, time(0, 0, 0), JAKARTA),
        datetime.combine(valid_until, time(23, 59, 59), JAKARTA),
    )


def encode_claims(claims: PermitClaims, now: datetime, issuer: str = DEFAULT_ISSUER) -> bytes:
    """The CWT claims map as CBOR bytes (deterministic key order)."""
    check_claims(claims)
    if unsafe_characters(issuer):
        raise ValueError(f"the issuer name holds unsafe characters: {issuer!r}")
    require_aware(now)
    nbf, exp = validity_window(claims.valid_from, claims.valid_until)
    cwt = {
        CLAIM_ISS: issuer,
        CLAIM_IAT: int(now.timestamp()),
        CLAIM_NBF: int(nbf.timestamp()),
        CLAIM_EXP: int(exp.timestamp()),
        CLAIM_PERMIT: {
            P_NUMBER: claims.permit_number,
            P_NAME: claims.name,
            P_NIK4: claims.nik_last4,
            P_CATEGORY: str(claims.category),
            P_TRIP: str(claims.trip_type),
            P_ORIGIN: claims.origin,
            P_DEST: claims.destination,
        },
    }
    return cbor2.dumps(cwt, canonical=True)


def check_claims(c: PermitClaims) -> None:
    """Raise ValueError when ``c`` cannot be issued (empty or long text, control or bidi
    characters, bad NIK digits, dates)."""
    text = [c.permit_number, c.name, c.category, c.trip_type, c.origin, c.destination]
    if not all(isinstance(t, str) and t.strip() and len(t) <= 200 for t in text):
        raise ValueError("permit claims must be non-empty text of at most 200 characters")
    for name in ("permit_number", "name", "category", "trip_type", "origin", "destination"):
        # A checkpoint prints these: a signed escape sequence would run on its screen.
        bad = unsafe_characters(getattr(c, name))
        if bad:
            raise ValueError(f"permit claim {name} holds unsafe characters ({', '.join(bad)})")
    if not (len(c.nik_last4) == 4 and c.nik_last4.isascii() and c.nik_last4.isdigit()):
        raise ValueError("nik_last4 must be exactly 4 digits")
    if c.valid_until < c.valid_from:
        raise ValueError("valid_until is before valid_from")
