"""Tests for conflict detection in comment threads."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from index.models import Kind, Post, Tone
from risk.conflicts import assess_thread
from tests.factories import BASE_TIME, make_post

ROOT_ID = "vk:-1_100"


def root(**extra: Any) -> Post:
    """Return an official page's post."""
    values: dict[str, Any] = {
        "id": ROOT_ID,
        "is_official": True,
        "page_id": "vk-admin",
        "thread_id": ROOT_ID,
        "tone": Tone.neutral,
    }
    values.update(extra)
    return make_post(**values)


def comment(i: int, *, tone: Tone | None = Tone.neutral, aggression: float = 0.0, **extra: Any) -> Post:
    """Return the i-th citizen comment under the root (author a{i} unless given, one minute apart)."""
    values: dict[str, Any] = {
        "id": f"{ROOT_ID}:c{i}",
        "parent_id": ROOT_ID,
        "thread_id": ROOT_ID,
        "author_id": f"a{i}",
        "published_at": BASE_TIME + timedelta(minutes=i),
        "tone": tone,
        "tone_score": -0.8 if tone == Tone.negative else 0.0,
        "aggression": aggression,
        "aggression_markers": [],
        "kind": Kind.complaint if tone == Tone.negative else Kind.information,
        "is_official": False,
    }
    values.update(extra)
    return make_post(**values)


def answer(i: int) -> Post:
    """Return the page's own reply under the root."""
    return comment(i, is_official=True, author_id=None, tone=Tone.neutral)


def test_calm_thread_is_not_a_conflict() -> None:
    comments = [comment(i) for i in range(12)]
    a = assess_thread(root(), comments)
    assert not a.is_conflict
    assert a.thread_id == ROOT_ID
    assert (a.comments, a.authors) == (12, 12)
    assert a.score == 0.0
    assert a.severity == 1  # 1 + 9 × 0, and 12 comments < 2 × 8: no volume bonus
    assert a.worst_post_ids == [] and a.signals == []
    assert a.official_page


def test_a_thread_of_complaints_is_negative_but_not_a_conflict() -> None:
    # The old score (0.4 × negative share) flagged exactly this: 40 people complaining, all negative.
    comments = [comment(i, tone=Tone.negative) for i in range(40)]
    a = assess_thread(root(), comments)
    assert a.negative_share == 1.0
    assert a.parts["negativity"] == 1.0
    assert a.score == pytest.approx(0.10 + 0.10 * (a.parts["rising"]), abs=1e-4)
    assert a.signals == [] and not a.is_conflict


def test_hand_computed_conflict_under_an_official_post() -> None:
    # 12 comments by 10 authors under the page's post; the page answers (c4) and is argued with.
    comments = [comment(i, author_id=f"a{i % 10}") for i in range(4)]
    comments += [
        answer(4),
        comment(5, tone=Tone.negative, parent_id=f"{ROOT_ID}:c4", author_id="a5"),
        comment(6, tone=Tone.neutral, parent_id=f"{ROOT_ID}:c4", author_id="a6"),
        comment(7, tone=Tone.negative, aggression=0.7, aggression_markers=["insult"], author_id="a7"),
        comment(8, tone=Tone.negative, aggression_markers=["threat_escalation"], author_id="a8"),
        comment(9, tone=Tone.negative, aggression=0.3, aggression_markers=["obscenity"], author_id="a9"),
        comment(10, tone=Tone.negative, aggression_markers=["threat_escalation"], author_id="a0"),
        comment(11, aggression_markers=["collective_action", "official_mention"], author_id="a1"),
        comment(12, tone=Tone.positive, kind=Kind.gratitude, parent_id=f"{ROOT_ID}:c4", author_id="a2"),
    ]
    a = assess_thread(root(), comments)
    assert (a.comments, a.authors) == (12, 9)  # the page's answer is not a citizen comment; a4 never wrote
    assert a.negative_share == pytest.approx(5 / 12, abs=1e-4)  # c5, c7, c8, c9, c10
    assert a.hostile_authors == 2  # a7 (insult, aggression 0.7) and a9 (obscenity)
    assert a.escalating_authors == 3  # a8, a0, a1
    assert a.contested_replies == 2  # c5 and c6 argue with the answer; c12 thanks it
    assert a.aggressive_share == pytest.approx(2 / 12, abs=1e-4)
    # Thirds of 4 (by time): c0..c3 → none hostile or negative; c9..c12 → c9 and c10: 2 of 4.
    assert a.first_third_hostile == 0.0 and a.last_third_hostile == 0.5 and a.rising
    assert a.parts == {
        "hostility": pytest.approx(2 / 3, abs=1e-4),
        "escalation": 1.0,
        "arguing": pytest.approx(2 / 3, abs=1e-4),
        "negativity": pytest.approx((5 / 12 - 0.3) / 0.4, abs=1e-4),
        "rising": 1.0,
    }
    expected = 0.30 * 2 / 3 + 0.25 * 1.0 + 0.25 * 2 / 3 + 0.10 * (5 / 12 - 0.3) / 0.4 + 0.10
    assert a.score == pytest.approx(expected, abs=1e-4)
    assert a.signals == ["hostility", "escalation", "arguing"]
    assert a.is_conflict
    assert a.severity == round(1 + 9 * a.score)
    # Worst first: hostile ones (c7 aggression 0.7 before c9), then the escalating/arguing ones.
    assert a.worst_post_ids[:2] == [f"{ROOT_ID}:c7", f"{ROOT_ID}:c9"]
    assert f"{ROOT_ID}:c12" not in a.worst_post_ids and len(a.worst_post_ids) == 5


