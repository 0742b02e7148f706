"""The queue's O(1) age in working hours agrees with workdays.working_hours_between."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sikm_mailbot.desk.queries import age_working_hours
from sikm_mailbot.domain.workdays import JAKARTA, working_hours_between


def test_agrees_with_the_day_walk_on_random_instants() -> None:
    rng = random.Random(47)
    base = datetime(2020, 4, 1, tzinfo=UTC)
    for _ in range(2000):
        a = base + timedelta(minutes=rng.randrange(0, 400 * 24 * 60))
        b = a + timedelta(minutes=rng.randrange(-20 * 24 * 60, 90 * 24 * 60))
        assert abs(age_working_hours(a, b) - working_hours_between(a, b)) < 1e-9, (a, b)


def test_known_values_around_the_2020_eid_holidays() -> None:
    # Friday 22 May 2020 10:00 WIB to Tuesday 26 May 12:00: 6 h on Friday, 24-25 May
    # are holidays (and the weekend), 4 h on Tuesday.
    a = datetime(2020, 5, 22, 10, 0, tzinfo=JAKARTA)
    b = datetime(2020, 5, 26, 12, 0, tzinfo=JAKARTA)
    assert age_working_hours(a, b) == 10.0
    assert age_working_hours(b, a) == -10.0
    naive = datetime(2020, 5, 22, 3, 0)  # naive = UTC: 10:00 WIB
    assert age_working_hours(naive, b) == 10.0
