"""Tests for conflict detection in comment threads."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from index.models import Post, Tone
from risk.conflicts import assess_thread
from tests.factories import BASE_TIME, make_post

ROOT_ID = "vk:-1_100"


def root() -> Post:
    """Return an official page's post."""
    return make_post(id=ROOT_ID, is_official=True, page_id="vk-admin", thread_id=ROOT_ID, tone=Tone.neutral)


def comment(i: int, *, tone: Tone = Tone.neutral, aggression: float = 0.0, **extra: Any) -> Post:
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
    }
    values.update(extra)
    return make_post(**values)


def test_calm_thread_is_not_a_conflict() -> None:
    comments = [comment(i) for i in range(12)]
    a = assess_thread(root(), comments)
    assert not a.is_conflict
    assert a.thread_id == ROOT_ID
    assert (a.comments, a.authors) == (12, 12)
    assert a.score == 0.0
    assert a.severity == 1  # 1 + 9 × 0, and 12 comments < 2 × 8: no volume bonus
    assert a.worst_post_ids == []


def test_hand_computed_conflict() -> None:
    # 12 comments by 10 authors: 6 negative (3 of them aggressive), 2 threats, 1 collective call,
    # calm at first and hostile at the end.
    comments = [comment(i, author_id=f"a{i % 10}") for i in range(5)]
    comments += [
        comment(5, tone=Tone.negative, author_id="a5"),
        comment(6, tone=Tone.negative, author_id="a6"),
        comment(7, tone=Tone.negative, aggression=0.7, aggression_markers=["insult"], author_id="a7"),
        comment(8, tone=Tone.negative, aggression_markers=["threat_escalation"], author_id="a8"),
        comment(
            9, tone=Tone.negative, aggression=0.9, aggression_markers=["insult", "obscenity"], author_id="a9"
        ),
        comment(
            10, tone=Tone.negative, aggression=0.6, aggression_markers=["threat_escalation"], author_id="a0"
        ),
        comment(11, aggression_markers=["collective_action", "official_mention"], author_id="a1"),
    ]
    a = assess_thread(root(), comments)
    assert (a.comments, a.authors) == (12, 10)
    assert a.negative_share == 0.5
    assert a.aggressive_share == pytest.approx(3 / 12, abs=1e-4)
    assert a.markers == {
        "collective_action": 1,
        "insult": 2,
        "obscenity": 1,
        "official_mention": 1,
        "threat_escalation": 2,
    }
    assert a.escalating == 3
    # Thirds of 4: first 0/4 hostile, last (8..11) 3/4 hostile (11 is neither negative nor aggressive).
    assert a.first_third_hostile == 0.0
    assert a.last_third_hostile == 0.75
    assert a.rising
    expected = 0.4 * 6 / 12 + 0.3 * 3 / 12 + 0.1 * 1.0 + 0.0 + 0.1  # 0.475
    assert a.score == pytest.approx(expected, abs=1e-4)
    assert a.is_conflict
    assert a.severity == round(1 + 9 * expected)  # 12 < 16: no volume bonus
    # Worst: by aggression, then negativity (lower tone score first).
    assert a.worst_post_ids[:3] == [f"{ROOT_ID}:c9", f"{ROOT_ID}:c7", f"{ROOT_ID}:c10"]
    assert len(a.worst_post_ids) == 5
    assert a.first_at == comments[0].published_at
    assert a.last_at == comments[-1].published_at


def test_too_few_comments_or_authors() -> None:
    hostile = [comment(i, tone=Tone.negative, aggression=0.8) for i in range(7)]
    assert not assess_thread(root(), hostile).is_conflict  # 7 < 8 comments
    same_authors = [comment(i, tone=Tone.negative, aggression=0.8, author_id=f"a{i % 4}") for i in range(20)]
    a = assess_thread(root(), same_authors)
    assert a.authors == 4
    assert not a.is_conflict
    assert assess_thread(root(), same_authors, min_authors=4).is_conflict


def test_official_answers_and_contested_replies() -> None:
    answer = make_post(
        id=f"{ROOT_ID}:c100",
        parent_id=f"{ROOT_ID}:c0",
        thread_id=ROOT_ID,
        is_official=True,
        tone=Tone.neutral,
        published_at=BASE_TIME + timedelta(minutes=3),
    )
    comments = [comment(i, tone=Tone.negative if i < 5 else Tone.neutral) for i in range(10)]
    comments += [
        comment(
            20 + i, tone=Tone.negative, parent_id=answer.id, published_at=BASE_TIME + timedelta(minutes=4 + i)
        )
        for i in range(3)
    ]
    comments.append(comment(30, tone=Tone.positive, parent_id=answer.id))
    a = assess_thread(root(), [*comments, answer])
    assert a.comments == 14  # the page's answer is not counted
    assert a.contested_replies == 3
    assert a.negative_share == pytest.approx(8 / 14, abs=1e-4)
    # 0.4 × 8/14 + 0.1 (contested saturated); thirds of 4: (c0..c3, c20 after c3) vs latest → not rising.
    assert a.score >= 0.4 * 8 / 14 + 0.1 - 1e-9
    assert a.is_conflict


def test_negative_without_label_uses_tone_score_and_no_root() -> None:
    comments = [comment(i, tone=Tone.neutral) for i in range(9)]
    unlabelled = [c.model_copy(update={"tone": None, "tone_score": -0.5}) for c in comments]
    a = assess_thread(None, unlabelled)
    assert a.thread_id == ROOT_ID
    assert a.negative_share == 1.0
    assert a.score == pytest.approx(0.4)
    assert a.is_conflict


def test_volume_bonus_and_empty_thread() -> None:
    many = [comment(i, tone=Tone.negative) for i in range(40)]
    a = assess_thread(root(), many)
    assert a.severity == min(10, round(1 + 9 * 0.4) + 2)
    empty = assess_thread(root(), [])
    assert (empty.comments, empty.is_conflict, empty.score) == (0, False, 0.0)
    assert empty.first_at is None
