"""The key directory's files: the ``keys.json`` index line, and secret files on disk.

Every secret file is written owner-only from its first byte; a checkpoint key is
stored as plain base64 or, with a passphrase, wrapped with scrypt + AES-GCM.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from sikm_mailbot.errors import UsageError

from .aware import parse_aware

_SCRYPT_N = 2**15  # ~32 MiB, ~0.1 s: once per key load, not per token

KeyKind = Literal["signing", "checkpoint"]
KeyStatus = Literal["active", "retired"]


class KeyStoreError(UsageError):
    """The key store is missing, damaged, locked, or asked to do something it refuses."""


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
            not_before=parse_aware(d["not_before"]),
            not_after=parse_aware(d["not_after"]),
            key_file=d["key_file"],
            cert_file=d.get("cert_file"),
        )


def write_private(path: Path, data: bytes, *, mode: int = 0o600, replace: bool = False) -> None:
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


def wrap_secret(key: bytes, passphrase: bytes | None) -> bytes:
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


def unwrap_secret(data: bytes, passphrase: bytes | None) -> bytes:
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
