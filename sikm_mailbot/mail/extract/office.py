"""Word (.docx) and OpenDocument (.odt) files: their paragraphs and tables as text.

Two halves. :func:`read_office` is the sandbox child's job "read_office": it
opens the untrusted zip, checks it is not a zip bomb (entry count, declared and
actual uncompressed sizes) before any XML is parsed, parses the one part that
holds the text with defusedxml (no DTDs, no entities), and answers with plain
blocks: ``{"p": text}`` or ``{"table": [[cell, …], …]}``.
:func:`fill_office` is the parent side: it turns those blocks into lines the
``Label: value`` parser reads (a two-column row "Nama Lengkap | Budi" becomes
"Nama Lengkap: Budi"; a row of labels over a row of values is paired column by
column) and classifies the document like any other text.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any
from xml.etree.ElementTree import Element

from sikm_mailbot.domain.vocabulary import DocKind
from sikm_mailbot.sandbox import Sandbox

from .doc_kinds import OUR_FORM_MIN_KEYS, classify, is_our_acroform, kind_from_text
from .fields import parse_fields
from .model import ReadAttachment

MAX_ENTRIES = 2000  # a letter has a few dozen parts
MAX_TOTAL_BYTES = 64 * 1024 * 1024  # declared uncompressed size of all entries
MAX_PART_BYTES = 16 * 1024 * 1024  # the text part, as really decompressed
MAX_TEXT_CHARS = 200_000  # what the child sends back
EXCERPT_CHARS = 300  # as for PDFs and text files

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_REL_OFFICE_DOC = "/officeDocument"
_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"

Block = dict[str, Any]


class OfficeError(Exception):
    """The file cannot be read; the message is the reason, in English."""


# ---------------------------------------------------------------- child: the job


def read_office(data: bytes, **_options: Any) -> dict[str, Any]:
    """Job "read_office": {"ok", "format", "blocks"} or {"ok": False, "error"}."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            _check_zip(zf)
            names = set(zf.namelist())
            if "content.xml" in names:
                fmt, blocks = "odt", _odt_blocks(_parse_part(zf, "content.xml"))
            else:
                fmt, blocks = "docx", _docx_blocks(_parse_part(zf, _docx_main_part(zf)))
    except OfficeError as exc:
        return {"ok": False, "error": str(exc)}
    except zipfile.BadZipFile:
        return {"ok": False, "error": "damaged document (not a readable zip)"}
    return {"ok": True, "format": fmt, "blocks": _bounded(blocks)}


def _check_zip(zf: zipfile.ZipFile) -> None:
    """Refuse a zip bomb from its directory, before anything is decompressed."""
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise OfficeError(f"document has too many parts ({len(infos)}; zip bomb?)")
    total = sum(i.file_size for i in infos)
    if total > MAX_TOTAL_BYTES:
        raise OfficeError(f"document unpacks to {total:,} bytes (zip bomb?)")
    if any(i.flag_bits & 0x1 for i in infos):
        raise OfficeError("document is password-protected")


def _read_part(zf: zipfile.ZipFile, name: str) -> bytes:
    """One part's bytes, never more than MAX_PART_BYTES whatever its header claims."""
    try:
        with zf.open(name) as fh:
            raw = fh.read(MAX_PART_BYTES + 1)
    except KeyError:
        raise OfficeError(f"document has no {name} (damaged or not a text document)") from None
    if len(raw) > MAX_PART_BYTES:
        raise OfficeError(f"{name} unpacks to more than {MAX_PART_BYTES:,} bytes (zip bomb?)")
    return raw


