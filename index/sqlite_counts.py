"""A per-hour cache of hourly rollup rows for SqliteStore.counts, kept exact by the rollup change log.

Every write that moves rollup counts appends the hours it touched to `rollup_log` in the same
transaction. Before answering, the cache reads the log entries it has not seen (in the same read
snapshot as the rows) and forgets those hours, in every process. Repeated /indicators requests then
read only the hours that changed since the last request (usually the last one or two).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

from index.sqlite_schema import HOUR_S
from index.store import CountRow

#: Rows kept before the cache is emptied (about 200 bytes each).
MAX_ROWS = 2_000_000
#: Log entries kept by the writers; a reader further behind than this starts over.
LOG_KEEP = 200_000

_FIELDS = ("sector", "territory", "source")


def log_hours(conn: sqlite3.Connection, hours: Sequence[int]) -> None:
    """Record in the current write transaction that the rollups of `hours` changed; prune old entries."""
    if not hours:
        return
    conn.executemany("INSERT INTO rollup_log (bucket) VALUES (?)", [(hour,) for hour in sorted(set(hours))])
    conn.execute(
        "DELETE FROM rollup_log WHERE seq <= (SELECT max(seq) FROM rollup_log) - ?",
        (LOG_KEEP,),
    )


class HourlyCountsCache:
    """Hourly CountRows per (grouping set, hour); callers must not mutate the rows returned."""

    def __init__(self) -> None:
        """Start empty."""
        self._lock = threading.Lock()
        self._seq = -1  # the last log entry applied; -1: nothing cached yet
        self._rows: dict[tuple[int, int], list[CountRow]] = {}
        self._size = 0
        self._starts: dict[int, datetime] = {}

    def clear(self) -> None:
        """Forget everything."""
        self._rows.clear()
        self._size = 0

    def _sync(self, conn: sqlite3.Connection) -> None:
        """Forget the hours changed since the last call (same snapshot as the rows read next)."""
        first = conn.execute("SELECT min(seq), max(seq) FROM rollup_log").fetchone()
        low, high = (int(first[0]), int(first[1])) if first[0] is not None else (0, 0)
        if self._seq < 0 or self._seq < low - 1:
            self.clear()
        elif high > self._seq:
            changed = {
                int(row[0])
                for row in conn.execute("SELECT bucket FROM rollup_log WHERE seq > ?", (self._seq,))
            }
            for key in [key for key in self._rows if key[1] in changed]:
                self._size -= len(self._rows.pop(key))
        self._seq = high

    def _start(self, hour: int) -> datetime:
        """Return the (shared) datetime of an hour bucket."""
        start = self._starts.get(hour)
        if start is None:
            start = self._starts[hour] = datetime.fromtimestamp(hour, UTC)
        return start

    def _load(
        self, conn: sqlite3.Connection, grouping: int, fields: Sequence[str], first: int, end: int
    ) -> None:
        """Read the rows of hours [first, end) of one grouping set into the cache."""
        select = ", ".join(["bucket", *fields, "count"])
        rows = conn.execute(
            f"SELECT {select} FROM rollups WHERE grouping = ? AND bucket >= ? AND bucket < ? "
            "ORDER BY grouping, bucket, sector, territory, source",
            (grouping, first, end),
        ).fetchall()
        at = {name: fields.index(name) + 1 for name in fields}
        s, t, src = (at.get(name, 0) for name in _FIELDS)
        for hour in range(first, end, HOUR_S):
            self._rows[(grouping, hour)] = []
        for row in rows:
            self._rows[(grouping, row[0])].append(
                CountRow(
                    self._start(row[0]),
                    row[-1],
                    (row[s] or None) if s else None,
                    (row[t] or None) if t else None,
                    (row[src] or None) if src else None,
                )
            )
        self._size += len(rows)

    def hourly(
        self, conn: sqlite3.Connection, grouping: int, fields: Sequence[str], first: int, until_s: float
    ) -> list[CountRow]:
        """Return the hourly rows of hours first, first + 1 h, ... before `until_s`, in key order.

        `conn` must be inside a read transaction, so the log and the rows come from one snapshot.
        """
        with self._lock:
            self._sync(conn)
            if self._size > MAX_ROWS:
                self.clear()
            count = max(0, -int(-(until_s - first) // HOUR_S))  # hours h = first + k h with h < until_s
            hours = range(first, first + count * HOUR_S, HOUR_S)
            missing = [hour for hour in hours if (grouping, hour) not in self._rows]
            run_start = None
            for index, hour in enumerate(missing):
                if run_start is None:
                    run_start = hour
                nxt = missing[index + 1] if index + 1 < len(missing) else None
                if nxt != hour + HOUR_S:
                    self._load(conn, grouping, fields, run_start, hour + HOUR_S)
                    run_start = None
            result: list[CountRow] = []
            for hour in hours:
                result.extend(self._rows[(grouping, hour)])
            return result
