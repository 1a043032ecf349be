"""Tests for risk.understand: the Understander, its ordered stages and robustness."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from index.models import Kind, Post, Tone
from risk.understand import DEFAULT_STAGES, STAGE_BUILDERS, Context, Understander, register_stage
from tests.risk.test_places import PROFILE

_counter = iter(range(1, 10**9))


def make_post(text: str, **overrides: object) -> Post:
    n = next(_counter)
    fields: dict[str, object] = {
        "id": f"test:{n}",
        "source": "vk",
        "source_id": str(n),
        "published_at": datetime(2026, 1, 12, 10, tzinfo=UTC),
        "text": text,
    }
    fields.update(overrides)
    return Post.model_validate(fields)


@pytest.fixture(scope="module")
def understander() -> Understander:
    return Understander(PROFILE)


def test_complaint_is_fully_understood(understander: Understander) -> None:
    post = make_post("Третий день нет горячей воды на ул. Ленина 15, когда дадут??")
    out = understander.understand(post)
    assert out is not post and post.sector is None  # a copy; the input is untouched
    assert out.sector == "ЖКХ" and out.topic == "Отсутствие горячей воды"
    assert out.kind is Kind.complaint
    assert out.tone is Tone.negative and out.tone_score <= -0.3
    assert out.places[0].name == "ул. Ленина" and out.places[0].house == "15"
    assert out.territory == "central"
    assert "горячий" in out.lemmas.split() and "на" not in out.lemmas.split()
    assert not out.needs_review
    assert 0.5 < out.sector_confidence <= 1.0


def test_conflict_comment(understander: Understander) -> None:
    out = understander.understand(make_post("[id1|Глава], вы все бездельники и воры!!! пойдём в прокуратуру"))
    assert out.aggression >= 0.5
    assert {"insult", "threat_escalation", "official_mention"} <= set(out.aggression_markers)


def test_official_post_is_information(understander: Understander) -> None:
    out = understander.understand(
        make_post("Внимание! Завтра нет воды на Ленина с 9 до 17", is_official=True)
    )
    assert out.kind is Kind.information
    assert out.sector == "ЖКХ"


@pytest.mark.parametrize(
    "text",
    ["", "   ", "😀😀😀", "hello world, how are you", "12345 !!! ???", "<p></p>&nbsp;", "ж" * 1_000_000],
)
def test_degenerate_texts_have_a_defined_result(understander: Understander, text: str) -> None:
    out = understander.understand(make_post(text))
    assert out.sector is None and out.topic is None and out.sector_confidence == 0.0
    assert out.kind is Kind.information
    assert out.tone in (Tone.neutral, Tone.positive)  # emoji may be positive
    assert out.places == [] and out.territory is None
    assert not out.needs_review


def test_megabyte_post_is_fast(understander: Understander) -> None:
    text = "На Садовой 3 мусор не вывозят, яма у подъезда. " * 22_000  # about 1 MB
    start = time.perf_counter()
    out = understander.understand(make_post(text))
    assert time.perf_counter() - start < 2.0
    assert out.sector is not None


def test_batch_keeps_order_and_survives_a_failing_stage() -> None:
    calls: list[int] = []

    @register_stage("test_boom")
    def _boom(u: Understander):
        def run(ctxs: list[Context]) -> None:
            calls.append(len(ctxs))
            for ctx in ctxs:
                if "взрыв" in ctx.doc.text:
                    raise RuntimeError("boom")
                ctx.out["story_id"] = "ok"

        return run

    try:
        u = Understander(PROFILE, stages={"test_boom": 650})
        posts = [make_post("яма на дороге"), make_post("взрыв"), make_post("нет света")]
        out = u.understand_many(posts)
    finally:
        STAGE_BUILDERS.pop("test_boom")
    assert [p.id for p in out] == [p.id for p in posts]
    assert calls == [3, 1, 1, 1]  # the batch, then one by one
    assert out[0].story_id == "ok" and out[1].story_id is None and out[2].story_id == "ok"
    assert out[1].kind is Kind.information  # the other stages still ran


def test_stages_can_be_dropped_and_unknown_ones_are_refused() -> None:
    u = Understander(PROFILE, stages={"places": None, "aggression": None})
    assert "places" not in u.stage_order and u.stage_order[0] == "lemmas"
    out = u.understand(make_post("дебилы, на ул. Ленина 5 яма"))
    assert out.places == [] and out.aggression == 0.0
    with pytest.raises(ValueError, match="неизвестные стадии"):
        Understander(stages={"nope": 1})
    assert list(DEFAULT_STAGES) == sorted(DEFAULT_STAGES, key=DEFAULT_STAGES.__getitem__)


def test_register_stage_refuses_duplicates() -> None:
    with pytest.raises(ValueError, match="уже зарегистрирована"):
        register_stage("sector")(lambda u: lambda ctxs: None)


def test_complaint_without_sector_needs_review(understander: Understander) -> None:
    out = understander.understand(make_post("Прошу принять меры, безобразие творится уже месяц"))
    assert out.kind is Kind.complaint and out.sector is None and out.needs_review


def test_throughput_is_well_above_300_posts_per_second(understander: Understander) -> None:
    texts = [
        "Третий день нет горячей воды на ул. Ленина 15, когда дадут??",
        "На Мира огромная яма, все машины бьют",
        "мусор не вывозят неделю во дворе Садовой 3",
        "Спасибо за новую площадку во дворе! 👍",
        "Подскажите, во сколько откроется МФЦ?",
        "вы там все бездельники в администрации, пойдём в прокуратуру",
    ]
    posts = [make_post(f"{texts[i % len(texts)]} {i}") for i in range(1500)]
    understander.understand_many(posts[:100])  # warm the caches
    start = time.process_time()  # CPU time: the machine may be shared with other jobs
    understander.understand_many(posts)
    rate = len(posts) / (time.process_time() - start)
    assert rate >= 300, f"{rate:.0f} posts per CPU second"


def test_appeals_of_the_portal_use_the_appeals_prior(understander: Understander) -> None:
    text = "Когда наконец примут меры, сколько можно ждать ответа"
    social = understander.understand(make_post(text))
    portal = understander.understand(make_post(text, source="pos"))
    assert social.sector is None
    assert portal.sector == "ЖКХ"
    assert portal.needs_review is True
    everything = Understander(appeals=True).understand(make_post(text))
    assert everything.sector == "ЖКХ"
