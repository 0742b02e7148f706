"""Reading a stranger's permit file: the sandbox jobs "verify_pdf" and "verify_image".

pikepdf, pdfium, pyHanko and zxing-cpp are C code reading whatever a checkpoint is
handed, so these run in the sandbox child (``sikm_mailbot.sandbox``) and return
only JSON: the token texts and the signature summary. The token itself is checked
in the parent by :func:`~sikm_mailbot.permits.token.verify_token`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any


def inspect_image(data: bytes) -> dict[str, Any]:
    """``{"ok": True, "token": text or None}``: the permit code in a QR photo or scan."""
    from .qr import decode_qr_image

    return {"ok": True, "token": decode_qr_image(data)}


def inspect_pdf(
    data: bytes, password: str | None = None, certs: Sequence[str] = ()
) -> dict[str, Any]:
    """What a permit PDF holds: its embedded token, its QR, and how its signature checks.

    ``{"ok": True, "embedded_token", "qr_token", "signature"}``. The page is rendered
    and its QR scanned unless an office signature covers the whole file and the
    embedded token is there (then the page is the office's own and needs no scan).
    ``{"ok": False, "code"}`` with ``pdf_password_required``, ``pdf_password_wrong``
    or ``file_unreadable`` when the file cannot be opened.
    """
    refused = _open_refusal(data, password)
    if refused is not None:
        return {"ok": False, "code": refused}

    from .pdf import read_token_from_pdf
    from .qr import decode_qr_from_pdf

    embedded = read_token_from_pdf(data, password)
    signature = _signature(data, password, certs)
    page_signed = bool(signature.get("ok")) and embedded is not None
    return {
        "ok": True,
        "embedded_token": embedded,
        "qr_token": None if page_signed else decode_qr_from_pdf(data, password),
        "signature": signature,
    }


def _open_refusal(data: bytes, password: str | None) -> str | None:
    """Why the PDF cannot be opened with ``password`` (a FILE_MESSAGES code), or None."""
    import pikepdf

    try:
        with pikepdf.open(io.BytesIO(data)):
            return None
    except pikepdf.PasswordError:
        if not password:
            return "pdf_password_required"
    except Exception:  # noqa: BLE001 - damaged: pdfium may still render the QR
        return None
    try:
        with pikepdf.open(io.BytesIO(data), password=password):
            return None
    except pikepdf.PasswordError:
        return "pdf_password_wrong"
    except Exception:  # noqa: BLE001 - damaged file
        return "file_unreadable"


def _signature(data: bytes, password: str | None, cert_pems: Sequence[str]) -> dict[str, Any]:
    """The PAdES signature check, as JSON, against the trusted signing certificates."""
    if not cert_pems:
        return {"ok": False, "reason": "no_trusted_certificate"}
    from cryptography import x509

    from .pdf import check_pdf_signature

    certs = [x509.load_pem_x509_certificate(pem.encode()) for pem in cert_pems]
    check = check_pdf_signature(data, certs, password)
    return {
        "ok": check.ok,
        "reason": check.reason,
        "intact": check.intact,
        "valid": check.valid,
        "trusted": check.trusted,
        "covers_whole_file": check.covers_whole_file,
        "signer": check.signer,
    }
