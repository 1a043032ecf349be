"""What "now" is: wall time in production, the replayed stream's time in the demo."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from index.models import SourceState, as_utc, utcnow
from index.store import Store

#: The source-state name under which the demo replay keeps its cursor and stream time.
REPLAY_STATE = "demo:replay"


class StreamClock:
    """Return the replay's stream time (as saved in the store), cached for `ttl_s` seconds."""

    def __init__(self, store: Store, ttl_s: float = 1.0) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._value: datetime | None = None
        self._read_at = 0.0

    def __call__(self) -> datetime:
        """Return the current stream time, or wall time before the replay has started."""
        if self._value is None or time.monotonic() - self._read_at > self._ttl_s:
            state = self._store.get_source_state(REPLAY_STATE)
            stamp = state.cursor.get("stream_time") if state else None
            self._value = as_utc(datetime.fromisoformat(stamp)) if isinstance(stamp, str) else None
            self._read_at = time.monotonic()
        return self._value or utcnow()


def save_stream_time(store: Store, offset: int, stream_time: datetime, total: int) -> None:
    """Save the replay cursor (items sent) and the stream time it has reached."""
    state = store.get_source_state(REPLAY_STATE) or SourceState(name=REPLAY_STATE)
    state.cursor = {"offset": offset, "stream_time": as_utc(stream_time).isoformat(), "total": total}
    state.last_success_at = utcnow()
    state.items_total = offset
    store.save_source_state(state)


def make_clock(kind: str, store: Store) -> Callable[[], datetime]:
    """Return the clock for a settings value: "wall" or "stream"."""
    return StreamClock(store) if kind == "stream" else utcnow
