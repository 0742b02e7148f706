"""The drills run last: they are slow, and tests elsewhere take the time once at import
(tests/test_permit_issue.py's NOW), so minutes of drills before them would age it."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Move every drill to the end of the run, keeping their order (privacy last)."""
    drills = [i for i in items if i.get_closest_marker("drill") is not None]
    if drills and len(drills) < len(items):
        others = [i for i in items if i.get_closest_marker("drill") is None]
        items[:] = others + drills
