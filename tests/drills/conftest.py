"""The drills run last: they are slow, and tests elsewhere take the time once at import
(tests/test_permit_issue.py's NOW), so minutes of drills before them would age it."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Move every drill to the end of the run, keeping their order (privacy last)."""
    drills = [i for i in items if i.get_closest_marker("drill") is not None]
    if drills:
        others = [i for i in items if i.get_closest_marker("drill") is None]
        # The privacy drill scans what every other drill left behind: it goes last.
        privacy = [i for i in drills if i.path.name == "test_5_privacy.py"]
        drills = [i for i in drills if i not in privacy] + privacy
        items[:] = others + drills
