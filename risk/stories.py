"""Резонанс: an emerging story (posts the understanding step grouped by `story_id`) that grows fast.

A story resonates when, in the latest WINDOW_HOURS, it has at least MIN_POSTS citizens' messages from
at least MIN_AUTHORS distinct authors in at least MIN_THREADS separate threads (many people, not one busy
discussion), spreading beyond one network (at least OUTSIDE_MIN messages and OUTSIDE_SHARE of them
outside its largest network) or with a reach of REACH_INSTEAD_OF_SOURCES,
at least GROWTH times as many as in the window before (plus one), and it is young: its first message at
most MAX_AGE_HOURS old. On the demo stream the network condition removes the stories made of one stock
reply repeated under many VK posts ("звонил в УК, обещали разобраться").
Severity 1–10 = 2 + 1.5·log2(messages / MIN_POSTS) (+1 per doubling),
plus one point per decade of reach above 10,000 (at most 2) and up to 2 for a negative story.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from index.models import Post, Tone, as_utc

#: The window the growth is measured over, in hours.
WINDOW_HOURS = 3.0
#: Messages, authors and threads a resonating story needs in its latest window.
MIN_POSTS = 10
MIN_AUTHORS = 5
MIN_THREADS = 3
#: Messages (and their share) a resonating story has outside its largest network, unless its reach
#: alone is REACH_INSTEAD_OF_SOURCES.
OUTSIDE_MIN = 2
OUTSIDE_SHARE = 0.2
REACH_INSTEAD_OF_SOURCES = 10_000
#: How many times the previous window (plus one) the latest must hold.
GROWTH = 3.0
#: A story older than this is not emerging any more, in hours.
MAX_AGE_HOURS = 48.0
#: How many example posts an assessment keeps.
EXAMPLES = 5


@dataclass(frozen=True)
class StoryAssessment:
    """The verdict on one story at one moment, with the figures an alert shows."""

    story_id: str
    is_resonance: bool
    window_posts: int  # citizens' messages in the latest window
    previous_posts: int  # ... in the window before it
    authors: int  # distinct authors in the latest window
    threads: int  # distinct threads in the latest window
    total_posts: int  # every message of the story so far
    reach: int
    negative_share: float
    first_at: datetime | None
    last_at: datetime | None
    severity: int
    sector: str | None = None
    territory: str | None = None
    sources: list[tuple[str, int]] = field(default_factory=list)
    example_ids: list[str] = field(default_factory=list)
    headline: str = ""  # the first message's text, shortened

    @property
    def growth(self) -> float:
        """Return how many times the latest window exceeds the previous one (plus one)."""
        return self.window_posts / (self.previous_posts + 1.0)


def story_severity(posts: int, reach: int, negative_share: float) -> int:
    """Return a 1..10 severity from the size of the latest window, the reach and the negativity."""
    score = 2.0 + 1.5 * math.log2(max(posts, 1) / MIN_POSTS) if posts >= MIN_POSTS else 1.0
    if reach > 0:
        score += min(2.0, max(0.0, math.log10(reach) - 4.0))
    score += 2.0 * max(0.0, negative_share - 0.3) / 0.7
    return int(min(10, max(1, round(score))))


def _most_common(values: Sequence[str | None]) -> str | None:
    """Return the most common non-empty value, or None."""
    counted = Counter(v for v in values if v)
    return counted.most_common(1)[0][0] if counted else None


def assess_story(
    story_id: str,
    posts: Sequence[Post],
    now: datetime,
    *,
    window_hours: float = WINDOW_HOURS,
    min_posts: int = MIN_POSTS,
    min_authors: int = MIN_AUTHORS,
    min_threads: int = MIN_THREADS,
    growth: float = GROWTH,
    max_age_hours: float = MAX_AGE_HOURS,
) -> StoryAssessment:
    """Return whether a story's citizens' `posts` (any order, official ones ignored) resonate at `now`."""
    moment = as_utc(now)
    citizens = sorted(
        (p for p in posts if not p.is_official and p.published_at <= moment), key=lambda p: p.published_at
    )
    window = timedelta(hours=window_hours)
    latest = [p for p in citizens if p.published_at > moment - window]
    previous = [p for p in citizens if moment - 2 * window < p.published_at <= moment - window]
    authors = len({p.author_id or p.id for p in latest})
    threads = len({p.thread_id or p.id for p in latest})
    reach = sum(p.metrics.reach() + int(p.metrics.reposts or 0) for p in latest)
    negative = sum(1 for p in latest if p.tone == Tone.negative) / len(latest) if latest else 0.0
    first_at = citizens[0].published_at if citizens else None
    young = first_at is not None and moment - first_at <= timedelta(hours=max_age_hours)
    networks = Counter(p.source for p in latest)
    outside = len(latest) - max(networks.values(), default=0)
    spreads = (outside >= OUTSIDE_MIN and outside >= OUTSIDE_SHARE * len(latest)) or (
        reach >= REACH_INSTEAD_OF_SOURCES
    )
    is_resonance = (
        young
        and spreads
        and len(latest) >= min_posts
        and authors >= min_authors
        and threads >= min_threads
        and len(latest) >= growth * (len(previous) + 1)
    )
    ranked = sorted(latest, key=lambda p: (p.metrics.reach(), p.published_at), reverse=True)
    return StoryAssessment(
        story_id=story_id,
        is_resonance=is_resonance,
        window_posts=len(latest),
        previous_posts=len(previous),
        authors=authors,
        threads=threads,
        total_posts=len(citizens),
        reach=reach,
        negative_share=round(negative, 3),
        first_at=first_at,
        last_at=citizens[-1].published_at if citizens else None,
        severity=story_severity(len(latest), reach, negative),
        sector=_most_common([p.sector for p in latest]),
        territory=_most_common([p.territory for p in latest]),
        sources=Counter(p.source for p in latest).most_common(),
        example_ids=[p.id for p in ranked[:EXAMPLES]],
        headline=" ".join(citizens[0].text.split())[:200] if citizens else "",
    )
