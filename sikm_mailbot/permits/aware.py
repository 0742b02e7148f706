"""Timezone-aware datetimes only: keys and tokens are dated, and a naive time is a bug."""

from __future__ import annotations

from datetime import datetime


def require_aware(now: datetime) -> None:
    """Raise ValueError when ``now`` has no timezone (a caller bug, not bad input)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")


def parse_aware(text: str) -> datetime:
    """An ISO 8601 datetime that must carry a timezone (ValueError otherwise)."""
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        raise ValueError(f"datetime without a timezone: {text!r}")
    return dt
