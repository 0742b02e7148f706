"""Indonesian working days, the one-working-day due date, office hours between."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sikm_mailbot.domain.workdays import (
    JAKARTA,
    add_working_days,
    due_date,
    is_working_day,
    received_day,
    working_hours_between,
)


def wib(*args: int) -> datetime:
    return datetime(*args, tzinfo=JAKARTA)


@pytest.mark.parametrize(
    "holiday",
    [date(2020, 5, 1), date(2020, 5, 7), date(2020, 5, 21), date(2020, 5, 25), date(2020, 6, 1)],
)
def test_2020_weekday_holidays_are_not_working_days(holiday):
    assert holiday.weekday() < 5
    assert not is_working_day(holiday)


def test_may_2020_working_days():
    may = [date(2020, 5, d) for d in range(1, 32)]
    off = {1, 7, 21, 24, 25} | {d.day for d in may if d.weekday() >= 5}
    assert [d.day for d in may if not is_working_day(d)] == sorted(off)
    assert is_working_day(date(2020, 5, 22))  # the Friday between Ascension and Eid
    assert is_working_day(date(2020, 5, 26))  # Eid leave moved to December


def test_weekends():
    assert not is_working_day(date(2020, 5, 23))  # Saturday
    assert not is_working_day(date(2020, 5, 31))  # Sunday
    assert is_working_day(date(2020, 5, 29))  # Friday


def test_datetime_is_judged_by_its_jakarta_date():
    # 18:00 UTC on Friday 22 May is 01:00 Saturday in Jakarta.
    assert not is_working_day(datetime(2020, 5, 22, 18, 0, tzinfo=UTC))
    assert is_working_day(datetime(2020, 5, 22, 16, 0, tzinfo=UTC))


def test_friday_22_may_2020_is_due_tuesday_26_may():
    due = due_date(wib(2020, 5, 22, 10, 0))
    assert due == wib(2020, 5, 26, 16, 0)
    assert due.tzinfo is JAKARTA


@pytest.mark.parametrize(
    ("completed", "due"),
    [
        (wib(2020, 5, 22, 15, 59), wib(2020, 5, 26, 16, 0)),
        (wib(2020, 5, 22, 16, 0), wib(2020, 5, 27, 16, 0)),  # after hours: counts Tuesday
        (wib(2020, 5, 23, 9, 0), wib(2020, 5, 27, 16, 0)),  # Saturday
        (wib(2020, 5, 20, 7, 0), wib(2020, 5, 22, 16, 0)),  # Wed; Thu 21 is Ascension
        (wib(2020, 5, 26, 8, 0), wib(2020, 5, 27, 16, 0)),
        (wib(2020, 5, 29, 12, 0), wib(2020, 6, 2, 16, 0)),  # Mon 1 June Pancasila
        (datetime(2020, 5, 22, 2, 0), wib(2020, 5, 26, 16, 0)),  # naive = UTC → 09:00 WIB
        (datetime(2020, 5, 22, 9, 30, tzinfo=UTC), wib(2020, 5, 27, 16, 0)),  # 16:30 WIB
    ],
)
def test_due_date(completed, due):
    assert due_date(completed) == due


def test_received_day():
    assert received_day(wib(2020, 5, 22, 15, 0)) == date(2020, 5, 22)
    assert received_day(wib(2020, 5, 24, 15, 0)) == date(2020, 5, 26)


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, wib(2020, 5, 22, 11, 30)),
        (1, wib(2020, 5, 26, 11, 30)),
        (2, wib(2020, 5, 27, 11, 30)),
        (5, wib(2020, 6, 2, 11, 30)),
        (-1, wib(2020, 5, 20, 11, 30)),
    ],
)
def test_add_working_days(n, expected):
    assert add_working_days(wib(2020, 5, 22, 11, 30), n) == expected


def test_add_zero_from_a_holiday_moves_to_the_next_working_day():
    assert add_working_days(wib(2020, 5, 24, 9, 0), 0) == wib(2020, 5, 26, 9, 0)


@given(
    st.datetimes(min_value=datetime(2019, 1, 1), max_value=datetime(2022, 12, 31)),
    st.integers(0, 30),
)
def test_add_working_days_lands_on_working_days(start, n):
    result = add_working_days(start, n)
    assert is_working_day(result.date())
    assert result.utcoffset() == timedelta(hours=7)


@pytest.mark.parametrize(
    ("a", "b", "hours"),
    [
        (wib(2020, 5, 20, 8, 0), wib(2020, 5, 20, 16, 0), 8.0),
        (wib(2020, 5, 20, 6, 0), wib(2020, 5, 20, 20, 0), 8.0),
        (wib(2020, 5, 20, 15, 0), wib(2020, 5, 22, 9, 30), 2.5),  # Thu 21 is a holiday
        (wib(2020, 5, 22, 15, 0), wib(2020, 5, 26, 9, 0), 2.0),  # over Sat-Mon
        (wib(2020, 5, 23, 0, 0), wib(2020, 5, 25, 23, 0), 0.0),
        (wib(2020, 5, 18, 8, 0), wib(2020, 5, 25, 8, 0), 32.0),  # Mon, Tue, Wed, Fri
        (wib(2020, 5, 20, 12, 0), wib(2020, 5, 20, 12, 0), 0.0),
        (wib(2020, 5, 20, 16, 0), wib(2020, 5, 20, 12, 0), -4.0),
    ],
)
def test_working_hours_between(a, b, hours):
    assert working_hours_between(a, b) == pytest.approx(hours)


def test_working_hours_with_naive_utc():
    # 01:00-05:00 UTC = 08:00-12:00 WIB.
    assert working_hours_between(datetime(2020, 5, 20, 1), datetime(2020, 5, 20, 5)) == 4.0


@given(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2021, 12, 31)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
)
def test_working_hours_are_additive_and_bounded(start, first, second):
    middle, end = start + first, start + first + second
    whole = working_hours_between(start, end)
    assert whole == pytest.approx(
        working_hours_between(start, middle) + working_hours_between(middle, end)
    )
    assert 0.0 <= whole <= (first + second).total_seconds() / 3600


def test_holiday_calendar_is_cached_and_fast():
    import time

    started = time.perf_counter()
    for day in range(2000):
        is_working_day(date(2020, 1, 1) + timedelta(days=day % 366))
    assert time.perf_counter() - started < 0.5
