"""No noise: quiet hours and the hourly limit decide whether an alert goes now or waits for a digest."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from index.models import Alert, Subscription, as_utc

#: The window the hourly limit counts over.
THROTTLE_WINDOW = timedelta(hours=1)


def quiet_end(subscription: Subscription, now: datetime, tz: str) -> datetime | None:
    """Return when the subscription's quiet hours end (UTC) if `now` falls in them, else None.

    Quiet hours are local to the subscription's time zone (else `tz`) and may wrap midnight (22:00–08:00).
    """
    start, end = subscription.quiet_from, subscription.quiet_to
    if start is None or end is None or start == end:
        return None
    zone = ZoneInfo(subscription.timezone or tz)
    local = as_utc(now).astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    today_end = datetime.combine(local.date(), end, tzinfo=zone)
    if start < end:
        inside = start <= clock < end
        until = today_end
    elif clock >= start:
        inside, until = True, datetime.combine(local.date() + timedelta(days=1), end, tzinfo=zone)
    else:
        inside, until = clock < end, today_end
    return as_utc(until) if inside else None


def hold(
    subscription: Subscription,
    alert: Alert,
    now: datetime,
    tz: str,
    recent: list[datetime],
) -> tuple[datetime | None, str]:
    """Return (until when to hold, why in Russian) for a new delivery, or (None, "") to send it now.

    `recent` are the times of the messages to the same address in the last hour (sent or about to be).
    An alert at or above the subscription's urgent severity is never held.
    """
    if alert.severity >= subscription.urgent_severity:
        return None, ""
    until = quiet_end(subscription, now, tz)
    if until is not None:
        local_end = until.astimezone(ZoneInfo(subscription.timezone or tz)).strftime("%H:%M")
        return until, f"тихие часы до {local_end}"
    window_start = as_utc(now) - THROTTLE_WINDOW
    inside = sorted(t for t in recent if as_utc(t) > window_start)
    if len(inside) >= subscription.max_per_hour:
        return as_utc(inside[0]) + THROTTLE_WINDOW, f"больше {subscription.max_per_hour} уведомлений в час"
    return None, ""
