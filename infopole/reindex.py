"""Rebuild the post indices after a mapping change (`infopole reindex`), month by month.

Each monthly index is copied into a new generation (`...-posts-2026.03.01-000002`) created from the
current template: every post is read back from its stored document (raw API object included), turned
into a Post, optionally re-mapped from `raw` and re-understood, and written again with the current
derived fields. The old index is write-blocked during the copy; then one atomic alias action removes
it and points the month's name at the new index, so writers and readers never see a gap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from index.elastic import ElasticStore
from index.es_bulk import BulkOp, bulk_write
from index.es_docs import post_doc, post_from_doc
from index.es_setup import month_start, parse_month, put_templates
from index.models import Post

log = logging.getLogger(__name__)

#: Posts read per request while copying.
BATCH = 1_000
#: Rewrites a batch of posts (re-mapping from raw, understanding); must keep ids and publication times.
Rebuild = Callable[[Sequence[Post]], list[Post]]


@dataclass
class ReindexReport:
    """What the reindex did, per monthly index: old name → (new name, posts copied)."""

    indices: dict[str, tuple[str, int]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # post id → Russian reason

    @property
    def posts(self) -> int:
        """Return the number of posts copied."""
        return sum(count for _, count in self.indices.values())

    def summary(self) -> str:
        """Return a one-line Russian summary."""
        line = f"переиндексировано месяцев: {len(self.indices)}, сообщений: {self.posts}"
        return line + (f"; с ошибками: {len(self.failed)}" if self.failed else "")


def _next_name(concrete: str, month_name: str) -> str:
    """Return the next generation's index name of a month."""
    parsed = parse_month(concrete)
    generation = parsed[1] if parsed else 1
    return f"{month_name}-{generation + 1:06d}"


def _copy(
    store: ElasticStore, source: str, target: str, rebuild: Rebuild | None, report: ReindexReport
) -> int:
    """Copy every post of index `source` into `target`; return how many were written."""
    client = store.client
    pages = {page.id: page for page in store.list_pages()}
    after: list[Any] | None = None
    copied = 0
    while True:
        extra: dict[str, Any] = {} if after is None else {"search_after": after}
        response = client.search(index=source, sort=[{"id": {"order": "asc"}}], size=BATCH, **extra)
        hits = response["hits"]["hits"]
        if not hits:
            return copied
        after = hits[-1]["sort"]
        stored = {hit["_id"]: hit["_source"] for hit in hits}
        posts = [post_from_doc(source_doc) for source_doc in stored.values()]
        if rebuild is not None:
            posts = rebuild(posts)
        ops = []
        for post in posts:
            answered = stored.get(post.id, {}).get("answered_at")
            doc = post_doc(post, pages.get(post.page_id) if post.page_id else None)
            if answered is not None:
                doc["answered_at"] = answered
            ops.append(BulkOp("index", target, post.id, doc))
        result = bulk_write(client, ops, refresh=False)
        report.failed.update(result.failures)
        copied += len(ops) - len(result.failures)


def reindex_posts(
    store: ElasticStore, *, rebuild: Rebuild | None = None, progress: Callable[[str], None] = lambda _: None
) -> ReindexReport:
    """Put the current templates, then rebuild every monthly post index into a new generation."""
    client, layout = store.client, store.layout
    put_templates(client, layout)
    report = ReindexReport()
    indices = client.indices.get_alias(index=layout.pattern("posts"), allow_no_indices=True)
    for concrete in sorted(indices):
        parsed = parse_month(concrete)
        if parsed is None:
            continue
        month_name = layout.month_index(parsed[0])
        target = _next_name(concrete, month_name)
        settings = layout.month_settings(month_start(parsed[0]))
        if settings:
            client.indices.create(index=target, settings=settings)
        else:
            client.indices.create(index=target)
        # The template put the read alias on the new index; keep it off until the swap (no duplicates).
        client.indices.update_aliases(actions=[{"remove": {"index": target, "alias": layout.alias("posts")}}])
        client.indices.put_settings(index=concrete, settings={"index.blocks.write": True})
        try:
            copied = _copy(store, concrete, target, rebuild, report)
            client.indices.refresh(index=target)
            client.indices.update_aliases(
                actions=[
                    {"add": {"index": target, "alias": month_name}},
                    {"add": {"index": target, "alias": layout.alias("posts")}},
                    {"remove_index": {"index": concrete}},
                ]
            )
        except Exception:
            client.options(ignore_status=404).indices.delete(index=target)
            client.indices.put_settings(index=concrete, settings={"index.blocks.write": False})
            raise
        report.indices[concrete] = (target, copied)
        progress(f"{concrete} → {target}: {copied}")
    store.forget_indices()
    return report


def remapper(pseudonym_key: bytes, understand: Callable[[Sequence[Post]], list[Post]]) -> Rebuild:
    """Return a Rebuild that maps each post's stored raw object again and re-runs the understanding.

    A post whose source has no mapper or whose raw object no longer maps is kept as stored (then
    understood again); its publication time and id never change.
    """
    from crawlers.registry import get_mapper

    def rebuild(posts: Sequence[Post]) -> list[Post]:
        fresh: list[Post] = []
        for post in posts:
            try:
                mapped = get_mapper(post.source)(post.raw, pseudonym_key) if post.raw else post
            except (KeyError, ValueError, TypeError) as exc:
                log.warning("reindex: %s kept as stored: %s", post.id, exc)
                mapped = post
            if mapped.id != post.id or mapped.published_at != post.published_at:
                mapped = post
            fresh.append(mapped.model_copy(update={"collected_at": post.collected_at}))
        return understand(fresh)

    return rebuild
