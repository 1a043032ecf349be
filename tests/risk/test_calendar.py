"""Tests for the Russian working-time calendar."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.profile import WorkingHours
from risk.calendar import WorkCalendar, year_days

MSK = ZoneInfo("Europe/Moscow")
CAL_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "production-calendar-ru"


def msk(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    """Return an aware Moscow datetime."""
    return datetime(y, m, d, hh, mm, tzinfo=MSK)


def _xml_year(year: int) -> dict[date, int]:
    """Return day -> t (1 off, 2 shortened, 3 working weekend) from the xmlcalendar file."""
    path = CAL_DIR / f"ru_{year}_calendar.xml"
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"production calendar data missing: {path}")
        pytest.skip(f"production calendar data missing: {path}")
    out: dict[date, int] = {}
    for day in ET.parse(path).getroot().iter("day"):
        month, dd = (int(x) for x in day.attrib["d"].split("."))
        out[date(year, month, dd)] = int(day.attrib["t"])
    return out


@pytest.mark.parametrize("year", range(2019, 2027))
def test_every_day_matches_production_calendar(year: int) -> None:
    xml = _xml_year(year)
    cal = WorkCalendar()
    d = date(year, 1, 1)
    mismatches = []
    while d.year == year:
        t = xml.get(d)
        if t == 1:
            expected = "off"
        elif t == 2:
            expected = "short"
        elif t == 3:
            expected = "work"
        else:
            expected = "off" if d.weekday() >= 5 else "work"
        got = "off" if not cal.is_working_day(d) else "short" if cal.is_shortened(d) else "work"
        if got != expected:
            mismatches.append((d.isoformat(), expected, got))
        d += timedelta(days=1)
    assert mismatches == []


def test_known_days_2025_2026() -> None:
    cal = WorkCalendar()
    assert not cal.is_working_day(date(2026, 1, 9))  # transferred from 03.01
    assert cal.is_working_day(date(2026, 1, 12))
    assert not cal.is_working_day(date(2025, 5, 2))  # transferred from 04.01
    assert not cal.is_working_day(date(2025, 5, 8))  # transferred from 23.02
    assert cal.is_working_day(date(2025, 11, 1))  # working Saturday
    assert cal.is_shortened(date(2025, 11, 1))
    assert cal.is_shortened(date(2026, 4, 30))
    assert cal.is_shortened(date(2026, 11, 3))
    assert not cal.is_shortened(date(2026, 3, 6))  # Friday before Sunday 08.03: full day
    assert year_days(2026).shortened == {
        date(2026, 4, 30),
        date(2026, 5, 8),
        date(2026, 6, 11),
        date(2026, 11, 3),
    }


def test_work_intervals_normal_and_shortened() -> None:
    cal = WorkCalendar()
    assert cal.work_intervals(date(2026, 4, 29)) == [
        (msk(2026, 4, 29, 9), msk(2026, 4, 29, 13)),
        (msk(2026, 4, 29, 14), msk(2026, 4, 29, 18)),
    ]
    assert cal.work_intervals(date(2026, 4, 30)) == [
        (msk(2026, 4, 30, 9), msk(2026, 4, 30, 13)),
        (msk(2026, 4, 30, 14), msk(2026, 4, 30, 17)),
    ]
    assert cal.work_intervals(date(2026, 5, 1)) == []
    assert cal.work_intervals(date(2026, 5, 2)) == []


def test_work_intervals_without_lunch_and_short_day_into_lunch() -> None:
    hours = WorkingHours(start=time(8, 0), end=time(14, 0), lunch_start=time(13, 0), lunch_end=time(14, 0))
    cal = WorkCalendar(hours=hours)
    # 14:00 - 1 h = 13:00: the shortened day ends at the lunch start.
    assert cal.work_intervals(date(2026, 4, 30)) == [(msk(2026, 4, 30, 8), msk(2026, 4, 30, 13))]
    nolunch = WorkCalendar(hours=WorkingHours(lunch_start=None, lunch_end=None))
    assert nolunch.work_intervals(date(2026, 4, 29)) == [(msk(2026, 4, 29, 9), msk(2026, 4, 29, 18))]


def test_bad_schedule_is_refused() -> None:
    with pytest.raises(ValueError, match="конец рабочего дня"):
        WorkCalendar(hours=WorkingHours(start=time(18, 0), end=time(9, 0)))


def test_add_working_hours_friday_evening() -> None:
    cal = WorkCalendar()
    # Friday 16.01.2026 20:00 MSK: counting starts Monday 19.01 09:00; 8 h → 18:00 (lunch excluded).
    due = cal.add_working_hours(msk(2026, 1, 16, 20), 8)
    assert due == msk(2026, 1, 19, 18).astimezone(UTC)
    assert due.tzinfo == UTC
    # Inside the day: 16:30 + 4 h = 1.5 h today, 2.5 h tomorrow from 09:00 → 11:30.
    assert cal.add_working_hours(msk(2026, 1, 15, 16, 30), 4) == msk(2026, 1, 16, 11, 30).astimezone(UTC)
    # Lunch is skipped: 12:00 + 2 h → 15:00.
    assert cal.add_working_hours(msk(2026, 1, 15, 12), 2) == msk(2026, 1, 15, 15).astimezone(UTC)


def test_add_working_hours_exact_end_of_day_stays_on_that_day() -> None:
    cal = WorkCalendar()
    assert cal.add_working_hours(msk(2026, 1, 15, 9), 8) == msk(2026, 1, 15, 18).astimezone(UTC)
    assert cal.add_working_hours(msk(2026, 1, 15, 20), 0) == msk(2026, 1, 15, 20).astimezone(UTC)


def test_add_working_hours_naive_is_utc_and_negative_refused() -> None:
    cal = WorkCalendar()
    # 06:00 UTC = 09:00 MSK.
    assert cal.add_working_hours(datetime(2026, 1, 15, 6, 0), 1) == datetime(2026, 1, 15, 7, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        cal.add_working_hours(msk(2026, 1, 15, 9), -1)


def test_add_working_days_rule() -> None:
    cal = WorkCalendar()
    # Interim on Thu 29.01.2026 at 10:00: day 1 = Fri 30.01, ..., day 7 = Mon 09.02; ends 18:00.
    assert cal.add_working_days(msk(2026, 1, 29, 10), 7) == msk(2026, 2, 9, 18).astimezone(UTC)
    # Across the May holidays 2026: from Wed 29.04, day 1 = Thu 30.04 (shortened), then 04.05–08.05
    # (days 2..6; 08.05 shortened), day 7 = Tue 12.05 (11.05 is a day off).
    assert cal.add_working_days(msk(2026, 4, 29, 15), 7) == msk(2026, 5, 12, 18).astimezone(UTC)
    assert cal.add_working_days(msk(2026, 4, 29, 15), 1) == msk(2026, 4, 30, 17).astimezone(UTC)
    # days=0: end of the start's own working day, else the next working day.
    assert cal.add_working_days(msk(2026, 1, 29, 10), 0) == msk(2026, 1, 29, 18).astimezone(UTC)
    assert cal.add_working_days(msk(2026, 1, 31, 10), 0) == msk(2026, 2, 2, 18).astimezone(UTC)
    with pytest.raises(ValueError):
        cal.add_working_days(msk(2026, 1, 29, 10), -1)


def test_working_hours_between() -> None:
    cal = WorkCalendar()
    assert cal.working_hours_between(msk(2026, 1, 16, 17), msk(2026, 1, 19, 10)) == pytest.approx(2.0)
    assert cal.working_hours_between(msk(2026, 1, 19, 10), msk(2026, 1, 16, 17)) == pytest.approx(-2.0)
    # A whole normal week: 5 × 8 h.
    assert cal.working_hours_between(msk(2026, 1, 19), msk(2026, 1, 26)) == pytest.approx(40.0)
    # The week of 04.05.2026: Mon–Thu 8 h, Fri 08.05 shortened 7 h.
    assert cal.working_hours_between(msk(2026, 5, 4), msk(2026, 5, 11)) == pytest.approx(39.0)


def test_other_time_zone() -> None:
    ekb = WorkCalendar("Asia/Yekaterinburg")
    # 09:00 Yekaterinburg = 04:00 UTC.
    start = datetime(2026, 1, 15, 4, 0, tzinfo=UTC)
    assert ekb.add_working_hours(start, 1) == datetime(2026, 1, 15, 5, 0, tzinfo=UTC)
    assert WorkCalendar().add_working_hours(start, 1) == datetime(2026, 1, 15, 7, 0, tzinfo=UTC)


def test_next_working_moment() -> None:
    cal = WorkCalendar()
    assert cal.next_working_moment(msk(2026, 1, 16, 20)) == msk(2026, 1, 19, 9).astimezone(UTC)
    assert cal.next_working_moment(msk(2026, 1, 16, 13, 30)) == msk(2026, 1, 16, 14).astimezone(UTC)
    assert cal.next_working_moment(msk(2026, 1, 16, 10)) == msk(2026, 1, 16, 10).astimezone(UTC)


_moments = st.datetimes(
    min_value=datetime(2019, 1, 1), max_value=datetime(2026, 12, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(second=0, microsecond=0))


@settings(max_examples=150, deadline=None)
@given(start=_moments, hours=st.floats(min_value=0.0, max_value=120.0, allow_nan=False))
def test_round_trip_hours(start: datetime, hours: float) -> None:
    cal = WorkCalendar()
    end = cal.add_working_hours(start, hours)
    assert end >= start
    assert cal.working_hours_between(start, end) == pytest.approx(hours, abs=1e-6)


@settings(max_examples=150, deadline=None)
@given(
    a=_moments,
    delta_min=st.integers(min_value=0, max_value=60 * 24 * 20),
    hours=st.sampled_from([1, 4, 8]),
)
def test_deadlines_monotonic(a: datetime, delta_min: int, hours: int) -> None:
    cal = WorkCalendar()
    b = a + timedelta(minutes=delta_min)
    assert cal.add_working_hours(a, hours) <= cal.add_working_hours(b, hours)
    assert cal.add_working_days(a, 7) <= cal.add_working_days(b, 7)
