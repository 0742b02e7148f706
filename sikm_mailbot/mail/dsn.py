"""Delivery status notifications (RFC 3464): what a report says happened."""

from __future__ import annotations

import re
from email.message import Message

_ACTION = re.compile(r"^\s*Action\s*:\s*([A-Za-z]+)", re.IGNORECASE | re.MULTILINE)
_RANK = ("failed", "delayed", "delivered", "relayed", "expanded")


def dsn_action(message: Message) -> str | None:
    """The most serious ``Action`` of a parsed report's recipients (``failed`` first), or None.

    None: not a delivery-status report (e.g. a read receipt), or unreadable. Takes
    the message as parsed once for reading it, not the raw bytes again.
    """
    try:
        actions: set[str] = set()
        for part in message.walk():
            if part.get_content_type() != "message/delivery-status":
                continue
            payload = part.get_payload()
            if isinstance(payload, list):  # parsed as per-recipient header blocks
                text = "\n".join(str(p) for p in payload)
            else:
                text = str(payload or "")
            actions |= {a.lower() for a in _ACTION.findall(text)}
    except Exception:  # noqa: BLE001 - a broken report is treated as no report
        return None
    for action in _RANK:
        if action in actions:
            return action
    return None
