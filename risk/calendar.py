"""Russian working time: production calendar days, working intervals and working-hour arithmetic.

Days off and transfers come from the `holidays` package (RU, with `weekend_workdays` for working
weekend days), plus the extraordinary non-working days that presidential decrees declared in 2020 and
2021 (the package does not list them). Shortened pre-holiday days (ТК РФ ст. 95: one hour shorter) are
computed by rule, since the package does not mark them:

- a working day immediately followed by a non-working public holiday of ТК РФ ст. 112 is shortened;
- a working weekend day (a transferred working Saturday) is also shortened when such a holiday follows
  within three days with only days off in between — the practice of the Ministry of Labour in the
  decrees of 2021, 2022, 2024 and 2025 (20.02.2021, 05.03.2022, 02.11.2024, 01.11.2025), while the
  Saturdays 27.04.2024 and 28.12.2024, four days before a holiday, are full days.

The rule reproduces the official production calendars 2019–2026 day for day (tested against the
xmlcalendar.ru data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from index.models import as_utc
from index.profile import WorkingHours

#: Non-working public holidays (month, day) of ТК РФ ст. 112; only these shorten the day before.
ARTICLE_112_HOLIDAYS: frozenset[tuple[int, int]] = frozenset(
    {(1, d) for d in range(1, 9)} | {(2, 23), (3, 8), (5, 1), (5, 9), (6, 12), (11, 4)}
)

#: Extraordinary non-working weekdays declared by presidential decrees (not in the `holidays` package).
EXTRA_DAYS_OFF: frozenset[date] = frozenset(
    # Указы № 206 от 25.03.2020 и № 239 от 02.04.2020: 30.03–30.04.2020.
    [date(2020, 3, 30) + timedelta(days=i) for i in range(32)]
    # Указ № 294 от 28.04.2020: 06.05–08.05.2020.
    + [date(2020, 5, 6), date(2020, 5, 7), date(2020, 5, 8)]
    # Указ № 345 от 29.05.2020 (парад, 24.06) и № 354 от 01.06.2020 (голосование, 01.07).
    + [date(2020, 6, 24), date(2020, 7, 1)]
    # Указ № 242 от 23.04.2021: 04.05–07.05.2021.
    + [date(2021, 5, 4), date(2021, 5, 5), date(2021, 5, 6), date(2021, 5, 7)]
    # Указ № 595 от 20.10.2021: 30.10–07.11.2021.
    + [date(2021, 11, 1), date(2021, 11, 2), date(2021, 11, 3)]
)

#: How far ahead a working weekend day looks for a holiday that shortens it, in days.
_WEEKEND_WORKDAY_LOOKAHEAD_DAYS = 3
#: Safety bound for day-by-day walks, in days (about 30 years).
_MAX_WALK_DAYS = 11_000


@dataclass(frozen=True)
class YearDays:
    """The special days of one calendar year."""

    days_off: frozenset[date]  # weekdays that are not worked (holidays, transfers, decrees)
    workdays: frozenset[date]  # weekend days that are worked
    shortened: frozenset[date]  # working days one hour shorter


@lru_cache(maxsize=64)
def _ru_holidays(year: int) -> holidays.HolidayBase:
    """Return the `holidays` RU calendar of one year."""
    return holidays.country_holidays("RU", years=year)


def _is_working_raw(d: date) -> bool:
    """Return whether `d` is worked, without the shortened-day rule."""
    h = _ru_holidays(d.year)
    if d in EXTRA_DAYS_OFF or d in h:
        return False
    if d.weekday() >= 5:
        return d in h.weekend_workdays
    return True


def _is_article_112(d: date) -> bool:
    """Return whether `d` is a non-working public holiday of ТК РФ ст. 112."""
    return (d.month, d.day) in ARTICLE_112_HOLIDAYS and d in _ru_holidays(d.year)


def _is_shortened_raw(d: date) -> bool:
    """Return whether the working day `d` is a shortened pre-holiday day (rule in the module doc)."""
    if not _is_working_raw(d):
        return False
    if _is_article_112(d + timedelta(days=1)):
        return True
    if d.weekday() < 5:
        return False
    for k in range(1, _WEEKEND_WORKDAY_LOOKAHEAD_DAYS + 1):
        nxt = d + timedelta(days=k)
        if _is_article_112(nxt):
            return True
        if _is_working_raw(nxt):
            return False
    return False


@lru_cache(maxsize=64)
def year_days(year: int) -> YearDays:
    """Return the days off, worked weekend days and shortened days of `year` (cached)."""
    start = date(year, 1, 1)
    off: set[date] = set()
    work: set[date] = set()
    short: set[date] = set()
    d = start
    while d.year == year:
        working = _is_working_raw(d)
        if d.weekday() < 5 and not working:
            off.add(d)
        if d.weekday() >= 5 and working:
            work.add(d)
        if working and _is_shortened_raw(d):
            short.add(d)
        d += timedelta(days=1)
    return YearDays(frozenset(off), frozenset(work), frozenset(short))


class WorkCalendar:
    """Working time of one organisation: Russian production calendar, its time zone and schedule."""

    def __init__(self, tz: str = "Europe/Moscow", hours: WorkingHours | None = None) -> None:
        """Build a calendar for time zone `tz` and daily schedule `hours` (9–18, lunch 13–14 by default)."""
        self.tz = ZoneInfo(tz)
        self.tz_name = tz
        self.hours = hours or WorkingHours()
        if self.hours.end <= self.hours.start:
            raise ValueError(f"конец рабочего дня ({self.hours.end}) раньше начала ({self.hours.start})")

    def __repr__(self) -> str:
        """Return a short description."""
        return f"WorkCalendar(tz={self.tz_name!r}, {self.hours.start}-{self.hours.end})"

    def is_working_day(self, d: date) -> bool:
        """Return whether `d` is a working day on the Russian production calendar."""
        days = year_days(d.year)
        if d.weekday() >= 5:
            return d in days.workdays
        return d not in days.days_off

    def is_shortened(self, d: date) -> bool:
        """Return whether `d` is a shortened pre-holiday working day (one hour shorter)."""
        return d in year_days(d.year).shortened

    def work_intervals(self, d: date) -> list[tuple[datetime, datetime]]:
        """Return the working intervals of day `d` as aware local datetimes (lunch excluded)."""
        if not self.is_working_day(d):
            return []
        wh = self.hours
        start = datetime.combine(d, wh.start, tzinfo=self.tz)
        end = datetime.combine(d, wh.end, tzinfo=self.tz)
        if self.is_shortened(d):
            end -= timedelta(hours=1)
        pieces: list[tuple[datetime, datetime]] = []
        if wh.lunch_start is not None and wh.lunch_end is not None and wh.lunch_end > wh.lunch_start:
            lunch_a = datetime.combine(d, wh.lunch_start, tzinfo=self.tz)
            lunch_b = datetime.combine(d, wh.lunch_end, tzinfo=self.tz)
            pieces = [(start, min(end, lunch_a)), (max(start, lunch_b), end)]
        else:
            pieces = [(start, end)]
        return [(a, b) for a, b in pieces if b > a]

    def _local_date(self, moment: datetime) -> date:
        """Return the local calendar date of an aware moment."""
        return _aware(moment).astimezone(self.tz).date()

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """Return the earliest UTC moment at which `hours` working hours have passed since `start`.

        Time outside working intervals does not count: a message after hours starts counting at the next
        working start. Raises ValueError for negative `hours`.
        """
        if hours < 0:
            raise ValueError("число рабочих часов не может быть отрицательным")
        begin = _aware(start)
        remaining = timedelta(hours=hours)
        if remaining <= timedelta(0):
            return as_utc(begin)
        d = self._local_date(begin) - timedelta(days=1)  # the previous local day may still be open
        for _ in range(_MAX_WALK_DAYS):
            for a, b in self.work_intervals(d):
                a_utc, b_utc = as_utc(a), as_utc(b)
                lo = max(a_utc, as_utc(begin))
                if lo >= b_utc:
                    continue
                span = b_utc - lo
                if span >= remaining:
                    return lo + remaining
                remaining -= span
            d += timedelta(days=1)
        raise ValueError("срок выходит за пределы календаря")

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """Return the end (UTC) of the `days`-th working day after the local date of `start`.

        Counting starts on the next calendar day (ГК РФ ст. 191 by analogy), whatever the hour of
        `start`; with `days` = 0 the end of the start's own day if it is a working day, else of the next
        working day. Raises ValueError for negative `days`.
        """
        if days < 0:
            raise ValueError("число рабочих дней не может быть отрицательным")
        d = self._local_date(start)
        if days == 0 and self.is_working_day(d):
            return as_utc(self.work_intervals(d)[-1][1])
        counted = 0
        for _ in range(_MAX_WALK_DAYS):
            d += timedelta(days=1)
            if self.is_working_day(d):
                counted += 1
                if counted >= max(days, 1):
                    return as_utc(self.work_intervals(d)[-1][1])
        raise ValueError("срок выходит за пределы календаря")

    def working_hours_between(self, a: datetime, b: datetime) -> float:
        """Return the working hours between moments `a` and `b` (negative when `b` is before `a`)."""
        lo, hi = as_utc(_aware(a)), as_utc(_aware(b))
        if hi < lo:
            return -self.working_hours_between(b, a)
        total = timedelta(0)
        d = self._local_date(lo) - timedelta(days=1)
        last = self._local_date(hi) + timedelta(days=1)
        while d <= last:
            for ia, ib in self.work_intervals(d):
                x, y = max(as_utc(ia), lo), min(as_utc(ib), hi)
                if y > x:
                    total += y - x
            d += timedelta(days=1)
        return total.total_seconds() / 3600.0

    def next_working_moment(self, moment: datetime) -> datetime:
        """Return `moment` (UTC) if it is inside working time, else the next working start (UTC)."""
        m = as_utc(_aware(moment))
        d = self._local_date(m) - timedelta(days=1)
        for _ in range(_MAX_WALK_DAYS):
            for a, b in self.work_intervals(d):
                if as_utc(b) > m:
                    return max(as_utc(a), m)
            d += timedelta(days=1)
        raise ValueError("срок выходит за пределы календаря")


def _aware(moment: datetime) -> datetime:
    """Return `moment` as an aware datetime (naive values are taken as UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
