"""Answer deadlines of incidents, counted in working time on the recipient's calendar."""

from __future__ import annotations

from datetime import datetime, time
from functools import lru_cache

from index.models import Priority
from index.profile import Profile, SlaRules, WorkingHours
from risk.calendar import WorkCalendar

#: First-answer deadlines used when the SLA does not name a priority, in working hours.
DEFAULT_FIRST_ANSWER_HOURS: dict[str, float] = {"normal": 8.0, "high": 4.0, "critical": 1.0}

_HoursKey = tuple[time, time, time | None, time | None]


@lru_cache(maxsize=128)
def _calendar(tz: str, key: _HoursKey) -> WorkCalendar:
    """Return a shared calendar for one time zone and schedule."""
    start, end, lunch_start, lunch_end = key
    return WorkCalendar(tz, WorkingHours(start=start, end=end, lunch_start=lunch_start, lunch_end=lunch_end))


def calendar_for(profile: Profile, recipient_id: str | None) -> WorkCalendar:
    """Return the working calendar of a recipient (its time zone and hours override the profile's)."""
    recipient = profile.recipient(recipient_id) if recipient_id else None
    tz = (recipient.timezone if recipient else None) or profile.timezone
    hours = (recipient.working_hours if recipient else None) or profile.sla.working_hours
    return _calendar(tz, (hours.start, hours.end, hours.lunch_start, hours.lunch_end))


def first_answer_hours(priority: Priority, sla: SlaRules) -> float:
    """Return the first-answer allowance of `priority`, in working hours."""
    value = sla.first_answer_hours.get(priority.value)
    return float(value if value is not None else DEFAULT_FIRST_ANSWER_HOURS[priority.value])


def first_answer_due(
    created_at: datetime, priority: Priority, sla: SlaRules, calendar: WorkCalendar
) -> datetime:
    """Return when the first public answer is due (UTC): `created_at` plus the priority's working hours."""
    return calendar.add_working_hours(created_at, first_answer_hours(priority, sla))


def final_answer_due(interim_at: datetime, sla: SlaRules, calendar: WorkCalendar) -> datetime:
    """Return when the final answer is due (UTC): the end of the working day `final_answer_days` later."""
    return calendar.add_working_days(interim_at, sla.final_answer_days)
