"""Reading one PDF: encryption, AcroForm values, page text. Runs in the sandbox child.

Why two libraries: pypdfium2 gives page text 30x faster than pdfplumber and
already puts a printed form's label and value (same baseline) on one line, which
is all the `Label: value` parser needs; pdfplumber's word layout adds nothing
there. pdfminer (pdfplumber's parser) reads the AcroForm dictionaries, which
pdfium only exposes through its form-filling environment.
"""

from __future__ import annotations

import io
from typing import Any

MAX_FIELD_DEPTH = 12
MAX_FIELDS = 2000
MAX_TEXT_CHARS = 200_000
MAX_VALUE_CHARS = 2000


def read_pdf(
    data: bytes, max_pages: int, ocr: bool = False, ocr_seconds: float = 10.0
) -> dict[str, Any]:
    """A JSON-ready reading of a PDF: ok, encrypted, pages, text, layout, acroform, xfa, notes.

    `text` is pdfium's text in content-stream order; `layout` the same text
    rebuilt line by line from the positions of its runs (see _layout_text).
    With ``ocr``, pages without a text layer (scans) are rendered and read by
    OCR within about ``ocr_seconds`` (see :mod:`.pdf_ocr`); their text takes
    the page's place in both, and "ocr" says how each page was read.

    Only ever call this in the sandbox child: pdfminer inflates streams without
    limits, and a crafted file can use all memory or loop for long.
    """
    out: dict[str, Any] = {
        "ok": True,
        "encrypted": False,
        "pages": None,
        "text": "",
        "layout": "",
        "acroform": {},
        "xfa": False,
        "notes": [],
    }
    if b"%%EOF" not in data[-2048:]:
        out["notes"].append("file looks truncated (no %%EOF at the end)")
    text_error = _read_text(data, max_pages, out, ocr_seconds if ocr else None)
    if out["encrypted"]:
        return out
    form_error = _read_acroform(data, out)
    if out["encrypted"]:
        return out
    if text_error and form_error:
        return {"ok": False, "error": f"PDF could not be parsed ({text_error})"}
    if text_error:
        out["notes"].append(f"page text unreadable ({text_error})")
    return out


def _read_text(data: bytes, max_pages: int, out: dict[str, Any], ocr_seconds: float | None) -> str:
    """Fill pages/text with pypdfium2 (OCR for scanned pages when ``ocr_seconds``).

    Returns an error description or "".
    """
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        # PDFium's last-error code is process-wide and goes stale: after one
        # encrypted file, any unloadable PDF says "password". Believe it only when
        # the file declares encryption (/Encrypt is always in the clear trailer).
        if "password" in str(exc).lower() and b"/Encrypt" in data:
            out["encrypted"] = True
            return ""
        return "pdfium: " + str(exc).split("(")[-1].rstrip(").")[:80]
    try:
        count = len(doc)
        out["pages"] = count
        if count > max_pages:
            out["notes"].append(f"only the first {max_pages} of {count} pages were read")
        chunks: list[str] = []
        layouts: list[str] = []
        size = 0
        for index in range(min(count, max_pages)):
            page = doc[index]
            try:
                textpage = page.get_textpage()
                try:
                    chunk = textpage.get_text_bounded()
                    layouts.append(_layout_text(textpage))
                finally:
                    textpage.close()
            finally:
                page.close()
            chunks.append(chunk.replace("\r\n", "\n").replace("\r", "\n"))
            size += len(chunk)
            if size > MAX_TEXT_CHARS:
                break
        if ocr_seconds is not None:
            from .pdf_ocr import ocr_scanned_pages

            out["ocr"] = ocr_scanned_pages(doc, chunks, layouts, ocr_seconds)
        out["text"] = "\n".join(chunks)[:MAX_TEXT_CHARS]
        out["layout"] = "\n".join(layouts)[:MAX_TEXT_CHARS]
        if not out["text"].strip() and count:
            out["notes"].append("no text layer (scanned?)")
        return ""
    finally:
        doc.close()


MAX_RECTS = 20_000


