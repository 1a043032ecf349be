"""Chunked bulk writes with retries: 429 and 5xx are retried with backoff, other failures reported per id."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError

from index.store import StoreError, StoreUnavailable

log = logging.getLogger(__name__)

#: Documents per bulk request and the byte cap of one request.
CHUNK_DOCS = 500
CHUNK_BYTES = 10 * 1024 * 1024
#: Attempts for one chunk (first try included) and the backoff bounds, seconds.
MAX_ATTEMPTS = 6
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0


def retryable(status: int) -> bool:
    """Return whether an item or request status is worth retrying (too many requests, server errors)."""
    return status == 429 or status >= 500


@dataclass(frozen=True)
class BulkOp:
    """One bulk operation: the action line and, except for deletes, its document."""

    action: str  # index | create | update | delete
    index: str
    doc_id: str
    body: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def lines(self) -> list[dict[str, Any]]:
        """Return the ndjson lines of this operation."""
        head: dict[str, Any] = {"_index": self.index, "_id": self.doc_id, **self.extra}
        lines: list[dict[str, Any]] = [{self.action: head}]
        if self.body is not None:
            lines.append(self.body)
        return lines

    def size(self) -> int:
        """Return the approximate size of this operation in bytes."""
        return sum(len(json.dumps(line, ensure_ascii=False).encode("utf-8")) + 1 for line in self.lines())


class BulkWriteError(StoreError):
    """Some documents of a bulk write failed for good; the others were written."""

    def __init__(self, failures: dict[str, str]) -> None:
        """Keep the failed ids and their reasons."""
        self.failures = failures
        shown = "; ".join(f"{doc_id}: {reason}" for doc_id, reason in list(failures.items())[:5])
        more = f" и ещё {len(failures) - 5}" if len(failures) > 5 else ""
        super().__init__(f"не записано документов: {len(failures)} ({shown}{more})")


@dataclass
class BulkResult:
    """What a bulk write did: per id the result ('created', 'updated', 'deleted', ...) or failure."""

    results: dict[str, str] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    retries: int = 0

    def raise_for_failures(self) -> None:
        """Raise BulkWriteError when any document failed for good."""
        if self.failures:
            raise BulkWriteError(self.failures)


def chunks(
    ops: Sequence[BulkOp], max_docs: int = CHUNK_DOCS, max_bytes: int = CHUNK_BYTES
) -> Iterator[list[BulkOp]]:
    """Yield operations in chunks of at most `max_docs` operations and about `max_bytes` bytes."""
    chunk: list[BulkOp] = []
    size = 0
    for op in ops:
        op_size = op.size()
        if chunk and (len(chunk) >= max_docs or size + op_size > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(op)
        size += op_size
    if chunk:
        yield chunk


def _reason(item: dict[str, Any]) -> str:
    """Return a short reason from a failed bulk item."""
    error = item.get("error")
    if isinstance(error, dict):
        return f"{error.get('type', 'error')}: {error.get('reason', '')}".strip()
    return str(error or f"HTTP {item.get('status')}")


def _backoff_s(attempt: int) -> float:
    """Return the wait before retry number `attempt` (1-based), doubling up to the cap."""
    return float(min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (attempt - 1)))


def bulk_write(
    client: Elasticsearch,
    ops: Sequence[BulkOp],
    *,
    refresh: bool | str = False,
    sleep: Callable[[float], None] = time.sleep,
    max_docs: int = CHUNK_DOCS,
) -> BulkResult:
    """Send `ops` in chunks; retry 429/5xx items and whole-request failures with exponential backoff.

    Items that fail otherwise (mapping errors, conflicts) or still fail after the last attempt are
    returned in `failures` with their reason; nothing is dropped silently.
    """
    result = BulkResult()
    for chunk in chunks(ops, max_docs=max_docs):
        pending = chunk
        for attempt in range(1, MAX_ATTEMPTS + 1):
            last = attempt == MAX_ATTEMPTS
            body = [line for op in pending for line in op.lines()]
            result.requests += 1
            try:
                response = client.bulk(operations=body, refresh=refresh)
            except ApiError as exc:
                if retryable(exc.meta.status) and not last:
                    result.retries += 1
                    sleep(_backoff_s(attempt))
                    continue
                reason = f"HTTP {exc.meta.status}: {exc.error}"
                result.failures.update({op.doc_id: reason for op in pending})
                break
            except TransportError as exc:
                if not last:
                    result.retries += 1
                    sleep(_backoff_s(attempt))
                    continue
                raise StoreUnavailable(f"Elasticsearch недоступен: {exc}") from exc
            again: list[BulkOp] = []
            for op, entry in zip(pending, response["items"], strict=True):
                item = next(iter(entry.values()))
                status = int(item.get("status", 500))
                if status < 300 or (op.action == "delete" and status == 404):
                    result.results[op.doc_id] = str(item.get("result", "ok"))
                elif retryable(status) and not last:
                    again.append(op)
                else:
                    result.failures[op.doc_id] = _reason(item)
            if not again:
                break
            log.warning("bulk: %d of %d items to retry (attempt %d)", len(again), len(pending), attempt)
            result.retries += 1
            sleep(_backoff_s(attempt))
            pending = again
    return result
