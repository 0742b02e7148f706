"""Permits: keys, the sealed QR token, the QR image, and the signed permit PDF.

Import from the submodules (``permits.token``, ``permits.keys``, ``permits.qr``,
``permits.pdf``); the most used names are re-exported here.
"""

from .keys import CheckpointKey, KeyStore, KeyStoreError, Signer, TrustList, TrustListError
from .token import PermitClaims, Verdict, issue_token, verify_token

__all__ = [
    "CheckpointKey",
    "KeyStore",
    "KeyStoreError",
    "PermitClaims",
    "Signer",
    "TrustList",
    "TrustListError",
    "Verdict",
    "issue_token",
    "verify_token",
]
