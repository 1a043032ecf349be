"""Benchmark the Elasticsearch store: bulk ingest of enriched posts and the /indicators aggregations.

Runs against INFOPOLE_TEST_ES_URL (a real cluster; INFOPOLE_TEST_ES_USER/PASSWORD) or, by default,
an osmem-server started here (an in-memory OpenSearch-compatible stand-in: its figures show the code
path, not Elasticsearch's speed).

- ingest: `--posts` new posts (with lemmas, sector, territory, tone, metrics, raw) upserted in batches
  of 500, refresh off then one refresh (backfill, migration), and again with refresh=wait_for (the
  pipeline's default, every write visible to the next read);
- indicators: the counts() calls of /indicators over the last 30 days (composite aggregations:
  hourly by sector and territory, plus the previous period's hourly total): p50/p95 and requests sent.

Usage: .venv/bin/python bench/elastic.py [--posts 5000] [--calls 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.store import END, make_posts
from index.elastic import ElasticStore, connect
from index.es_bulk import BulkOp
from index.es_docs import post_doc
from index.es_setup import ALL_KINDS, Layout

BATCH = 500


def open_target() -> tuple[ElasticStore, Any, str]:
    """Return a store on a fresh prefix, the osmem server (or None) and a description of the target."""
    url = os.environ.get("INFOPOLE_TEST_ES_URL", "")
    prefix = f"bench-{int(time.time())}"
    if url:
        client = connect(
            url,
            os.environ.get("INFOPOLE_TEST_ES_USER", "elastic"),
            os.environ.get("INFOPOLE_TEST_ES_PASSWORD", ""),
        )
        return ElasticStore(client, Layout(prefix=prefix)), None, f"Elasticsearch at {url}"
    from osmem_server import OsmemServer

    server = OsmemServer.start(addr="127.0.0.1:0", japanese=False)
    client = connect(server.url, plain_json=True, timeout_s=120)
    return (
        ElasticStore(client, Layout(prefix=prefix, lifecycle=False)),
        server,
        f"osmem-server {server.version}",
    )


def ingest(store: ElasticStore, posts: int, refresh: bool | str, prefix: str) -> float:
    """Upsert `posts` new posts in batches; return posts/s (a final refresh included)."""
    store.refresh = refresh
    chunk = make_posts(posts, 30, seed=posts, prefix=prefix)
    started = time.perf_counter()
    for i in range(0, len(chunk), BATCH):
        store.upsert_posts(chunk[i : i + BATCH])
    store.client.indices.refresh(index=store.layout.pattern("posts"))
    return posts / (time.perf_counter() - started)


def client_side(posts: int) -> float:
    """Return posts/s of our own work per post (document with derived fields, bulk line serialised)."""
    chunk = make_posts(posts, 30, seed=7, prefix="client")
    started = time.perf_counter()
    for post in chunk:
        BulkOp("index", "x", post.id, post_doc(post)).size()
    return posts / (time.perf_counter() - started)


def indicators(store: ElasticStore, calls: int) -> tuple[float, float, int]:
    """Return p50, p95 (ms) of the /indicators counts() calls and the search requests one makes."""
    since, until = END - timedelta(days=30), END
    sent = 0
    original = store.client.search

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal sent
        sent += 1
        return original(*args, **kwargs)

    store.client.search = counting  # type: ignore[method-assign]
    times = []
    for _ in range(calls):
        sent = 0
        started = time.perf_counter()
        store.counts(since, until, by=("sector", "territory"), bucket="hour")
        store.counts(since - (until - since), since, by=(), bucket="hour")
        times.append((time.perf_counter() - started) * 1000)
    store.client.search = original  # type: ignore[method-assign]
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))], sent


def main() -> None:
    """Run both benchmarks and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=5_000)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    ours = client_side(20_000)
    store, server, target = open_target()
    try:
        bulk = ingest(store, args.posts, False, "bulk")
        visible = ingest(store, args.posts // 5, "wait_for", "visible")
        p50, p95, requests = indicators(store, args.calls)
        total = store.client.count(index=store.layout.alias("posts"))["count"]
    finally:
        for kind in ALL_KINDS:
            store.client.options(ignore_status=404).indices.delete(index=store.layout.pattern(kind))
        store.close()
        if server is not None:
            server.close()
    print(f"client side (documents + bulk lines): {ours:,.0f} posts/s")
    print(f"target: {target}")
    print(f"bulk ingest, refresh off: {bulk:,.0f} posts/s ({args.posts:,} posts, batches of {BATCH})")
    print(f"ingest with refresh=wait_for: {visible:,.0f} posts/s ({args.posts // 5:,} posts)")
    print(
        f"indicators over 30 days, {total:,} posts: p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
        f"{requests} search requests"
    )


if __name__ == "__main__":
    main()
