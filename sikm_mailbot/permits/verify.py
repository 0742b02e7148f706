"""Verify what a checkpoint is shown: a permit PDF, a photo of its QR, or the token text.

:func:`verify_input` works out what ``arg`` is, gets the token out of it, and checks the
token with :func:`~sikm_mailbot.permits.token.verify_token`. For a PDF it also checks the
PAdES signature against the trust list's signing certificates, and says what the file
proves (:attr:`VerifyResult.page_verified`):

* an office signature, intact and covering the whole file (no update appended after
  it), and the embedded token valid: the page itself is the office's;
* a signature that is broken, forged or not the office's: refused (``pdf_signature``);
* anything less (no signature, or an office signature over an earlier revision with
  changes appended): only the QR printed on the page is judged, as on a photo, and
  the verdict says the page is NOT signed (``page_not_signed``, still valid);
* a QR image or a bare token: there is no page to verify.

When the office seals its tokens (``permits.encrypt_qr``), a signed-only token is
refused (``not_sealed``): see :func:`sealing_required`.

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
    # Valid: the QR's token is genuine, but nothing vouches for the rest of the page.
    "page_not_signed": (
        "QR valid; this page is NOT signed: compare the name with the KTP, not the page.",
        "QR sah; halaman ini TIDAK ditandatangani: cocokkan nama dengan KTP, bukan halaman.",
    ),
}

# What the check says about the page (English, Indonesian), by :meth:`VerifyResult.page_case`.
PAGE_NOTES: dict[str, tuple[str, str]] = {
    "signed": (
        "verified: the office signature covers the whole file.",
        "terverifikasi: tanda tangan kantor mencakup seluruh berkas.",
    ),
    "not_signed": (
        "NOT signed: compare the name with the KTP, not the page.",
        "TIDAK ditandatangani: cocokkan nama dengan KTP, bukan halaman.",
    ),
    "no_page": (
        "none: a QR image or a code has no page to verify; compare the name with the KTP.",
        "tidak ada: gambar QR atau kode tidak punya halaman; cocokkan nama dengan KTP.",
    ),
    "refused": ("not verified: the permit is refused.", "tidak terverifikasi: izin ditolak."),
}


class VerifyInputError(UsageError, ValueError):
    """``arg`` is neither a readable file nor a permit token (a usage error, not a verdict)."""


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of :func:`verify_input`.

    ``verdict`` is the token's; ``valid`` also requires that a PDF's signature, if it
    has one, is not broken or foreign. ``page_verified`` is True only when the office
    signature covers the whole PDF and the token is valid: then the page itself is
    genuine; otherwise only the token (the name it carries) is. ``pdf_signature`` is
    None for images and tokens, else the summary of ``pdf.check_pdf_signature``
    (``ok``, ``reason``, ``intact``, ``valid``, ``trusted``, ``covers_whole_file``,
    ``signer``).
    """

    verdict: Verdict
    source: str  # "pdf" | "image" | "token"
    pdf_signature: dict[str, Any] | None
    valid: bool
    reason: str  # "ok", a token reason code, or a FILE_MESSAGES key ("page_not_signed", …)
    token_from: str | None = None  # "embedded" | "qr" | "text"; None: no token found
    signature_required: bool = False
    page_verified: bool = False

    @property
    def page_case(self) -> str:
        """A :data:`PAGE_NOTES` key: ``no_page`` (an image or a code), else for a PDF
        ``signed``, ``not_signed`` (valid on its QR alone) or ``refused``."""
        if self.source != "pdf":
            return "no_page"
        if not self.valid:
            return "refused"
        return "signed" if self.page_verified else "not_signed"

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
        page_en, page_id = PAGE_NOTES[self.page_case]
        return {
            "valid": self.valid,
            "page_verified": self.page_verified,
            "reason_code": self.reason,
            "message_en": en,
            "message_id": id_,
            "page_note_en": page_en,
            "page_note_id": page_id,
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


def sealing_required(office_seals: bool, trust: TrustList) -> bool:
    """Whether a signed-only token must be refused (``not_sealed``).

    Yes when the office seals its tokens (``permits.encrypt_qr`` at the office; the
    exported trust list's ``sealed`` on a checkpoint device) and this device can open
    sealed ones (its trust list holds checkpoint keys). A public verifier without
    checkpoint keys reads only signed-only tokens, so it accepts them.
    """
    return office_seals and bool(trust.checkpoint_keys)


@dataclass(frozen=True)
class _Check:
    """What every token check in one :func:`verify_input` call shares."""

    trust: TrustList
    now: datetime
    revoked: set[str] | None
    skew: timedelta
    require_sealed: bool

    def token(self, text: str) -> Verdict:
        return verify_token(
            text, self.trust, self.now, self.skew, self.revoked, require_sealed=self.require_sealed
        )


def verify_input(
    arg: str,
    trust: TrustList,
    now: datetime,
    revoked: set[str] | None = None,
    skew: timedelta = timedelta(minutes=5),
    *,
    password: str | None = None,
    sandbox: bool = True,
    require_sealed: bool = False,
) -> VerifyResult:
    """Verify a permit PDF path, a QR image path (PNG/JPEG/WEBP), or token text (``SK1:…``).

    Never raises on bad *content*: a damaged, oversized or foreign file gives an
    invalid result with its reason. Raises :class:`VerifyInputError` when ``arg`` is
    neither an existing readable file nor a token. ``password`` opens an encrypted
    PDF. ``sandbox=False`` parses files in this process (benchmarks, trusted input).
    ``require_sealed`` refuses signed-only tokens (:func:`sealing_required`).
    """
    check = _Check(trust, now, revoked, skew, require_sealed)
    text = arg.strip()
    if text.startswith(PREFIX):
        return _judge_token(text, "token", "text", check)
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
        return _judge_token(token, "token", "text", check)
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
        return _judge_token(str(found["token"]), "image", "qr", check)
    certs = [
        s.certificate.public_bytes(serialization.Encoding.PEM).decode()
        for s in trust.signers.values()
        if s.certificate is not None
    ]
    found = _run_job("verify_pdf", data, {"password": password, "certs": certs}, sandbox)
    if not found.get("ok"):
        code = str(found.get("code", "file_unreadable"))
        return _failed("pdf", code if code in FILE_MESSAGES else "file_unreadable")
    return _judge_pdf(found, check)


def _judge_token(token: str, source: str, token_from: str, check: _Check) -> VerifyResult:
    verdict = check.token(token)
    return VerifyResult(
        verdict, source, None, verdict.valid, verdict.reason_code, token_from=token_from
    )


def _signature_state(signature: dict[str, Any] | None) -> str:
    """``whole`` (the office's, over the whole file), ``none`` (unsigned), ``earlier``
    (the office's, intact, but changes were appended after it; or no certificate to
    check it against), or ``broken`` (altered, forged, foreign, unreadable)."""
    if not signature:
        return "broken"
    if signature.get("ok"):
        return "whole"
    reason = signature.get("reason")
    if reason == "not_signed":
        return "none"
    if reason == "no_trusted_certificate" or (
        signature.get("intact") and signature.get("valid") and signature.get("trusted")
    ):
        return "earlier"
    return "broken"


def _judge_pdf(found: dict[str, Any], check: _Check) -> VerifyResult:
    """Judge a PDF on what it proves (see the module docstring)."""
    signature = found.get("signature")
    embedded, qr = found.get("embedded_token"), found.get("qr_token")
    state = _signature_state(signature)
    token = embedded or qr
    if not token:
        return _failed("pdf", "no_token", pdf_signature=signature)
    if state == "whole":
        verdict = check.token(str(token))
        return VerifyResult(
            verdict, "pdf", signature, verdict.valid, verdict.reason_code,
            token_from="embedded" if embedded else "qr", signature_required=True,
            page_verified=verdict.valid,
        )  # fmt: skip
    if state == "broken":
        verdict = check.token(str(token))
        return VerifyResult(
            verdict, "pdf", signature, False,
            verdict.reason_code if not verdict.valid else "pdf_signature",
            token_from="embedded" if embedded else "qr", signature_required=True,
        )  # fmt: skip
    # Unsigned, or signed only up to an earlier revision: the page proves nothing, so
    # only its printed QR is judged, as on a photo. An embedded copy without a
    # signature over it is just text anyone could have put there.
    if not qr:
        return _failed("pdf", "pdf_signature", pdf_signature=signature, signature_required=True)
    verdict = check.token(str(qr))
    return VerifyResult(
        verdict, "pdf", signature, verdict.valid,
        "page_not_signed" if verdict.valid else verdict.reason_code,
        token_from="qr", signature_required=False,
    )  # fmt: skip


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