def _parse_part(zf: zipfile.ZipFile, name: str) -> Element:
    """A part's XML root; DTDs and entities are refused (billion laughs, external files)."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    raw = _read_part(zf, name)
    try:
        return fromstring(raw, forbid_dtd=True)
    except DefusedXmlException:
        raise OfficeError(f"{name} declares a DTD or entities (refused)") from None
    except ParseError:
        raise OfficeError(f"{name} is not well-formed XML (damaged or encrypted)") from None


def _docx_main_part(zf: zipfile.ZipFile) -> str:
    """The main document part named by _rels/.rels; word/document.xml by default."""
    if "_rels/.rels" in zf.namelist():
        for rel in _parse_part(zf, "_rels/.rels"):
            if str(rel.get("Type", "")).endswith(_REL_OFFICE_DOC):
                target = str(rel.get("Target", "")).lstrip("/")
                if target:
                    return target
    return "word/document.xml"


def _bounded(blocks: list[Block]) -> list[Block]:
    """Blocks up to MAX_TEXT_CHARS of text in all."""
    out: list[Block] = []
    left = MAX_TEXT_CHARS
    for block in blocks:
        size = len(block["p"]) if "p" in block else sum(len(c) for r in block["table"] for c in r)
        if size > left:
            break
        left -= size
        out.append(block)
    return out


# ---------------------------------------------------------------- child: Word


def _docx_blocks(root: Element) -> list[Block]:
    body = root.find(f"{_W}body")
    return _docx_container(body if body is not None else root)


def _docx_container(el: Element) -> list[Block]:
    """Paragraphs and tables in document order; content controls and the like are opened."""
    blocks: list[Block] = []
    for child in el:
        if child.tag == f"{_W}p":
            blocks.append({"p": _docx_para(child)})
        elif child.tag == f"{_W}tbl":
            blocks.append({"table": _docx_table(child)})
        elif child.tag not in (_MC_FALLBACK, f"{_W}sectPr"):
            blocks.extend(_docx_container(child))  # w:sdt, w:sdtContent, w:customXml, …
    return blocks


def _docx_para(el: Element) -> str:
    """A paragraph's visible text: w:t runs, tabs and breaks (not deleted text or field codes)."""
    parts: list[str] = []
    for child in el:
        tag = child.tag
        if tag == f"{_W}t":
            parts.append(child.text or "")
        elif tag == f"{_W}tab":
            parts.append("\t")
        elif tag in (f"{_W}br", f"{_W}cr"):
            parts.append("\n")
        elif tag == f"{_W}noBreakHyphen":
            parts.append("-")
        elif tag == f"{_W}p":  # a paragraph inside a text box
            parts.append("\n" + _docx_para(child))
        elif tag != _MC_FALLBACK:  # runs, hyperlinks, content controls, text boxes
            parts.append(_docx_para(child))
    return "".join(parts)


def _docx_table(el: Element) -> list[list[str]]:
    rows = []
    for tr in el.findall(f"{_W}tr"):  # this table's rows; nested tables stay in their cell
        cells = [_cell_text(_docx_container(tc)) for tc in tr if tc.tag == f"{_W}tc"]
        rows.append(cells)
    return rows


# ---------------------------------------------------------------- child: OpenDocument


def _odt_blocks(root: Element) -> list[Block]:
    body = root.find(f"{_OFFICE}body/{_OFFICE}text")
    return _odt_container(body if body is not None else root)


def _odt_container(el: Element) -> list[Block]:
    blocks: list[Block] = []
    for child in el:
        if child.tag in (f"{_TEXT}p", f"{_TEXT}h"):
            blocks.append({"p": _odt_para(child)})
        elif child.tag == f"{_TABLE}table":
            blocks.append({"table": _odt_table(child)})
        elif child.tag not in (f"{_OFFICE}annotation", f"{_TEXT}tracked-changes"):
            blocks.extend(_odt_container(child))  # lists, sections, …
    return blocks


