"""Tests for risk.text: cleaning social-media markup, tokens, cached lemmas, the phrase matcher."""

from __future__ import annotations

import time

from risk.text import (
    MAX_TEXT_CHARS,
    STOP_WORDS,
    PhraseMatcher,
    analyse,
    clean,
    forms,
    lemma,
    lemmas,
    parse_weighted,
    query_lemmas,
    tokens,
)


def test_clean_strips_html_tags_entities_and_keeps_line_breaks() -> None:
    raw = "<p>Нет&nbsp;воды&hellip;</p><br/>Когда&nbsp;дадут? <span style='color:red'>Ленина&nbsp;5</span>"
    assert clean(raw) == "Нет воды…\nКогда дадут? Ленина 5"


def test_clean_handles_escaped_markup() -> None:
    assert clean("яма&lt;br&gt;на дороге") == "яма\nна дороге"


def test_clean_replaces_vk_mentions_with_names() -> None:
    assert clean("[id123|Ольга], [club45|Администрация] ответьте") == "Ольга, Администрация ответьте"
    assert clean("@id77 (Пётр) согласен") == "Пётр согласен"


def test_clean_removes_urls_and_hashtag_signs() -> None:
    text = clean("Смотрите https://vk.com/wall-1_2?x=1 и www.example.ru/page и vk.cc/abc #Заречинск #ЖКХ")
    assert "http" not in text and "vk.com" not in text and "www" not in text and "vk.cc" not in text
    assert text == "Смотрите и и Заречинск ЖКХ"


def test_clean_cuts_promo_tails_but_not_a_text_that_is_only_promo() -> None:
    news = "В городе отремонтировали мост через реку.\nПодписывайтесь на наш канал, чтобы быть в курсе!"
    assert clean(news) == "В городе отремонтировали мост через реку."
    assert (
        clean("Яма на Мира до сих пор не заделана. Источник: читатели")
        == "Яма на Мира до сих пор не заделана."
    )
    assert clean("Подписывайтесь!") == "Подписывайтесь!"


def test_clean_collapses_whitespace_and_invisible_characters() -> None:
    assert clean("  нет\u200b  света \t\t\n\n\n  третий   день  ") == "нет света\nтретий день"


def test_clean_empty_and_emoji_only() -> None:
    assert clean("") == ""
    assert clean("😀😀") == "😀😀"


def test_clean_cuts_huge_input_fast() -> None:
    huge = "<p>" + "мусор не вывозят " * 70_000 + "</p>"  # about 1.2 MB
    start = time.perf_counter()
    out = clean(huge)
    assert time.perf_counter() - start < 1.0
    assert 0 < len(out) <= MAX_TEXT_CHARS


def test_tokens_lowercase_and_yo() -> None:
    assert tokens("Ещё ЁЛКА, пр-т Мира 5а!") == ["еще", "елка", "пр-т", "мира", "5", "а"]


def test_lemmas_drop_stop_words_and_normalise_forms() -> None:
    got = lemmas("Третий день нет горячей воды на улице Ленина, когда дадут??")
    assert got == ["третий", "день", "горячий", "вода", "улица", "ленин", "дать"]
    assert not set(got) & STOP_WORDS


def test_lemmas_prefer_the_likelier_lemma() -> None:
    assert forms("ямы")[0] == "яма"
    assert lemma("Дорогами") == "дорога"
    assert lemmas("Ёлки во дворах") == ["елка", "двор"]


def test_lemmas_survive_typos_emoji_and_latin() -> None:
    got = lemmas("мусар ни вывазят 😡😡 ok")  # typos get pymorphy's guessed lemmas, not errors
    assert len(got) == 3 and got[-1] == "ok" and all(w.isalpha() for w in got)
    assert lemmas("") == []
    assert lemmas("😀🔥") == []


def test_query_lemmas_dedupe_and_keep_something() -> None:
    assert query_lemmas("ямы на дороге, ямы во дворах") == ["яма", "дорога", "двор"]
    assert query_lemmas("не на") == ["не", "на"]


def test_analyse_keeps_spans_and_candidates() -> None:
    doc = analyse("<b>Яма</b> на Мира")
    assert doc.text == "Яма на Мира"
    assert doc.words == ["яма", "на", "мира"]
    assert doc.text[doc.spans[2][0] : doc.spans[2][1]] == "Мира"
    assert "мир" in doc.lemma_set
    assert doc.content_lemmas() == ["яма", "мир"]


def test_analyse_ignores_absurdly_long_tokens() -> None:
    doc = analyse("ж" * 5000 + " яма")
    assert doc.words == ["яма"]


def test_parse_weighted() -> None:
    assert parse_weighted("яма=2.5") == ("яма", 2.5)
    assert parse_weighted("яма") == ("яма", 1.0)
    assert parse_weighted("a=b", 0.5) == ("a=b", 0.5)


def test_phrase_matcher_prefers_longest_and_reports_positions() -> None:
    m = PhraseMatcher()
    m.add("горячая вода", 2.0, "hot")
    m.add("вода", 1.0, "water")
    m.add("нет", 0.5, "neg")
    hits = m.find(analyse("Нет горячей воды, вода ржавая"))
    assert [(h.label, h.start, h.end) for h in hits] == [("neg", 0, 1), ("hot", 1, 3), ("water", 3, 4)]


def test_clean_drops_comments_scripts_and_styles_in_linear_time() -> None:
    assert clean("a<!-- c -->b<script>var x = 1;</script>c<STYLE>p {}</STYLE>d") == "a b c d"
    assert clean("текст <!-- без конца") == "текст без конца"
    for hostile in ("<script>" * 12_000, "<!--" * 20_000, "<style>" * 10_000 + "x", "<a " * 30_000):
        start = time.perf_counter()
        clean(hostile)
        assert time.perf_counter() - start < 0.5, hostile[:10]
