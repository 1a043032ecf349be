"""Conflict precision and recall on the demo stream: every prefix of every thread, as comments arrive."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from crawlers.demo import DEMO_PROFILE_PATH
from crawlers.demo.generator import load_truth, write_demo
from crawlers.demo.mapping import map_demo_item
from crawlers.replay import iter_stream
from index.models import Post
from index.profile import load_profile
from risk.conflicts import assess_thread
from risk.understand import Understander


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Post], set[str]]:
    """Return the understood demo posts and the thread ids of the injected conflicts."""
    paths = write_demo(Path(tmp_path_factory.mktemp("demo")))
    understander = Understander(load_profile(DEMO_PROFILE_PATH))
    posts = [map_demo_item(item, b"k") for item in iter_stream(paths.stream)]
    understood = [
        p
        for start in range(0, len(posts), 500)
        for p in understander.understand_many(posts[start : start + 500])
    ]
    return understood, {c.thread_id for c in load_truth(paths.truth).conflicts}


def test_every_injected_conflict_and_nothing_else_is_flagged(demo: tuple[list[Post], set[str]]) -> None:
    posts, truth = demo
    by_id = {p.id: p for p in posts}
    threads: dict[str, list[Post]] = defaultdict(list)
    for post in posts:
        if post.thread_id and post.id != post.thread_id:
            threads[post.thread_id].append(post)
    assert len(truth) == 3
    flagged: dict[str, int] = {}
    for thread_id, comments in threads.items():
        comments.sort(key=lambda p: (p.published_at, p.id))
        # Judge the thread after every comment, as the pipeline does when each batch arrives.
        for k in range(8, len(comments) + 1):
            if assess_thread(by_id.get(thread_id), comments[:k]).is_conflict:
                flagged[thread_id] = k
                break
    busy = sum(1 for comments in threads.values() if len(comments) >= 8)
    assert busy > 500  # hundreds of busy background threads, many of them all complaints
    assert set(flagged) == truth, (
        f"flagged {len(flagged)}: precision {len(set(flagged) & truth) / max(len(flagged), 1):.2f}"
    )
    # Each is flagged while it is still going, not after its last comment.
    for thread_id, k in flagged.items():
        assert k < len(threads[thread_id])
