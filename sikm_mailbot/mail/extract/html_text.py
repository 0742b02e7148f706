"""HTML to text: the visible text of an HTML body or attachment, one block per line."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "ul",
    }
)
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript"})
_CELL_TAGS = frozenset({"td", "th"})


class _TextExtractor(HTMLParser):
    """Collects visible text line by line; `<blockquote>` lines get a `> ` prefix."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._line: list[str] = []
        self._line_depth = 0
        self._quote_depth = 0
        self._skip = 0
        self._pre = 0
        self._cells = 0  # cells seen on the current table row

    def _newline(self) -> None:
        text = "".join(self._line).strip()
        if text:
            self.lines.append("> " * self._line_depth + text)
        self._line = []
        self._cells = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag in _CELL_TAGS:
            if self._cells:
                self._line.append("\t")
            self._cells += 1
        elif tag in _BLOCK_TAGS:
            self._newline()
        if tag == "blockquote":
            self._quote_depth += 1
        elif tag == "pre":
            self._pre += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self._newline()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS and tag != "br":
            self._newline()
        if tag == "blockquote":
            self._quote_depth = max(0, self._quote_depth - 1)
        elif tag == "pre":
            self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre:
            parts = data.split("\n")
            for i, part in enumerate(parts):
                if i:
                    self._newline()
                self._append(part)
        else:
            self._append(re.sub(r"\s+", " ", data))

    def _append(self, text: str) -> None:
        if not text:
            return
        if not "".join(self._line).strip():
            self._line_depth = self._quote_depth
        self._line.append(text)


def html_to_text(html: str) -> str:
    """Visible text of an HTML document, one block per line (never raises)."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: BLE001 - html.parser is lenient; keep what we have
        pass
    parser._newline()
    return "\n".join(parser.lines).strip()
