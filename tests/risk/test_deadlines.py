"""Tests for answer deadlines on real calendar cases."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from index.models import Priority
from index.profile import Profile, Recipient, SlaRules, WorkingHours
from risk.calendar import WorkCalendar
from risk.deadlines import calendar_for, final_answer_due, first_answer_due

MSK = ZoneInfo("Europe/Moscow")
EKB = ZoneInfo("Asia/Yekaterinburg")
SLA = SlaRules()
CAL = WorkCalendar()


def msk(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    """Return an aware Moscow datetime."""
    return datetime(y, m, d, hh, mm, tzinfo=MSK)


def profile() -> Profile:
    """Return a profile with a Moscow and a Yekaterinburg recipient."""
    return Profile(
        name="Заречный",
        recipients=[
            Recipient(id="zhkh", name="Отдел ЖКХ"),
            Recipient(id="ekb", name="Филиал", timezone="Asia/Yekaterinburg"),
            Recipient(
                id="short",
                name="МКУ",
                working_hours=WorkingHours(start=time(8), end=time(17), lunch_start=None, lunch_end=None),
            ),
        ],
    )


def test_friday_evening_post() -> None:
    # Fri 16.01.2026 19:30 → Mon 19.01: 8 h ends 18:00, 4 h ends 13:00, 1 h ends 10:00.
    created = msk(2026, 1, 16, 19, 30)
    assert first_answer_due(created, Priority.normal, SLA, CAL) == msk(2026, 1, 19, 18).astimezone(UTC)
    assert first_answer_due(created, Priority.high, SLA, CAL) == msk(2026, 1, 19, 13).astimezone(UTC)
    assert first_answer_due(created, Priority.critical, SLA, CAL) == msk(2026, 1, 19, 10).astimezone(UTC)


def test_shortened_day_and_may_holidays_2026() -> None:
    # Thu 30.04.2026 15:00, the day ends at 17:00 (2 h); 01.05–03.05 off; Mon 04.05 09–13, 14–16.
    assert first_answer_due(msk(2026, 4, 30, 15), Priority.normal, SLA, CAL) == msk(
        2026, 5, 4, 16
    ).astimezone(UTC)
    # Fri 08.05.2026 (shortened) 16:30: 0.5 h; 09.05–11.05 off; Tue 12.05 09:00 + 3.5 h → 12:30.
    assert first_answer_due(msk(2026, 5, 8, 16, 30), Priority.high, SLA, CAL) == msk(
        2026, 5, 12, 12, 30
    ).astimezone(UTC)


def test_shortened_before_unity_day_2026() -> None:
    # Tue 03.11.2026 (shortened, ends 17:00) 16:00: 1 h; 04.11 holiday; Thu 05.11 09:00 + 3 h → 12:00.
    assert first_answer_due(msk(2026, 11, 3, 16), Priority.high, SLA, CAL) == msk(2026, 11, 5, 12).astimezone(
        UTC
    )


def test_transferred_days_off() -> None:
    # 08.01.2026 holiday, 09.01.2026 transferred day off, weekend → Mon 12.01 full day.
    assert first_answer_due(msk(2026, 1, 8, 12), Priority.normal, SLA, CAL) == msk(
        2026, 1, 12, 18
    ).astimezone(UTC)
    # Wed 07.05.2025 16:00: 2 h; 08.05 (transferred), 09.05 holiday, weekend; Mon 12.05 + 6 h → 16:00.
    assert first_answer_due(msk(2025, 5, 7, 16), Priority.normal, SLA, CAL) == msk(
        2025, 5, 12, 16
    ).astimezone(UTC)
    # Wed 30.04.2025 (shortened) 16:00: 1 h; 01.05–04.05 off (02.05 transferred); Mon 05.05 + 3 h → 12:00.
    assert first_answer_due(msk(2025, 4, 30, 16), Priority.high, SLA, CAL) == msk(2025, 5, 5, 12).astimezone(
        UTC
    )


def test_working_saturday_2025() -> None:
    # Fri 31.10.2025 17:00: 1 h; Sat 01.11.2025 is a working (shortened) day: + 3 h → 12:00.
    assert first_answer_due(msk(2025, 10, 31, 17), Priority.high, SLA, CAL) == msk(
        2025, 11, 1, 12
    ).astimezone(UTC)


def test_two_time_zones() -> None:
    p = profile()
    ekb_cal = calendar_for(p, "ekb")
    msk_cal = calendar_for(p, "zhkh")
    # 18:30 Yekaterinburg = 16:30 Moscow on Thu 15.01.2026.
    created = datetime(2026, 1, 15, 18, 30, tzinfo=EKB)
    # Yekaterinburg: after hours → Fri 16.01 09:00 EKB + 1 h = 10:00 EKB.
    assert first_answer_due(created, Priority.critical, SLA, ekb_cal) == datetime(
        2026, 1, 16, 10, tzinfo=EKB
    ).astimezone(UTC)
    # Moscow: 16:30 + 1 h = 17:30 MSK the same day.
    assert first_answer_due(created, Priority.critical, SLA, msk_cal) == msk(2026, 1, 15, 17, 30).astimezone(
        UTC
    )


def test_calendar_for_overrides_and_defaults() -> None:
    p = profile()
    assert calendar_for(p, "ekb").tz_name == "Asia/Yekaterinburg"
    assert calendar_for(p, None).tz_name == "Europe/Moscow"
    assert calendar_for(p, "unknown").tz_name == "Europe/Moscow"
    short = calendar_for(p, "short")
    assert short.hours.start == time(8) and short.hours.lunch_start is None
    # 8 h from 08:00 without lunch ends at 16:00.
    assert first_answer_due(msk(2026, 1, 15, 8), Priority.normal, SLA, short) == msk(
        2026, 1, 15, 16
    ).astimezone(UTC)
    assert calendar_for(p, "zhkh") is calendar_for(p, None)  # one shared calendar per tz and schedule


def test_missing_priority_in_sla_uses_default() -> None:
    sla = SlaRules(first_answer_hours={"normal": 2.0})
    assert first_answer_due(msk(2026, 1, 15, 9), Priority.normal, sla, CAL) == msk(
        2026, 1, 15, 11
    ).astimezone(UTC)
    assert first_answer_due(msk(2026, 1, 15, 9), Priority.high, sla, CAL) == msk(2026, 1, 15, 13).astimezone(
        UTC
    )


def test_final_answer_due() -> None:
    # Interim Thu 30.04.2026 11:00; 7 working days: 04–08.05 (5), 12.05 (6), 13.05 (7) → 18:00.
    assert final_answer_due(msk(2026, 4, 30, 11), SLA, CAL) == msk(2026, 5, 13, 18).astimezone(UTC)
    # Interim on Tue 03.11.2026: 05, 06, 09, 10, 11, 12, 13.11 → Fri 13.11 18:00.
    assert final_answer_due(msk(2026, 11, 3, 10), SLA, CAL) == msk(2026, 11, 13, 18).astimezone(UTC)
    # A 3-day SLA from Fri 31.10.2025: Sat 01.11 (working, shortened) is day 1, 05.11 day 2, 06.11 day 3.
    assert final_answer_due(msk(2025, 10, 31, 10), SlaRules(final_answer_days=3), CAL) == msk(
        2025, 11, 6, 18
    ).astimezone(UTC)
