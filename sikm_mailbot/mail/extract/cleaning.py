"""The one cleaning step of reading: every text kept from a mail loses its control and
bidi characters (:func:`sikm_mailbot.domain.safe_text.clean`).

Applied once, to the finished :class:`ReadMessage`, so that a field added to the
model later is cleaned too, whichever reader (headers, body, AcroForm, page text,
file names) produced it. Only the headers that triage reads are left as sent: they
are never stored or shown, and authentication parsing wants them untouched.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass, replace
from typing import Any

from sikm_mailbot.domain.safe_text import clean

from .model import ReadAttachment, ReadMessage

# Kept as sent: triage's raw headers (never stored or printed) and the file bytes.
_UNTOUCHED = frozenset({"headers", "data"})


def clean_message(msg: ReadMessage) -> ReadMessage:
    """``msg`` with every kept text cleaned, attachments included (in place; returned)."""
    _clean_dataclass(msg)
    return msg


def _clean_dataclass(obj: ReadMessage | ReadAttachment) -> None:
    for f in fields(obj):
        if f.name not in _UNTOUCHED:
            setattr(obj, f.name, _cleaned(getattr(obj, f.name)))


def _cleaned_frozen(record: Any) -> Any:
    """A frozen record rebuilt with cleaned texts (left as it is if it cannot be)."""
    try:
        changes = {f.name: _cleaned(getattr(record, f.name)) for f in fields(record) if f.init}
        return replace(record, **changes)
    except (TypeError, ValueError):
        return record


def _cleaned(value: Any) -> Any:
    """``value`` with its strings cleaned: str, lists, dicts (keys too), nested records."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, list):
        return [_cleaned(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_cleaned(v) for v in value)
    if isinstance(value, dict):
        return {_cleaned(k): _cleaned(v) for k, v in value.items()}
    if is_dataclass(value) and not isinstance(value, type):
        if value.__dataclass_params__.frozen:
            return _cleaned_frozen(value)
        _clean_dataclass(value)  # type: ignore[arg-type] - any record of the model
    return value
