"""Working hours in O(1) (the queue's age column) agree with a plain walk over the days."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sikm_mailbot.desk.queries import summary
from sikm_mailbot.domain.workdays import (
    JAKARTA,
    OFFICE_CLOSE,
    OFFICE_OPEN,
    is_working_day,
    to_jakarta,
    working_hours_between,
)
from sikm_mailbot.store.models import Application


def day_walk_hours(a: datetime, b: datetime) -> float:
    """The rule written out: every day from a to b, its office hours inside [a, b]."""
    start, end = to_jakarta(a), to_jakarta(b)
    if end < start:
        return -day_walk_hours(b, a)
    seconds = 0.0
    d = start.date()
    while d <= end.date():
        if is_working_day(d):
            open_at = datetime.combine(d, OFFICE_OPEN, tzinfo=JAKARTA)
            close_at = datetime.combine(d, OFFICE_CLOSE, tzinfo=JAKARTA)
            lo, hi = max(start, open_at), min(end, close_at)
            if hi > lo:
                seconds += (hi - lo).total_seconds()
        d += timedelta(days=1)
    return seconds / 3600.0


def test_agrees_with_the_day_walk_on_random_instants() -> None:
    rng = random.Random(47)
    base = datetime(2020, 4, 1, tzinfo=UTC)
    for _ in range(2000):
        a = base + timedelta(minutes=rng.randrange(0, 400 * 24 * 60))
        b = a + timedelta(minutes=rng.randrange(-20 * 24 * 60, 90 * 24 * 60))
        assert abs(working_hours_between(a, b) - day_walk_hours(a, b)) < 1e-9, (a, b)


def test_known_values_around_the_2020_eid_holidays() -> None:
    # Friday 22 May 2020 10:00 WIB to Tuesday 26 May 12:00: 6 h on Friday, 24-25 May
    # are holidays (and the weekend), 4 h on Tuesday.
    a = datetime(2020, 5, 22, 10, 0, tzinfo=JAKARTA)
    b = datetime(2020, 5, 26, 12, 0, tzinfo=JAKARTA)
    assert working_hours_between(a, b) == 10.0
    assert working_hours_between(b, a) == -10.0
    naive = datetime(2020, 5, 22, 3, 0)  # naive = UTC: 10:00 WIB
    assert working_hours_between(naive, b) == 10.0


def test_queue_row_age_is_the_working_hours_rule() -> None:
    created = datetime(2020, 5, 22, 3, 0)  # as the store hands it back: naive UTC
    app = Application(id="SIKM-2020-000001", status="under_review", created_at=created)
    now = datetime(2020, 5, 26, 12, 0, tzinfo=JAKARTA)
    assert summary(app, now)["age_working_hours"] == 10.0