def _layout_text(textpage: Any) -> str:
    """Page text in reading order: text runs grouped into lines by position, left to right.

    pdfium's plain text follows the content stream, and a flattened form (pdftk
    `flatten`, Acrobat "Print to PDF") draws every value after all the labels, so
    "Nama Lengkap" and "Budi" end up far apart. Runs whose vertical extents
    overlap by half are one line; a wide gap between runs becomes a tab. Never raises.
    """
    try:
        runs = []
        for i in range(min(textpage.count_rects(), MAX_RECTS)):
            left, bottom, right, top = textpage.get_rect(i)
            text = textpage.get_text_bounded(left, bottom, right, top)
            text = " ".join(text.replace("\r", " ").replace("\n", " ").split())
            if text:
                runs.append((left, bottom, right, top, text))
    except Exception:  # noqa: BLE001 - the stream-order text is still there
        return ""
    runs.sort(key=lambda r: -(r[1] + r[3]))
    lines: list[list[tuple[float, float, float, float, str]]] = []
    band = (0.0, 0.0)
    for run in runs:
        height = max(run[3] - run[1], 0.1)
        if lines:
            overlap = min(band[1], run[3]) - max(band[0], run[1])
            if overlap >= 0.5 * min(height, max(band[1] - band[0], 0.1)):
                lines[-1].append(run)
                band = (min(band[0], run[1]), max(band[1], run[3]))
                continue
        lines.append([run])
        band = (run[1], run[3])
    out = []
    for line in lines:
        line.sort(key=lambda r: r[0])
        parts = [line[0][4]]
        for prev, cur in zip(line, line[1:], strict=False):
            gap = cur[0] - prev[2]
            parts.append("\t" if gap > (cur[3] - cur[1]) else " ")
            parts.append(cur[4])
        out.append("".join(parts))
    return "\n".join(out)


def _read_acroform(data: bytes, out: dict[str, Any]) -> str:
    """Fill acroform/xfa with pdfminer; return an error description or ""."""
    from pdfminer.pdfdocument import PDFDocument, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFParser
    from pdfminer.pdftypes import resolve1

    try:
        doc = PDFDocument(PDFParser(io.BytesIO(data)), password="")
    except PDFPasswordIncorrect:
        out["encrypted"] = True
        return ""
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure is "unreadable"
        return f"pdfminer: {type(exc).__name__}"
    try:
        acro = resolve1(doc.catalog.get("AcroForm"))
        if not isinstance(acro, dict):
            return ""
        out["xfa"] = "XFA" in acro
        fields: dict[str, str] = {}
        _walk_fields(resolve1(acro.get("Fields")), "", None, 0, set(), fields)
        out["acroform"] = fields
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001
        out["notes"].append(f"form fields unreadable ({type(exc).__name__})")
    return ""


def _walk_fields(
    kids: Any, prefix: str, inherited_ft: str | None, depth: int, seen: set[int], out: dict
) -> None:
    """Depth-first walk of a field tree; values of named fields go into `out`.

    Resolves indirect references one level at a time (never recursively, a
    signature's dict value would recurse without end), keeps a visited set
    against reference cycles, inherits FT from the parent, and decodes only
    strings and names.
    """
    from pdfminer.pdftypes import PDFObjRef, resolve1

    if depth > MAX_FIELD_DEPTH or not isinstance(kids, list):
        return
    for ref in kids:
        if len(out) >= MAX_FIELDS:
            return
        if isinstance(ref, PDFObjRef):
            if ref.objid in seen:
                continue
            seen.add(ref.objid)
        node = resolve1(ref)
        if not isinstance(node, dict):
            continue
        ft = _name(resolve1(node.get("FT"))) or inherited_ft
        partial = _text(resolve1(node.get("T")))
        name = f"{prefix}.{partial}" if prefix and partial else (partial or prefix)
        if partial:
            value = _value(resolve1(node.get("V")), ft)
            if value is not None and name not in out:
                out[name] = value
        _walk_fields(resolve1(node.get("Kids")), name, ft, depth + 1, seen, out)


def _name(obj: Any) -> str:
    from pdfminer.psparser import PSLiteral

    if isinstance(obj, PSLiteral):
        raw = obj.name
        return raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
    return ""


def _text(obj: Any) -> str:
    from pdfminer.utils import decode_text

    if isinstance(obj, bytes):
        try:
            return decode_text(obj)[:MAX_VALUE_CHARS]
        except Exception:  # noqa: BLE001
            return obj.decode("latin-1")[:MAX_VALUE_CHARS]
    if isinstance(obj, str):
        return obj[:MAX_VALUE_CHARS]
    return ""


def _value(obj: Any, ft: str | None) -> str | None:
    """A field's value as text: strings and names only (a /Sig's dict is skipped)."""
    if isinstance(obj, bytes | str):
        return _text(obj)
    name = _name(obj)
    if name:
        return "" if name == "Off" and ft == "Btn" else name
    if isinstance(obj, list):  # multi-select choice fields
        parts = [_text(v) or _name(v) for v in obj[:50]]
        return ", ".join(p for p in parts if p)
    return None
