"""Verify what a checkpoint is shown: a permit PDF, a photo of its QR, or the token text.

:func:`verify_input` works out what ``arg`` is, gets the token out of it, and checks the
token with :func:`~sikm_mailbot.permits.token.verify_token`. For a PDF it also checks the
PAdES signature against the trust list's signing certificates.

Untrusted files are parsed, after a size cap, in the sandbox child
(:mod:`sikm_mailbot.sandbox`, jobs in :mod:`~sikm_mailbot.permits.inspect`) under
``RLIMIT_AS``/``RLIMIT_CPU`` and a wall-clock timeout: pikepdf, pdfium, pyHanko and
zxing-cpp are C code reading whatever a stranger hands over. The child returns only
JSON (the token text and the signature summary); the token itself is checked in this
process, by bounded pure-Python code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from sikm_mailbot.errors import UsageError
from sikm_mailbot.sandbox import ChildLimits, Sandbox
from sikm_mailbot.sandbox_child import run_job

from .token import MAX_TOKEN_CHARS, PREFIX, Verdict, verify_token
from .trust import TrustList

MAX_PDF_BYTES = 20 * 1024 * 1024  # a permit is ~100 KB; a scanned one a few MB
MAX_IMAGE_BYTES = 30 * 1024 * 1024  # a 12 MP phone JPEG is 3-8 MB
# pyHanko's validation and a page render need more than one attachment parse.
CHILD_LIMITS = ChildLimits(memory_bytes=1024 * 1024 * 1024, cpu_seconds=20, timeout=30.0)
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00")

# Reasons beyond the token's own (token.MESSAGES): about the file the token came in.
FILE_MESSAGES: dict[str, tuple[str, str]] = {
    "no_token": ("No permit code found in the file.", "Tidak ditemukan kode izin dalam berkas."),
    "file_too_large": ("The file is too large to check.", "Berkas terlalu besar untuk diperiksa."),
    "file_unreadable": ("The file could not be read.", "Berkas tidak dapat dibaca."),
    "pdf_password_required": (
        "The PDF is password-protected: give its password (--password).",
        "PDF dilindungi kata sandi: berikan kata sandinya (--password).",
    ),
    "pdf_password_wrong": ("Wrong PDF password.", "Kata sandi PDF salah."),
    "pdf_signature": (
        "The PDF's signature is missing, broken or not the office's: the file was altered.",
        "Tanda tangan PDF tidak ada, rusak, atau bukan milik kantor: berkas telah diubah.",
    ),
}


class VerifyInputError(UsageError, ValueError):
    """``arg`` is neither a readable file nor a permit token (a usage error, not a verdict)."""


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of :func:`verify_input`.

    ``verdict`` is the token's; ``valid`` also requires, for a PDF that claims to be an
    original permit file (it carries the embedded token or any signature), a valid
    office signature. ``pdf_signature`` is None for images and tokens, else the
    summary of ``pdf.check_pdf_signature`` (``ok``, ``reason``, ``intact``, ``valid``,
    ``trusted``, ``covers_whole_file``, ``signer``).
    """

    verdict: Verdict
    source: str  # "pdf" | "image" | "token"
    pdf_signature: dict[str, Any] | None
    valid: bool
    reason: str  # "ok", a token reason code, a FILE_MESSAGES key, or "pdf_signature"
    token_from: str | None = None  # "embedded" | "qr" | "text"; None: no token found
    signature_required: bool = False

    @property
    def messages(self) -> tuple[str, str]:
        """(English, Indonesian) for :attr:`reason`."""
        if self.reason in FILE_MESSAGES:
            return FILE_MESSAGES[self.reason]
        return self.verdict.message_en, self.verdict.message_id

    @property
    def message(self) -> str:
        """``"English / Indonesian"`` one-liner for :attr:`reason`."""
        en, id_ = self.messages
        return f"{en} / {id_}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form: what the check needs and no more personal data than the QR holds."""
        c = self.verdict.claims
        en, id_ = self.messages
        return {
            "valid": self.valid,
            "reason_code": self.reason,
            "message_en": en,
            "message_id": id_,
            "source": self.source,
            "token_from": self.token_from,
            "permit_number": c.permit_number if c else None,
            "holder": {"name": c.name, "nik_last4": c.nik_last4} if c else None,
            "category": c.category if c else None,
            "trip_type": c.trip_type if c else None,
            "route": {"origin": c.origin, "destination": c.destination} if c else None,
            "valid_from": c.valid_from.isoformat() if c else None,
            "valid_until": c.valid_until.isoformat() if c else None,
            "issuer": self.verdict.issuer,
            "issued_at": self.verdict.issued_at.isoformat() if self.verdict.issued_at else None,
            "signer_kid": self.verdict.signer_kid,
            "sealed": self.verdict.sealed,
            "token_check": {
                "valid": self.verdict.valid,
                "reason_code": self.verdict.reason_code,
                "message_en": self.verdict.message_en,
            },
            "pdf_signature": self.pdf_signature,
            "pdf_signature_required": self.signature_required,
        }


def _no_verdict(code: str) -> Verdict:
    en, id_ = FILE_MESSAGES[code]
    return Verdict(False, code, en, id_)


def _failed(source: str, code: str, **kw: Any) -> VerifyResult:
    return VerifyResult(_no_verdict(code), source, kw.pop("pdf_signature", None), False, code, **kw)


