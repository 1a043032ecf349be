"""Conflicts in comment threads, above all under the official pages' own posts.

A thread is judged on its citizens' comments (the page's own answers are not counted as conflict, but
replies to them are; comments without an author id count as one unknown author). Negative comments alone
are not a conflict: complaint threads are negative by nature. A conflict needs real conflict signals,
counted over distinct authors so that one angry person does not make one:

- hostility: authors of comments with insults or threats of violence, or aggression ≥ AGGRESSIVE_AT
  (obscene words count through the aggression they add; part of the score = hostile authors /
  max(3, 15% of the authors), at most 1);
- escalation: authors threatening to go to the prosecutor, court, president or a rally, or calling for
  collective action (same saturation);
- arguing with the official answer: replies to a comment the page itself wrote (not the root post) that
  are neither positive nor thanks (saturating at 3);
- negativity: the share of negative comments between 30% (0) and 70% (1);
- rising anger: the hostile-or-negative share of the latest third of the comments at least RISING_DELTA
  above the first third (6+ comments).

score = 0.30·hostility + 0.25·escalation + 0.25·arguing + 0.10·negativity + 0.10·rising (0..1). A thread is
a conflict when it has at least `min_comments` citizen comments from `min_authors` authors, at least
MIN_SIGNALS of the three independent signals (hostile authors, escalating authors, arguing replies: 3+
each under an official page's post, 5+ elsewhere) and a score of CONFLICT_SCORE (0.5) under an official
page's post, OFF_PAGE_CONFLICT_SCORE (0.6) elsewhere. A thread where half the comments or more are
complaints is a pile-on (incidents take it): a conflict only when people argue with the page's answer.
On the demo stream (3 injected conflicts among ~700 threads with 8+ comments, every prefix of every thread
judged as comments arrive) this flags the 3 conflicts and no other thread; the old negativity-led score
flagged 238. Severity 1–10 = 1 + 9 × score, plus one point at twice the minimum number of comments and
two at four times.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from index.models import Kind, Post, Tone

#: A comment is aggressive from this aggression score on.
AGGRESSIVE_AT = 0.5
#: A comment without a tone label is negative at or below this tone score.
NEGATIVE_TONE_SCORE = -0.3
#: The score from which a thread under an official page's post is a conflict (elsewhere the higher one).
CONFLICT_SCORE = 0.5
OFF_PAGE_CONFLICT_SCORE = 0.6
#: How many of the independent signals (hostility, escalation, arguing) a conflict needs.
MIN_SIGNALS = 2
#: Distinct authors (or arguing replies) from which a signal counts: under an official page's post, and
#: elsewhere (where a conflict needs many people, as nobody from the page is there to argue with).
SIGNAL_MIN = 3
OFF_PAGE_SIGNAL_MIN = 5
#: A thread where at least this share of the comments are complaints is a pile-on of complaints (the
#: incidents take them); it is a conflict only when people also argue with the page's answer.
PILE_ON_COMPLAINT_SHARE = 0.5
#: The hostile share of the latest third must exceed the first third's by this much to be rising.
RISING_DELTA = 0.15
#: Comments a trend needs.
MIN_TREND_COMMENTS = 6
#: Markers of hostility by themselves: insults and threats of violence. Obscenity counts only with an
#: aggression of AGGRESSIVE_AT: its stems also hit ordinary words ("хулиганы", "ничего себе"), which
#: made complaint threads about hooligans look like conflicts.
HOSTILE_MARKERS = frozenset({"insult", "violence"})
#: Markers that mean escalation beyond words.
ESCALATION_MARKERS = frozenset({"threat_escalation", "collective_action"})
#: Hostile or escalating authors (and arguing replies) at which their part of the score saturates.
SATURATION = 3
#: ... or this share of the thread's authors, when that is more (a big thread needs more of them).
SATURATION_SHARE = 0.15
#: Negativity counts between these shares of negative comments.
NEGATIVE_FROM = 0.3
NEGATIVE_FULL = 0.7
#: Weights of the score's parts.
WEIGHTS = {"hostility": 0.30, "escalation": 0.25, "arguing": 0.25, "negativity": 0.10, "rising": 0.10}
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
    aggressive_share: float  # share of hostile comments (markers or aggression ≥ AGGRESSIVE_AT)
    markers: dict[str, int] = field(default_factory=dict)  # aggression marker → comments carrying it
    escalating: int = 0  # comments with an escalation marker
    contested_replies: int = 0  # replies arguing with the page's own comments
    first_third_hostile: float = 0.0
    last_third_hostile: float = 0.0
    rising: bool = False
    worst_post_ids: list[str] = field(default_factory=list)
    first_at: datetime | None = None
    last_at: datetime | None = None
    hostile_authors: int = 0
    escalating_authors: int = 0
    official_page: bool = False  # the thread is under an official page's post
    complaint_share: float = 0.0  # share of comments that are complaints (a pile-on from PILE_ON_...)
    signals: list[str] = field(default_factory=list)  # hostility | escalation | arguing, those present
    parts: dict[str, float] = field(default_factory=dict)  # the score's parts, 0..1 each


def is_negative(post: Post) -> bool:
    """Return whether a comment is negative (label, or tone score when unlabelled)."""
    if post.tone is not None:
        return post.tone == Tone.negative
    return post.tone_score <= NEGATIVE_TONE_SCORE


def is_aggressive(post: Post) -> bool:
    """Return whether a comment is hostile: insults, obscenity, threats of violence or high aggression."""
    return post.aggression >= AGGRESSIVE_AT or bool(HOSTILE_MARKERS & set(post.aggression_markers))


def is_escalating(post: Post) -> bool:
    """Return whether a comment threatens to escalate or calls for collective action."""
    return bool(ESCALATION_MARKERS & set(post.aggression_markers))


def _hostile(post: Post) -> bool:
    """Return whether a comment is negative or hostile."""
    return is_negative(post) or is_aggressive(post)


def _share(posts: Sequence[Post]) -> float:
    """Return the hostile-or-negative share of `posts` (0 for none)."""
    return sum(1 for p in posts if _hostile(p)) / len(posts) if posts else 0.0


def _author(post: Post) -> str:
    """Return the comment's author key (one shared key for unknown authors)."""
    return post.author_id or "?"


