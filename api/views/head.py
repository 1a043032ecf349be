"""The head's figures on the main page: the social-tension index of the last 7 days, cached briefly."""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass
from datetime import timedelta

from api.auth import Permission, Principal
from api.deps import AppContext
from api.views.common import pct, signed

#: Days the main page's tension index covers.
TENSION_DAYS = 7
#: How long a computed index is reused (seconds): it reads every message of two weeks.
TENSION_TTL_S = 300.0


@dataclass(frozen=True)
class TensionTile:
    """The tension index as the main page shows it."""

    value: str  # «9,9 %»
    change: str  # «+5,0 п.п. к прошлым 7 дням» or ""
    rising: bool
    high_critical: int
    total: int


#: store → (hour of the clock, monotonic time computed, tile); weak, so a closed store's entry goes away.
_cache: weakref.WeakKeyDictionary[object, tuple[str, float, TensionTile]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def compute_tension(ctx: AppContext) -> TensionTile:
    """Return the social-tension index of the last TENSION_DAYS days up to now and its change."""
    from risk.indicators import collect_period, tension_index

    now = ctx.now()
    data = collect_period(
        ctx.store, ctx.profile, now - timedelta(days=TENSION_DAYS), now, ctx.timezone, keep_examples=False
    )
    index = tension_index(data.scan, data.previous)
    change = signed(index.change_pp, "п.п.")
    return TensionTile(
        value=pct(index.index),
        change=f"{change} к прошлым {TENSION_DAYS} дням" if change else "",
        rising=(index.change_pp or 0.0) > 0,
        high_critical=index.high_critical,
        total=index.total,
    )


def tension_tile(ctx: AppContext, principal: Principal) -> TensionTile | None:
    """Return the tension tile for staff who read indicators (None for others), reused for TENSION_TTL_S."""
    if principal.recipient_id is not None or not principal.can(Permission.indicators_read):
        return None
    hour = ctx.now().strftime("%Y%m%d%H")
    with _lock:
        cached = _cache.get(ctx.store)
        if cached is not None and cached[0] == hour and time.monotonic() - cached[1] < TENSION_TTL_S:
            return cached[2]
    tile = compute_tension(ctx)
    with _lock:
        _cache[ctx.store] = (hour, time.monotonic(), tile)
    return tile