def _kind(path: Path) -> str:
    """ "pdf", "image" or "token" (a text file holding a token) from the first bytes."""
    with path.open("rb") as fh:
        head = fh.read(16)
    if b"%PDF-" in head[:8]:
        return "pdf"
    if head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "image"
    if head.lstrip().startswith(PREFIX.encode()):
        return "token"
    return "unknown"


def verify_input(
    arg: str,
    trust: TrustList,
    now: datetime,
    revoked: set[str] | None = None,
    skew: timedelta = timedelta(minutes=5),
    *,
    password: str | None = None,
    sandbox: bool = True,
) -> VerifyResult:
    """Verify a permit PDF path, a QR image path (PNG/JPEG/WEBP), or token text (``SK1:…``).

    Never raises on bad *content*: a damaged, oversized or foreign file gives an
    invalid result with its reason. Raises :class:`VerifyInputError` when ``arg`` is
    neither an existing readable file nor a token. ``password`` opens an encrypted
    PDF. ``sandbox=False`` parses files in this process (benchmarks, trusted input).
    """
    text = arg.strip()
    if text.startswith(PREFIX):
        return _judge_token(text, "token", "text", trust, now, revoked, skew)
    path = Path(arg)
    try:
        if not path.is_file():
            raise VerifyInputError(f"no such file: {arg} (and it is not an {PREFIX} permit code)")
        kind = _kind(path)
        size = path.stat().st_size
    except OSError as exc:
        raise VerifyInputError(f"cannot read {arg}: {exc.strerror or exc}") from exc
    if kind == "unknown":
        raise VerifyInputError(f"{arg} is not a PDF, a PNG/JPEG/WEBP image or an {PREFIX} code")
    if kind == "token":
        if size > MAX_TOKEN_CHARS + 64:
            return _failed("token", "file_too_large")
        token = path.read_text("ascii", errors="replace").strip()
        return _judge_token(token, "token", "text", trust, now, revoked, skew)
    limit = MAX_PDF_BYTES if kind == "pdf" else MAX_IMAGE_BYTES
    if size > limit:
        return _failed(kind, "file_too_large")
    data = path.read_bytes()
    if kind == "image":
        found = _run_job("verify_image", data, {}, sandbox)
        if not found.get("ok"):
            return _failed("image", "file_unreadable")
        if not found.get("token"):
            return _failed("image", "no_token")
        return _judge_token(str(found["token"]), "image", "qr", trust, now, revoked, skew)
    return _judge_pdf(data, trust, now, revoked, skew, password, sandbox)


def _judge_token(
    token: str,
    source: str,
    token_from: str,
    trust: TrustList,
    now: datetime,
    revoked: set[str] | None,
    skew: timedelta,
) -> VerifyResult:
    verdict = verify_token(token, trust, now, skew, revoked)
    return VerifyResult(
        verdict, source, None, verdict.valid, verdict.reason_code, token_from=token_from
    )


def _judge_pdf(
    data: bytes,
    trust: TrustList,
    now: datetime,
    revoked: set[str] | None,
    skew: timedelta,
    password: str | None,
    sandbox: bool,
) -> VerifyResult:
    certs = [
        s.certificate.public_bytes(serialization.Encoding.PEM).decode()
        for s in trust.signers.values()
        if s.certificate is not None
    ]
    found = _run_job("verify_pdf", data, {"password": password, "certs": certs}, sandbox)
    if not found.get("ok"):
        code = str(found.get("code", "file_unreadable"))
        return _failed("pdf", code if code in FILE_MESSAGES else "file_unreadable")
    signature = found.get("signature")
    token, embedded = found.get("token"), bool(found.get("embedded"))
    if not token:
        return _failed("pdf", "no_token", pdf_signature=signature)
    verdict = verify_token(str(token), trust, now, skew, revoked)
    # A file carrying our embedded token or any signature claims to be the office's
    # original: its signature must hold. A scan or print-to-PDF of a paper permit has
    # neither and is judged on its QR alone, like a photo.
    sig_ok = bool(signature and signature.get("ok"))
    required = embedded or bool(signature and signature.get("reason") != "not_signed")
    if not verdict.valid:
        reason = verdict.reason_code
    elif required and not sig_ok:
        reason = "pdf_signature"
    else:
        reason = "ok"
    return VerifyResult(
        verdict,
        "pdf",
        signature,
        reason == "ok",
        reason,
        token_from="embedded" if embedded else "qr",
        signature_required=required,
    )


# ---- parsing (in the sandbox child, or in-process with sandbox=False) ---------------


def _run_job(job: str, data: bytes, options: dict[str, Any], sandbox: bool) -> dict[str, Any]:
    """Run a ``permits.inspect`` job; in the resource-limited child unless ``sandbox`` is False.

    Any failure (a limit, a crash, a damaged file) comes back as ``{"ok": False}``,
    which the callers read as ``file_unreadable``.
    """
    if not sandbox:
        try:
            return run_job(job, data, options)
        except Exception:  # noqa: BLE001 - untrusted file
            return {"ok": False, "code": "file_unreadable"}
    with Sandbox(CHILD_LIMITS) as box:  # one file per command: no worker to keep
        return box.run(job, data, **options)
