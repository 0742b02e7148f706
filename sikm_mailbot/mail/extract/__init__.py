"""Extraction: one raw email (bytes) in, a structured and classified ReadMessage out.

No database and no assessment here. Untrusted PDFs and images are parsed in a
resource-limited child process (sandbox.py).
"""

from sikm_mailbot.sandbox import Sandbox, close_shared_sandboxes, shared_sandbox

from .body import split_body
from .doc_kinds import classify, kind_from_name, kind_from_text
from .fields import parse_fields
from .filetypes import sniff_type
from .html_text import html_to_text
from .model import Limits, ReadAttachment, ReadMessage
from .reader import read_message

__all__ = [
    "Limits",
    "ReadAttachment",
    "ReadMessage",
    "Sandbox",
    "classify",
    "close_shared_sandboxes",
    "html_to_text",
    "kind_from_name",
    "kind_from_text",
    "parse_fields",
    "read_message",
    "shared_sandbox",
    "sniff_type",
    "split_body",
]
