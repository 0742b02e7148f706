"""Indonesian working days and office hours, for the one-working-day target.

Working day: Monday-Friday, not a national holiday or *cuti bersama* (the
`holidays` package, Indonesia, categories public + government). Office hours:
08:00-16:00 Asia/Jakarta (WIB) on working days.

What "due in one working day" means (our choice, DOMAIN.md gives only the target):
a file counts as received on the working day it became complete if that was
before 16:00 on a working day; otherwise (after 16:00, at a weekend or on a
holiday) on the next working day. It is due at 16:00 on the working day after
that. So the office always has at least one whole office day:
- complete Friday 22 May 2020, 10:00 → due Tuesday 26 May, 16:00 (23-25 are off);
- complete Friday 22 May 2020, 17:00, or Saturday 23 May → received Tuesday 26
  May → due Wednesday 27 May, 16:00.

Datetimes: aware ones are converted to Asia/Jakarta; naive ones are taken as UTC.
Results are aware, in Asia/Jakarta.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

JAKARTA = ZoneInfo("Asia/Jakarta")
OFFICE_OPEN = time(8, 0)
OFFICE_CLOSE = time(16, 0)
# A gap with no working day this long means the calendar is broken, not a holiday.
_MAX_SEARCH_DAYS = 60


@lru_cache(maxsize=256)
def _holidays_in(year: int) -> frozenset[date]:
    """The year's holiday dates, built once per year (building is slow)."""
    try:
        calendar = holidays.country_holidays("ID", categories=("public", "government"), years=year)
        return frozenset(calendar.keys())
    except Exception:  # a year the package cannot compute: weekends only
        return frozenset()


def holiday_dates(year: int) -> frozenset[date]:
    """Indonesian holidays and cuti bersama of `year` (cached)."""
    return _holidays_in(year)


def to_jakarta(moment: datetime) -> datetime:
    """`moment` in Asia/Jakarta; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(JAKARTA)


def _as_date(day: date) -> date:
    # A datetime is a date too: take its Jakarta calendar day, not its own.
    return to_jakarta(day).date() if isinstance(day, datetime) else day


def is_working_day(day: date) -> bool:
    """True on Monday-Friday that is not an Indonesian holiday or cuti bersama.

    A datetime is judged by its date in Jakarta.
    """
    d = _as_date(day)
    return d.weekday() < 5 and d not in _holidays_in(d.year)


def next_working_day(day: date) -> date:
    """The first working day strictly after `day`."""
    d = _as_date(day)
    for _ in range(_MAX_SEARCH_DAYS):
        d += timedelta(days=1)
        if is_working_day(d):
            return d
    raise RuntimeError(f"no working day within {_MAX_SEARCH_DAYS} days after {day}")


def previous_working_day(day: date) -> date:
    """The last working day strictly before `day`."""
    d = _as_date(day)
    for _ in range(_MAX_SEARCH_DAYS):
        d -= timedelta(days=1)
        if is_working_day(d):
            return d
    raise RuntimeError(f"no working day within {_MAX_SEARCH_DAYS} days before {day}")


def add_working_days(start: datetime, n: int) -> datetime:
    """The same Jakarta wall-clock time on the n-th working day after `start`'s date.

    n = 0 gives `start` itself when its date is a working day, else the same time
    on the next working day; negative n counts back. Office hours play no part
    here (see `due_date` for the one-working-day rule).
    """
    local = to_jakarta(start)
    d = local.date()
    if n == 0 and not is_working_day(d):
        d = next_working_day(d)
    step = next_working_day if n > 0 else previous_working_day
    for _ in range(abs(n)):
        d = step(d)
    return datetime.combine(d, local.timetz()).replace(tzinfo=JAKARTA)


def received_day(moment: datetime) -> date:
    """The working day a file counts as received: the same day before 16:00, else next."""
    local = to_jakarta(moment)
    d = local.date()
    if is_working_day(d) and local.time() < OFFICE_CLOSE:
        return d
    return next_working_day(d)


def due_date(completed_at: datetime) -> datetime:
    """When a file complete at `completed_at` is due: 16:00 WIB, one working day on.

    See the module docstring: the working day after the day it counts as received.
    """
    due_day = next_working_day(received_day(completed_at))
    return datetime.combine(due_day, OFFICE_CLOSE, tzinfo=JAKARTA)


class _WorkingDayCount:
    """Working days in a date range in O(1), from prefix counts kept per covered range.

    Walking every day between two instants made ``sikm list`` on a queue of 100,000
    files, each weeks old, spend most of its time here (bench/README.md, Queue).
    The covered range only grows; each growth swaps in a new (first, prefix) pair in
    one assignment, so a reader in another thread never mixes two ranges.
    """

    def __init__(self) -> None:
        # prefix[i] = working days in [first, first + i)
        self._span: tuple[date, list[int]] | None = None

    def between(self, lo: date, hi: date) -> int:
        """Working days d with lo <= d < hi."""
        if hi <= lo:
            return 0
        first, prefix = self._cover(lo, hi)
        return prefix[(hi - first).days] - prefix[(lo - first).days]

    def _cover(self, lo: date, hi: date) -> tuple[date, list[int]]:
        span = self._span
        if span is not None:
            first, prefix = span
            last = first + timedelta(days=len(prefix) - 1)
            if first <= lo and hi <= last:
                return span
            lo, hi = min(lo, first), max(hi, last)
        prefix = [0]
        day = lo
        while day < hi:
            prefix.append(prefix[-1] + int(is_working_day(day)))
            day += timedelta(days=1)
        self._span = (lo, prefix)
        return self._span


_WORKING_DAYS = _WorkingDayCount()
_OFFICE_DAY_HOURS = (
    datetime.combine(date.min, OFFICE_CLOSE) - datetime.combine(date.min, OFFICE_OPEN)
).total_seconds() / 3600.0


def _office_hours_on(day: date, lo: datetime, hi: datetime) -> float:
    """Office hours of ``day`` that fall between ``lo`` and ``hi`` (0 on a day off)."""
    if not is_working_day(day):
        return 0.0
    open_at = datetime.combine(day, OFFICE_OPEN, tzinfo=JAKARTA)
    close_at = datetime.combine(day, OFFICE_CLOSE, tzinfo=JAKARTA)
    lo, hi = max(lo, open_at), min(hi, close_at)
    return max(0.0, (hi - lo).total_seconds() / 3600.0)


def working_hours_between(a: datetime, b: datetime) -> float:
    """Office hours (08:00-16:00 WIB, working days) from `a` to `b`; negative if b < a.

    O(1) after the first call over a date range: the first and last day are measured,
    the whole days between them counted from prefix sums.
    """
    start, end = to_jakarta(a), to_jakarta(b)
    if end < start:
        return -working_hours_between(b, a)
    first, last = start.date(), end.date()
    if first == last:
        return _office_hours_on(first, start, end)
    middle = _WORKING_DAYS.between(first + timedelta(days=1), last)
    return (
        _office_hours_on(first, start, end)
        + middle * _OFFICE_DAY_HOURS
        + _office_hours_on(last, start, end)
    )