def _odt_para(el: Element) -> str:
    """Mixed content: text, spans, <text:s c="n"/>, tabs, line breaks, text boxes."""
    parts = [el.text or ""]
    for child in el:
        tag = child.tag
        if tag == f"{_TEXT}s":
            count = str(child.get(f"{_TEXT}c", "1"))
            parts.append(" " * (min(int(count), 100) if count.isdigit() else 1))
        elif tag == f"{_TEXT}tab":
            parts.append("\t")
        elif tag == f"{_TEXT}line-break":
            parts.append("\n")
        elif tag in (f"{_TEXT}p", f"{_TEXT}h"):
            parts.append("\n" + _odt_para(child))
        elif tag not in (f"{_OFFICE}annotation", f"{_TEXT}note"):
            parts.append(_odt_para(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _odt_table(el: Element) -> list[list[str]]:
    rows = []
    for tr in _odt_rows(el):
        cells = [
            _cell_text(_odt_container(tc))
            for tc in tr
            if tc.tag in (f"{_TABLE}table-cell", f"{_TABLE}covered-table-cell")
        ]
        rows.append(cells)
    return rows


_ROW_GROUPS = {f"{_TABLE}table-header-rows", f"{_TABLE}table-rows", f"{_TABLE}table-row-group"}


def _odt_rows(el: Element) -> list[Element]:
    """This table's rows (inside header/row groups too), not those of nested tables."""
    rows: list[Element] = []
    for child in el:
        if child.tag == f"{_TABLE}table-row":
            rows.append(child)
        elif child.tag in _ROW_GROUPS:
            rows.extend(_odt_rows(child))
    return rows


def _cell_text(blocks: list[Block]) -> str:
    """A cell's paragraphs (and nested tables) on one line."""
    words: list[str] = []
    for block in blocks:
        if "p" in block:
            words.append(block["p"])
        else:
            words.extend(c for row in block["table"] for c in row)
    return " ".join(" ".join(words).split())


# ---------------------------------------------------------------- parent: text and kind

_NUMBERING_CELL = re.compile(r"^\(?(?:\d{1,3}|[a-zA-Z])[.)]?$")
_SEPARATOR_CELL = re.compile(r"^[:：=]$")


def _bare(label: str) -> str:
    """A label cell without its trailing colon ("NIK :" → "NIK")."""
    return label.strip().rstrip(":：").rstrip()


def _is_label(cell: str) -> bool:
    """True when the whole cell is one of our form's labels ("Nama Lengkap", "NIK :")."""
    cell = _bare(cell)
    return bool(cell) and list(parse_fields(f"{cell}: x").values()) == ["x"]


def _row_cells(row: list[str]) -> list[str]:
    """The cells that carry words: no empty cells, lone colons or numbering columns."""
    cells = [c.strip() for c in row if c.strip() and not _SEPARATOR_CELL.match(c.strip())]
    if len(cells) > 2 and _NUMBERING_CELL.match(cells[0]):
        cells = cells[1:]
    return cells


def _table_lines(rows: list[list[str]]) -> list[str]:
    """A table's rows as lines: label/value pairs where the layout shows them."""
    lines: list[str] = []
    grid = False  # a row of labels over a row of values was seen in this table
    i = 0
    while i < len(rows):
        cells = _row_cells(rows[i])
        below = rows[i + 1] if i + 1 < len(rows) else []
        if (
            (len(cells) > 1 or (grid and cells))
            and len(below) == len(rows[i])
            and all(_is_label(c) for c in rows[i] if c.strip())
            and not any(_is_label(c) for c in below if c.strip())
        ):  # labels above values: pair them column by column
            grid = True
            pairs = zip(rows[i], below, strict=True)
            lines += [f"{_bare(lab)}: {val.strip()}" for lab, val in pairs if lab.strip()]
            i += 2
            continue
        if len(cells) == 2 and not _is_label(cells[1]):
            lines.append(f"{_bare(cells[0])}: {cells[1]}")
        else:
            lines.extend(cells)
        i += 1
    return lines


def office_text(blocks: list[Block]) -> str:
    """The document as lines for the ``Label: value`` parser."""
    lines: list[str] = []
    for block in blocks:
        if "p" in block:
            lines.append(str(block["p"]))
        elif isinstance(block.get("table"), list):
            lines.extend(_table_lines([[str(c) for c in row] for row in block["table"]]))
    return "\n".join(lines)


def fill_office(att: ReadAttachment, sandbox: Sandbox) -> None:
    """Read a .docx/.odt attachment in the sandbox; set kind, fields, excerpt or problem."""
    res = sandbox.run("read_office", att.data)
    if not res.get("ok"):
        att.problem = "attachment_unreadable"
        att.reason = str(res.get("error") or "document could not be read")
        return
    text = office_text(list(res.get("blocks") or []))
    att.text_excerpt = " ".join(text.split())[:EXCERPT_CHARS]
    fields = parse_fields(text)
    what = "Word document" if res.get("format") == "docx" else "OpenDocument text"
    by_text = kind_from_text(text)
    # Our form: its title, or its labels with a trip among them; a few labels alone
    # only when no other document's title is there (a statement lists Nama, NIK, Alamat).
    if (
        by_text == DocKind.form
        or is_our_acroform(fields)
        or (by_text is None and len(fields) >= OUR_FORM_MIN_KEYS)
    ):
        att.kind, att.fields = DocKind.form.value, fields
        att.field_source = "page_text" if fields else ""
        att.reason = f"{what} with form fields"
    else:
        kind, why = classify(str(res.get("format")), att.filename, text=text)
        att.kind, att.reason = kind, f"{what}; {why}"
