"""The text pipeline (Understander.understand_many) on arbitrary Unicode, control characters, enormous
and empty texts: every post comes back, in order, with sound fields, storable, and no stage fails."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawlers.demo import DEMO_PROFILE_PATH
from index.models import Post
from index.profile import load_profile
from risk.understand import Understander
from tests.fuzz.budget import fuzz

T0 = datetime(2024, 3, 6, 10, tzinfo=UTC)
RUSSIAN = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ"
HOSTILE_PIECES = [
    "нет горячей воды",
    "ул. Ленина, д. 5",
    "сволочи!!!",
    "<script>alert(1)</script>",
    "<!--",
    "]]>",
    "\x00",
    "\x1b[31m",
    "\u202e",
    "\ufeff",
    "\u0301",
    "👍🏿",
    "\U0001f1f7\U0001f1fa",
    "ё" * 300,
    "Ё.Ё.Ё.",
    "http://",
    "@id123",
    "[id1|Вася]",
    "#хэштег",
    "\r\n\r\n",
    "\t",
    " " * 50,
]

texts = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
    st.text(alphabet=st.sampled_from(RUSSIAN + " .,!?-\n"), max_size=400),
    st.lists(st.sampled_from(HOSTILE_PIECES), max_size=12).map(" ".join),
    st.just(""),
)


@pytest.fixture(scope="module")
def understander() -> Understander:
    return Understander(load_profile(DEMO_PROFILE_PATH))


def _post(n: int, text: str) -> Post:
    return Post(id=f"fuzz:{n}", source="vk", source_id=str(n), published_at=T0, text=text)


def check(understander: Understander, posts: list[Post], caplog: pytest.LogCaptureFixture) -> None:
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="risk.understand"):
        out = understander.understand_many(posts)
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not failures, failures
    assert [p.id for p in out] == [p.id for p in posts]
    for before, after in zip(posts, out, strict=True):
        assert after.text == before.text  # understanding never rewrites what was said
        assert 0.0 <= after.aggression <= 1.0
        assert -1.0 <= after.tone_score <= 1.0
        assert 0.0 <= after.sector_confidence <= 1.0
        assert after.kind is not None and after.tone is not None
        for place in after.places:
            if place.span is not None:
                assert 0 <= place.span[0] <= place.span[1]
        Post.model_validate_json(after.model_dump_json())


@given(st.lists(texts, min_size=1, max_size=6))
@fuzz(60)
def test_arbitrary_texts(
    understander: Understander, caplog: pytest.LogCaptureFixture, batch: list[str]
) -> None:
    check(understander, [_post(i, t) for i, t in enumerate(batch)], caplog)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\x00" * 1000,
        "".join(chr(c) for c in range(32)) * 10,
        "нет воды " * 20_000,  # 180,000 characters
        "а" * 200_000,  # one enormous word
        "<div>" * 20_000,
        "<!--" + "x" * 100_000,
        "ул. Ленина, " * 5_000,
        "!" * 50_000,
    ],
    ids=["empty", "space", "nul", "controls", "long", "word", "tags", "comment", "streets", "bangs"],
)
def test_extreme_texts_in_one_batch(
    understander: Understander, caplog: pytest.LogCaptureFixture, text: str
) -> None:
    posts = [_post(0, "Нет горячей воды на улице Ленина"), _post(1, text), _post(2, "Спасибо за площадку")]
    check(understander, posts, caplog)


def test_an_empty_batch(understander: Understander) -> None:
    assert understander.understand_many([]) == []
