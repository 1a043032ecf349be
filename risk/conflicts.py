"""Conflicts in comment threads, above all under the official pages' own posts.

A thread is judged on its citizens' comments (the page's own answers are not counted as conflict, but
negative replies to them are; comments without an author id count as one unknown author). The score
(0..1) adds up:

- 0.40 × share of negative comments (tone negative, or tone_score ≤ −0.3 when the tone is unknown);
- 0.30 × share of aggressive comments (aggression ≥ AGGRESSIVE_AT = 0.5);
- 0.10 × escalation: threats to go to the prosecutor, court, president, a rally (threat_escalation),
  calls for collective action and threats of violence, saturating at 3 such comments;
- 0.10 × replies arguing with the official answer: negative replies to a comment written by the page
  itself (the root post does not count as an answer), saturating at 3;
- 0.10 × a rising trend: the hostile share (negative or aggressive) in the latest third of the comments
  is at least RISING_DELTA = 0.15 above the first third (needs 6+ comments).

It is a conflict when the thread has at least `min_comments` citizen comments from at least
`min_authors` distinct authors and the score reaches CONFLICT_SCORE = 0.30 (e.g. 75% negative alone, or
60% negative with 20% aggressive). Severity 1–10 = 1 + 9 × score, plus one point at twice the minimum
number of comments and two at four times.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from index.models import Post, Tone

#: A comment is aggressive from this aggression score on.
AGGRESSIVE_AT = 0.5
#: A comment without a tone label is negative at or below this tone score.
NEGATIVE_TONE_SCORE = -0.3
#: The score from which a thread with enough comments and authors is a conflict.
CONFLICT_SCORE = 0.30
#: The hostile share of the latest third must exceed the first third's by this much to be rising.
RISING_DELTA = 0.15
#: Comments a trend needs.
MIN_TREND_COMMENTS = 6
#: Markers that mean escalation beyond words.
ESCALATION_MARKERS = frozenset({"threat_escalation", "collective_action", "violence"})
#: Escalating comments (and contested replies) at which their part of the score saturates.
SATURATION = 3
#: How many of the worst comments are listed.
WORST_LIMIT = 5


@dataclass(frozen=True)
class ConflictAssessment:
    """The verdict on one thread, with the figures an alert shows."""

    thread_id: str | None
    is_conflict: bool
    score: float  # 0..1
    severity: int  # 1..10
    comments: int  # citizen comments
    authors: int  # distinct citizen authors
    negative_share: float
    aggressive_share: float
    markers: dict[str, int] = field(default_factory=dict)  # aggression marker → comments carrying it
    escalating: int = 0  # comments with an escalation marker
    contested_replies: int = 0  # negative replies to the page's own comments
    first_third_hostile: float = 0.0
    last_third_hostile: float = 0.0
    rising: bool = False
    worst_post_ids: list[str] = field(default_factory=list)
    first_at: datetime | None = None
    last_at: datetime | None = None


def is_negative(post: Post) -> bool:
    """Return whether a comment is negative (label, or tone score when unlabelled)."""
    if post.tone is not None:
        return post.tone == Tone.negative
    return post.tone_score <= NEGATIVE_TONE_SCORE


def is_aggressive(post: Post) -> bool:
    """Return whether a comment is aggressive."""
    return post.aggression >= AGGRESSIVE_AT


def _hostile(post: Post) -> bool:
    """Return whether a comment is negative or aggressive."""
    return is_negative(post) or is_aggressive(post)


def _share(posts: Sequence[Post]) -> float:
    """Return the hostile share of `posts` (0 for none)."""
    return sum(1 for p in posts if _hostile(p)) / len(posts) if posts else 0.0


def assess_thread(
    root: Post | None, comments: Sequence[Post], *, min_comments: int = 8, min_authors: int = 5
) -> ConflictAssessment:
    """Return whether the thread under `root` with `comments` is a conflict, and its figures."""
    thread_id = root.id if root else next((c.thread_id for c in comments if c.thread_id), None)
    root_id = root.id if root else None
    official_ids = {c.id for c in comments if c.is_official and c.id != root_id}
    citizens = sorted(
        (c for c in comments if not c.is_official and c.id != root_id), key=lambda c: (c.published_at, c.id)
    )
    n = len(citizens)
    authors = len({c.author_id for c in citizens})
    negative = sum(1 for c in citizens if is_negative(c))
    aggressive = sum(1 for c in citizens if is_aggressive(c))
    markers: Counter[str] = Counter()
    escalating = 0
    for c in citizens:
        kinds = set(c.aggression_markers)
        markers.update(kinds)
        if kinds & ESCALATION_MARKERS:
            escalating += 1
    contested = sum(1 for c in citizens if c.parent_id in official_ids and is_negative(c))

    third = n // 3
    first_share = _share(citizens[:third]) if n >= MIN_TREND_COMMENTS else 0.0
    last_share = _share(citizens[n - third :]) if n >= MIN_TREND_COMMENTS else 0.0
    rising = n >= MIN_TREND_COMMENTS and last_share - first_share >= RISING_DELTA

    negative_share = negative / n if n else 0.0
    aggressive_share = aggressive / n if n else 0.0
    score = (
        0.40 * negative_share
        + 0.30 * aggressive_share
        + 0.10 * min(1.0, escalating / SATURATION)
        + 0.10 * min(1.0, contested / SATURATION)
        + 0.10 * (1.0 if rising else 0.0)
    )
    score = round(min(1.0, score), 4)
    enough = n >= min_comments and authors >= min_authors
    bonus = 2 if n >= 4 * min_comments else 1 if n >= 2 * min_comments else 0
    severity = int(min(10, max(1, round(1 + 9 * score) + bonus)))

    worst = sorted(
        (c for c in citizens if _hostile(c) or c.aggression > 0),
        key=lambda c: (-c.aggression, c.tone_score, c.published_at),
    )[:WORST_LIMIT]
    return ConflictAssessment(
        thread_id=thread_id,
        is_conflict=enough and score >= CONFLICT_SCORE,
        score=score,
        severity=severity,
        comments=n,
        authors=authors,
        negative_share=round(negative_share, 4),
        aggressive_share=round(aggressive_share, 4),
        markers=dict(sorted(markers.items())),
        escalating=escalating,
        contested_replies=contested,
        first_third_hostile=round(first_share, 4),
        last_third_hostile=round(last_share, 4),
        rising=rising,
        worst_post_ids=[c.id for c in worst],
        first_at=citizens[0].published_at if citizens else None,
        last_at=citizens[-1].published_at if citizens else None,
    )
