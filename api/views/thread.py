"""A message's full context: its thread (the root post and every comment, nested), incident and story."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import tzinfo

from api.views.common import local_time, shown_author, shown_text
from api.views.labels import KIND_LABELS, TONE_LABELS, UNKNOWN, source_name
from api.views.search import territory_name
from index.models import Post
from index.profile import Profile
from index.store import PostQuery, Store
from risk.alerts import MARKER_PHRASES

#: At most this many messages of one thread are shown.
MAX_THREAD_POSTS = 1_000
#: Deeper replies are drawn at this indentation level.
MAX_DEPTH = 6


@dataclass(frozen=True)
class ThreadLine:
    """One message of the thread, with its nesting depth."""

    id: str
    depth: int
    at: str
    author: str
    text: str
    official: bool
    current: bool
    kind: str
    tone: str
    aggression: int  # percent
    markers: str
    likes: int | None


@dataclass
class PostContext:
    """The post page: the message's facts, its thread, its incident and its story."""

    id: str
    text: str
    at: str
    collected: str
    source: str
    author: str
    url: str | None
    page: str | None
    sector: str
    topic: str
    kind: str
    tone: str
    aggression: int
    markers: str
    places: str
    territory: str
    reach: int
    views: int | None
    likes: int | None
    reposts: int | None
    comments: int | None
    root_id: str
    thread: list[ThreadLine] = field(default_factory=list)
    thread_total: int = 0
    incident_id: str | None = None
    incident_title: str | None = None
    story_size: int = 0
    duplicate_of: str | None = None


def marker_names(markers: list[str]) -> str:
    """Return the Russian names of aggression markers, comma-separated."""
    return ", ".join(MARKER_PHRASES.get(m, m) for m in markers)


def _line(post: Post, depth: int, current_id: str, tz: tzinfo, reveal: bool) -> ThreadLine:
    return ThreadLine(
        id=post.id,
        depth=min(depth, MAX_DEPTH),
        at=local_time(post.published_at, tz),
        author=shown_author(post.author_id, post.author_name, reveal, post.is_official),
        text=shown_text(post.text, reveal),
        official=post.is_official,
        current=post.id == current_id,
        kind=KIND_LABELS.get(post.kind.value, "") if post.kind else "",
        tone=TONE_LABELS.get(post.tone.value, "") if post.tone else "",
        aggression=round(post.aggression * 100),
        markers=marker_names(post.aggression_markers),
        likes=post.metrics.likes,
    )


def nest(root: Post | None, posts: list[Post]) -> list[tuple[Post, int]]:
    """Return the thread's posts in reading order (root, then each reply under its parent) with depths.

    Replies whose parent is not stored hang under the root; cycles cannot loop (each post once).
    """
    by_id = {p.id: p for p in posts}
    children: dict[str | None, list[Post]] = defaultdict(list)
    root_id = root.id if root else None
    for post in posts:
        if post.id == root_id:
            continue
        parent = post.parent_id if post.parent_id in by_id and post.parent_id != post.id else root_id
        children[parent].append(post)
    for replies in children.values():
        replies.sort(key=lambda p: (p.published_at, p.id))
    out: list[tuple[Post, int]] = []
    seen: set[str] = set()
    stack: list[tuple[Post, int]] = [(root, 0)] if root else [(p, 0) for p in reversed(children[None])]
    while stack:
        post, depth = stack.pop()
        if post.id in seen:
            continue
        seen.add(post.id)
        out.append((post, depth))
        stack.extend((child, depth + 1) for child in reversed(children.get(post.id, [])))
    for post in posts:  # anything unreachable (a cycle) still shows, at the top level
        if post.id not in seen:
            seen.add(post.id)
            out.append((post, 1))
    return out


def post_context(store: Store, profile: Profile, post: Post, tz: tzinfo, reveal: bool) -> PostContext:
    """Return the post page: the message, its whole thread nested, its incident and story size.

    Authors are pseudonymised and contacts masked unless `reveal`.
    """
    root_id = post.thread_id or post.id
    root = post if root_id == post.id else store.get_post(root_id)
    thread = store.query_posts(PostQuery(thread_id=root_id, limit=MAX_THREAD_POSTS, newest_first=False))
    posts = list(thread.items)
    if root is not None and all(p.id != root.id for p in posts):
        posts.insert(0, root)
    if all(p.id != post.id for p in posts):
        posts.append(post)
    incident = store.find_incident_for_post(post.id)
    story_size = 0
    if post.story_id:
        story_size = store.count_posts(PostQuery(story_id=post.story_id))
    page = next((p for p in profile.pages if p.id == post.page_id), None) if post.page_id else None
    return PostContext(
        id=post.id,
        text=shown_text(post.text, reveal),
        at=local_time(post.published_at, tz),
        collected=local_time(post.collected_at, tz),
        source=source_name(post.source),
        author=shown_author(post.author_id, post.author_name, reveal, post.is_official),
        url=post.url if post.url and post.url.startswith(("https://", "http://")) else None,
        page=page.name if page else post.page_id,
        sector=post.sector or UNKNOWN,
        topic=post.topic or "—",
        kind=KIND_LABELS.get(post.kind.value, UNKNOWN) if post.kind else UNKNOWN,
        tone=TONE_LABELS.get(post.tone.value, UNKNOWN) if post.tone else UNKNOWN,
        aggression=round(post.aggression * 100),
        markers=marker_names(post.aggression_markers) or "—",
        places=", ".join(p.name for p in post.places) or "—",
        territory=territory_name(profile, post.territory),
        reach=post.metrics.reach(),
        views=post.metrics.views,
        likes=post.metrics.likes,
        reposts=post.metrics.reposts,
        comments=post.metrics.comments,
        root_id=root_id,
        thread=[_line(p, d, post.id, tz, reveal) for p, d in nest(root, posts)],
        thread_total=max(thread.total, len(posts)),
        incident_id=incident.id if incident else None,
        incident_title=incident.title if incident else None,
        story_size=story_size,
        duplicate_of=post.duplicate_of,
    )