def _saturating(n: int, authors: int) -> float:
    """Return min(1, n / max(SATURATION, SATURATION_SHARE × authors))."""
    return min(1.0, n / max(float(SATURATION), SATURATION_SHARE * authors))


def _arguing(post: Post, official_ids: set[str]) -> bool:
    """Return whether a comment replies to the page's own comment without approving of it."""
    if post.parent_id not in official_ids:
        return False
    return post.tone != Tone.positive and post.kind != Kind.gratitude


def _badness(post: Post, official_ids: set[str]) -> tuple[int, float, float]:
    """Return a sort key: the worst comments first (hostile, arguing, escalating, then by aggression)."""
    rank = 0
    if is_aggressive(post):
        rank += 4
    if _arguing(post, official_ids):
        rank += 2
    if is_escalating(post):
        rank += 2
    if is_negative(post):
        rank += 1
    return (-rank, -post.aggression, post.tone_score)


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
    authors = len({_author(c) for c in citizens})
    negative = sum(1 for c in citizens if is_negative(c))
    hostile = [c for c in citizens if is_aggressive(c)]
    escalating = [c for c in citizens if is_escalating(c)]
    arguing = [c for c in citizens if _arguing(c, official_ids)]
    hostile_authors = len({_author(c) for c in hostile})
    escalating_authors = len({_author(c) for c in escalating})
    markers: Counter[str] = Counter()
    for c in citizens:
        markers.update(set(c.aggression_markers))

    third = n // 3
    first_share = _share(citizens[:third]) if n >= MIN_TREND_COMMENTS else 0.0
    last_share = _share(citizens[n - third :]) if n >= MIN_TREND_COMMENTS else 0.0
    rising = n >= MIN_TREND_COMMENTS and last_share - first_share >= RISING_DELTA

    negative_share = negative / n if n else 0.0
    parts = {
        "hostility": _saturating(hostile_authors, authors),
        "escalation": _saturating(escalating_authors, authors),
        "arguing": min(1.0, len(arguing) / SATURATION),
        "negativity": min(1.0, max(0.0, (negative_share - NEGATIVE_FROM) / (NEGATIVE_FULL - NEGATIVE_FROM))),
        "rising": 1.0 if rising else 0.0,
    }
    score = round(min(1.0, sum(WEIGHTS[k] * v for k, v in parts.items())), 4)
    official_page = bool(root is not None and (root.page_id or root.is_official))
    signal_min = SIGNAL_MIN if official_page else OFF_PAGE_SIGNAL_MIN
    signals = [
        name
        for name, value in (
            ("hostility", hostile_authors),
            ("escalation", escalating_authors),
            ("arguing", len(arguing)),
        )
        if value >= signal_min
    ]
    threshold = CONFLICT_SCORE if official_page else OFF_PAGE_CONFLICT_SCORE
    complaint_share = sum(1 for c in citizens if c.kind == Kind.complaint) / n if n else 0.0
    pile_on = complaint_share >= PILE_ON_COMPLAINT_SHARE and "arguing" not in signals
    enough = n >= min_comments and authors >= min_authors and not pile_on
    bonus = 2 if n >= 4 * min_comments else 1 if n >= 2 * min_comments else 0
    severity = int(min(10, max(1, round(1 + 9 * score) + bonus)))

    worst = sorted(
        (c for c in citizens if _hostile(c) or is_escalating(c) or _arguing(c, official_ids)),
        key=lambda c: (*_badness(c, official_ids), c.published_at),
    )[:WORST_LIMIT]
    return ConflictAssessment(
        thread_id=thread_id,
        is_conflict=enough and len(signals) >= MIN_SIGNALS and score >= threshold,
        score=score,
        severity=severity,
        comments=n,
        authors=authors,
        negative_share=round(negative_share, 4),
        aggressive_share=round(len(hostile) / n, 4) if n else 0.0,
        markers=dict(sorted(markers.items())),
        escalating=len(escalating),
        contested_replies=len(arguing),
        first_third_hostile=round(first_share, 4),
        last_third_hostile=round(last_share, 4),
        rising=rising,
        worst_post_ids=[c.id for c in worst],
        first_at=citizens[0].published_at if citizens else None,
        last_at=citizens[-1].published_at if citizens else None,
        hostile_authors=hostile_authors,
        escalating_authors=escalating_authors,
        official_page=official_page,
        signals=signals,
        parts={k: round(v, 4) for k, v in parts.items()},
        complaint_share=round(complaint_share, 4),
    )
