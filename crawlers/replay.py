"""Replay a recorded or generated stream (gzipped JSONL sorted by date) with time compression.

The embedded launcher reads the demo stream with `iter_stream`, keeps a `VirtualClock` that runs
`speed` times faster than real time, and feeds the pipeline with `replay_batches`, storing the
returned offset as its cursor so that a restart resumes after the last delivered item.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from index.models import as_utc

log = logging.getLogger(__name__)

#: Longest single sleep while waiting for virtual time, so a consumer can stop promptly.
MAX_SLEEP_S = 0.25


def iter_stream(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the JSON objects of a .jsonl or .jsonl.gz file; broken lines are logged and skipped."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        lineno = 0
        try:
            for lineno, line in enumerate(fh, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    log.warning("поток %s, строка %d пропущена: не JSON (%s)", path, lineno, exc.msg)
                    continue
                if not isinstance(obj, dict):
                    log.warning("поток %s, строка %d пропущена: ожидался объект JSON", path, lineno)
                    continue
                yield obj
        except (EOFError, OSError) as exc:
            log.error("поток %s оборван после строки %d: %s", path, lineno, exc)


def item_time(item: dict[str, Any]) -> datetime | None:
    """Return an item's `date` (epoch seconds) as aware UTC, or None when it is missing or invalid."""
    value = item.get("date")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


class VirtualClock:
    """Stream time that runs `speed` times faster than real (monotonic) time from `stream_start`.

    speed 0 or infinity means "as fast as possible": then `now()` is the time of the latest item
    released by replay_batches (see `advance`), starting at `stream_start`.
    """

    def __init__(
        self,
        stream_start: datetime,
        speed: float,
        real_start: float | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if math.isnan(speed) or speed < 0:
            raise ValueError(f"скорость воспроизведения должна быть неотрицательной, а не {speed}")
        self.stream_start = as_utc(stream_start)
        self.speed = speed
        self.unlimited = speed == 0 or math.isinf(speed)
        self._monotonic = monotonic
        self.real_start = monotonic() if real_start is None else real_start
        self._reached = self.stream_start

    def now(self) -> datetime:
        """Return the current stream time (aware UTC)."""
        if self.unlimited:
            return self._reached
        elapsed_s = max(0.0, self._monotonic() - self.real_start)
        return self.stream_start + timedelta(seconds=elapsed_s * self.speed)

    def advance(self, at: datetime) -> None:
        """Record that stream time `at` was released (moves `now()` only in as-fast-as-possible mode)."""
        at = as_utc(at)
        if at > self._reached:
            self._reached = at

    def real_delay_s(self, at: datetime) -> float:
        """Return the real seconds left until stream time `at` (0 when reached or unlimited)."""
        if self.unlimited:
            return 0.0
        ahead_s = (as_utc(at) - self.now()).total_seconds()
        return max(0.0, ahead_s / self.speed)


def replay_batches(
    items: Iterable[dict[str, Any]],
    clock: VirtualClock,
    batch_size: int = 200,
    start_after: int = 0,
    *,
    sleep: Callable[[float], None] = time.sleep,
    max_sleep_s: float = MAX_SLEEP_S,
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Yield (offset, batch) as virtual time reaches the items, skipping the first `start_after` items.

    offset is the 1-based position in the stream of the batch's last item, i.e. how many items have
    been delivered so far; pass it back as `start_after` to resume without gaps or duplicates. A batch
    is delivered when it is full or when the next item is still in the future (then the replay sleeps
    in steps of at most `max_sleep_s`). Items without a valid date are released at once (logged).
    """
    if batch_size < 1:
        raise ValueError(f"размер пачки должен быть не меньше 1, а не {batch_size}")
    if start_after < 0:
        raise ValueError(f"смещение должно быть неотрицательным, а не {start_after}")
    batch: list[dict[str, Any]] = []
    delivered = start_after
    for index, item in enumerate(items):
        if index < start_after:
            continue
        at = item_time(item)
        if at is None:
            log.warning("элемент %d без корректной даты выпущен без ожидания", index + 1)
        else:
            while (delay_s := clock.real_delay_s(at)) > 0:
                if batch:
                    yield delivered, batch
                    batch = []
                sleep(min(delay_s, max_sleep_s))
            clock.advance(at)
        batch.append(item)
        delivered = index + 1
        if len(batch) >= batch_size:
            yield delivered, batch
            batch = []
    if batch:
        yield delivered, batch
