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
    # 14 comments by 12 authors under the page's post; the page answers (c4) and is argued with.
    comments = [comment(i) for i in range(4)]
    comments += [
        answer(4),
        comment(5, tone=Tone.negative, parent_id=f"{ROOT_ID}:c4"),
        comment(6, tone=Tone.neutral, parent_id=f"{ROOT_ID}:c4"),
        comment(7, tone=Tone.negative, aggression=0.7, aggression_markers=["insult"]),
        comment(8, tone=Tone.negative, aggression_markers=["threat_escalation"]),
        comment(9, tone=Tone.negative, aggression=0.6, aggression_markers=["obscenity"]),
        comment(10, tone=Tone.negative, aggression_markers=["threat_escalation"]),
        comment(11, aggression_markers=["collective_action", "official_mention"]),
        comment(12, tone=Tone.positive, kind=Kind.gratitude, parent_id=f"{ROOT_ID}:c4", author_id="a2"),
        comment(13, tone=Tone.neutral, parent_id=f"{ROOT_ID}:c4", author_id="a12"),
        # Bare obscenity (its stems also hit "хулиганы"): not hostile without more aggression.
        comment(14, tone=Tone.negative, aggression=0.4, aggression_markers=["obscenity"], author_id="a1"),
    ]
    a = assess_thread(root(), comments)
    assert (a.comments, a.authors) == (14, 12)  # the page's answer is not a citizen comment
    assert a.negative_share == pytest.approx(6 / 14, abs=1e-4)  # c5, c7, c8, c9, c10, c14
    assert a.hostile_authors == 2  # a7 (insult) and a9 (obscenity with aggression 0.6), not a1
    assert a.escalating_authors == 3  # a8, a10, a11
    assert a.contested_replies == 3  # c5, c6, c13 argue with the answer; c12 thanks it
    assert a.aggressive_share == pytest.approx(2 / 14, abs=1e-4)
    # Thirds of 4 (by time): c0..c3 → none hostile or negative; c11..c14 → c14: 1 of 4.
    assert a.first_third_hostile == 0.0 and a.last_third_hostile == 0.25 and a.rising
    negativity = (6 / 14 - 0.3) / 0.4
    assert a.parts == {
        "hostility": pytest.approx(2 / 3, abs=1e-4),
        "escalation": 1.0,
        "arguing": 1.0,
        "negativity": pytest.approx(negativity, abs=1e-4),
        "rising": 1.0,
    }
    assert a.score == pytest.approx(0.30 * 2 / 3 + 0.25 + 0.25 + 0.10 * negativity + 0.10, abs=1e-4)
    assert a.signals == ["escalation", "arguing"]  # two hostile authors are not yet a signal (3 needed)
    assert a.is_conflict and a.complaint_share == pytest.approx(6 / 14, abs=1e-4)
    assert a.severity == round(1 + 9 * a.score)
    # Worst first: hostile (c7 aggression 0.7, c9), then arguing or escalating negative ones by time.
    assert a.worst_post_ids == [f"{ROOT_ID}:c{i}" for i in (7, 9, 5, 8, 10)]


def test_a_pile_on_of_complaints_needs_people_arguing_with_the_answer() -> None:
    # Neighbours complaining about hooligans and the police: hostile and escalating words, all complaints.
    def complaint(i: int, **extra: Any) -> Post:
        return comment(
            i,
            tone=Tone.negative,
            aggression=0.6,
            aggression_markers=["insult", "threat_escalation"],
            kind=Kind.complaint,
            **extra,
        )

    pile = [complaint(i) for i in range(12)]
    a = assess_thread(root(), pile)
    assert a.signals == ["hostility", "escalation"] and a.complaint_share == 1.0
    assert a.score >= 0.5 and not a.is_conflict
    # The page answers and people argue with it: now it is a conflict.
    argued = [*pile, answer(20), *(complaint(21 + i, parent_id=f"{ROOT_ID}:c20") for i in range(3))]
    b = assess_thread(root(), argued)
    assert "arguing" in b.signals and b.is_conflict


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
            i,
            tone=Tone.negative,
            aggression=0.8,
            aggression_markers=["insult", "threat_escalation"],
            kind=Kind.information,
            **extra,
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