def test_one_angry_author_is_not_a_conflict() -> None:
    # Ten insults and threats from one person, the rest calm: every signal counts distinct authors.
    angry = [
        comment(
            i,
            tone=Tone.negative,
            aggression=0.9,
            aggression_markers=["insult", "threat_escalation"],
            author_id="troll",
        )
        for i in range(10)
    ]
    calm = [comment(10 + i) for i in range(10)]
    a = assess_thread(root(), angry + calm)
    assert a.hostile_authors == 1 and a.escalating_authors == 1
    assert a.signals == [] and not a.is_conflict


def test_two_signals_needed_and_stricter_off_the_official_pages() -> None:
    def hostile_and_escalating(i: int) -> Post:
        if i % 2:
            return comment(i, tone=Tone.negative, aggression=0.6, aggression_markers=["insult"])
        return comment(i, aggression=0.2, aggression_markers=["threat_escalation"])

    comments = [hostile_and_escalating(i) for i in range(8)] + [comment(8 + i) for i in range(4)]
    official = assess_thread(root(), comments)
    assert official.signals == ["hostility", "escalation"]
    # hostility 4/3 → 1, escalation 4/3 → 1, negativity (4/12 − 0.3)/0.4, no answers to argue with.
    assert official.score == pytest.approx(0.30 + 0.25 + 0.10 * (4 / 12 - 0.3) / 0.4, abs=1e-3)
    assert official.score < 0.6
    assert official.is_conflict  # ≥ 0.5 under an official page's post
    community = assess_thread(root(is_official=False, page_id=None), comments)
    assert not community.official_page and not community.is_conflict  # 0.6 needed elsewhere
    # Only one signal (hostility), however strong: not a conflict.
    only_hostile = [
        comment(i, tone=Tone.negative, aggression=0.9, aggression_markers=["insult"]) for i in range(12)
    ]
    single = assess_thread(root(), only_hostile)
    assert single.signals == ["hostility"] and not single.is_conflict


def test_a_big_thread_needs_more_hostile_authors() -> None:
    # Three hostile and three escalating authors among 100 are 3 / 15 of what saturates the parts.
    comments = [
        comment(i, tone=Tone.negative, aggression_markers=["insult"] if i < 3 else []) for i in range(100)
    ]
    for i in range(3, 6):
        comments[i] = comment(i, tone=Tone.negative, aggression_markers=["threat_escalation"])
    a = assess_thread(root(), comments)
    assert a.parts["hostility"] == pytest.approx(3 / 15) and a.parts["escalation"] == pytest.approx(3 / 15)
    assert a.signals == ["hostility", "escalation"] and not a.is_conflict


def test_too_few_comments_or_authors() -> None:
    def furious(i: int, **extra: Any) -> Post:
        return comment(
            i, tone=Tone.negative, aggression=0.8, aggression_markers=["insult", "threat_escalation"], **extra
        )

    few = assess_thread(root(), [furious(i) for i in range(7)])
    assert few.signals == ["hostility", "escalation"] and not few.is_conflict  # 7 < min_comments 8
    assert assess_thread(root(), [furious(i) for i in range(7)], min_comments=7).is_conflict
    same_people = [furious(i, author_id=f"a{i % 4}") for i in range(12)]
    assert not assess_thread(root(), same_people).is_conflict  # 4 authors < 5
    assert assess_thread(root(), same_people, min_authors=4).is_conflict


def test_arguing_counts_replies_to_the_pages_comments_not_to_the_root() -> None:
    comments = [answer(0), answer(1)]
    comments += [comment(i, parent_id=f"{ROOT_ID}:c0") for i in range(2, 5)]  # neutral replies argue too
    comments += [comment(5, tone=Tone.positive, parent_id=f"{ROOT_ID}:c1")]  # approving: not arguing
    comments += [comment(6, kind=Kind.gratitude, parent_id=f"{ROOT_ID}:c1")]  # thanks: not arguing
    comments += [comment(i, tone=Tone.negative) for i in range(7, 12)]  # replies to the root itself
    a = assess_thread(root(), comments)
    assert a.contested_replies == 3
    assert a.parts["arguing"] == 1.0


def test_negative_without_label_uses_tone_score_and_no_root() -> None:
    comments = [
        comment(
            i, tone=None, tone_score=-0.5 if i < 6 else 0.2, aggression_markers=["insult"] if i < 2 else []
        )
        for i in range(10)
    ]
    for c in comments:
        assert c.tone is None
    a = assess_thread(None, comments)
    assert a.thread_id == ROOT_ID
    assert a.negative_share == 0.6
    assert not a.official_page  # no root: cannot tell, judged as off the official pages
    assert a.hostile_authors == 2


def test_volume_bonus_and_empty_thread() -> None:
    empty = assess_thread(root(), [])
    assert (empty.comments, empty.authors, empty.score, empty.is_conflict) == (0, 0, 0.0, False)
    assert empty.first_at is None and empty.last_at is None and empty.thread_id == ROOT_ID
    calm16 = assess_thread(root(), [comment(i) for i in range(16)])
    calm32 = assess_thread(root(), [comment(i) for i in range(32)])
    assert (calm16.severity, calm32.severity) == (2, 3)  # 1 + 1 at 2 × 8, + 2 at 4 × 8


def test_unknown_authors_count_as_one() -> None:
    comments = [
        comment(
            i,
            author_id=None,
            tone=Tone.negative,
            aggression=0.9,
            aggression_markers=["insult", "threat_escalation"],
        )
        for i in range(12)
    ]
    a = assess_thread(root(), comments)
    assert a.authors == 1 and a.hostile_authors == 1 and not a.is_conflict
