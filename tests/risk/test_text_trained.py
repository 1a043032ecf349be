"""Tests for risk.trained: train, cross-validate, save/load, and the Understander using trained models."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from index.models import Post, Tone
from risk.trained import (
    ModelError,
    TrainedModel,
    TrainedModels,
    binarise_aggression,
    cross_validate,
    load_model,
    tone_from_proba,
    train,
)
from risk.understand import Understander

_TEMPLATES = {
    "ЖКХ": ["нет горячей воды {d} день", "батареи холодные, отопления нет", "течёт крыша в подъезде {d}"],
    "Дороги": [
        "яма на дороге у дома {d}",
        "разбитый асфальт на улице, колёса бьём",
        "нет разметки на перекрёстке {d}",
    ],
    "Образование": [
        "в школе {d} нет учителя физики",
        "очередь в детский сад огромная",
        "учебники не выдали в классе",
    ],
}


def labelled(n_per_class: int = 20, seed: int = 1) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for label, templates in _TEMPLATES.items():
        for _ in range(n_per_class):
            texts.append(
                rng.choice(templates).format(d=rng.randint(1, 99)) + rng.choice(["", "!", " когда уже?"])
            )
            labels.append(label)
    return texts, labels


def test_train_predict_round_trip(tmp_path: Path) -> None:
    texts, labels = labelled()
    model = train("topics", texts, labels)
    assert sorted(model.labels) == sorted(_TEMPLATES)
    label, prob = model.predict(["опять нет горячей воды в доме"])[0]
    assert label == "ЖКХ" and 0.33 < prob <= 1.0
    path = tmp_path / "m.joblib"
    model.save(path)
    loaded = load_model(path)
    assert isinstance(loaded, TrainedModel)
    assert loaded.predict(["яма на дороге"])[0][0] == "Дороги"


def test_cross_validation_on_separable_data() -> None:
    texts, labels = labelled()
    cv = cross_validate("topics", texts, labels, folds=5)
    assert cv.folds == 5 and cv.n == 60 and cv.classes == 3
    assert cv.accuracy >= 0.9 and cv.macro_f1 >= 0.9 and cv.roc_auc is None


def test_bad_input_raises_russian_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="неизвестная задача"):
        train("colors", ["a", "b"], ["x", "y"])
    with pytest.raises(ModelError, match="два разных"):
        train("topics", ["a", "b"], ["x", "x"])
    with pytest.raises(ModelError, match="должно совпадать"):
        train("topics", ["a"], ["x", "y"])
    junk = tmp_path / "junk.joblib"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="не читается"):
        load_model(junk)
    with pytest.raises(ModelError, match="не найден"):
        load_model(tmp_path / "missing.joblib")


def test_aggression_labels_are_binarised() -> None:
    assert [binarise_aggression(x) for x in (0.9, "0.2", "да", "no", "1", 0)] == [
        "1",
        "0",
        "1",
        "0",
        "1",
        "0",
    ]


def test_bundle_and_understander_use_trained_models(tmp_path: Path) -> None:
    texts, labels = labelled()
    topics = train("topics", texts, labels)
    tone_texts = [
        "спасибо, отлично",
        "ужасно, позор",
        "автобус в 8",
        "класс, молодцы",
        "кошмар и бардак",
        "завтра среда",
    ] * 5
    tone_labels = ["positive", "negative", "neutral"] * 10
    tone = train("tone", tone_texts, tone_labels)
    bundle = TrainedModels()
    bundle.put(topics)
    bundle.put(tone)
    path = tmp_path / "bundle.joblib"
    bundle.save(path)
    loaded = TrainedModels.load(path)
    assert loaded.topics is not None and loaded.tone is not None and loaded.aggression is None
    u = Understander(model=loaded)
    post = Post(
        id="x",
        source="vk",
        source_id="x",
        published_at=datetime(2026, 1, 1, tzinfo=UTC),
        text="нет горячей воды",
    )
    out = u.understand(post)
    assert out.sector == "ЖКХ" and out.topic is not None  # a group label: the lexicon picks the topic
    row = tone.predict_proba(["спасибо, отлично"])[0]
    assert tone_from_proba(tone, row)[0] is Tone.positive
    empty = u.understand(post.model_copy(update={"text": ""}))
    assert empty.sector is None


def test_models_load_from_a_directory(tmp_path: Path) -> None:
    texts, labels = labelled(8)
    train("topics", texts, labels).save(tmp_path / "topics.joblib")
    assert TrainedModels.load(tmp_path).topics is not None
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelError, match="нет файлов"):
        TrainedModels.load(empty)


def test_feature_text_marks_negation_and_keeps_emoji() -> None:
    from risk.text import analyse
    from risk.trained import feature_text

    text = feature_text(analyse("Не нравится новый парк 😡 совсем не красиво!!!"))
    assert text.split()[:3] == ["не", "не_нравиться", "не_новый"]
    assert "не_красиво" in text and "EMO_😡" in text and "EMO_!!!" in text and "не_парк" not in text


def test_class_weights_balance_tone_fully_and_topics_halfway() -> None:
    from risk.trained import class_weights

    labels = ["a"] * 8 + ["b"] * 2
    tone = class_weights("tone", labels)
    assert tone[0] * 8 == pytest.approx(tone[-1] * 2)  # each class weighs the same in total
    topics = class_weights("topics", labels)
    assert topics[-1] / topics[0] == pytest.approx(2.0)  # sqrt of the 4x imbalance


def test_models_of_another_format_version_are_refused(tmp_path: Path) -> None:
    import joblib

    from risk.trained import MODEL_FORMAT

    path = tmp_path / "old.joblib"
    joblib.dump({"format": MODEL_FORMAT, "version": 1, "model": None}, path)
    with pytest.raises(ModelError, match="обучите её заново"):
        load_model(path)


def test_word_vectors_are_used_when_natasha_is_installed() -> None:
    texts, labels = labelled(6)
    with_vectors = train("topics", texts, labels)
    without = train("topics", texts, labels, embed=False)
    assert with_vectors.uses_embeddings and not without.uses_embeddings
    assert (
        with_vectors.predict(["нет горячей воды"])[0][0]
        == without.predict(["нет горячей воды"])[0][0]
        == "ЖКХ"
    )


def test_unsure_trained_sector_is_flagged_for_review() -> None:
    texts, labels = labelled()
    bundle = TrainedModels(topics=train("topics", texts, labels))
    u = Understander(model=bundle)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    sure = u.understand(Post(id="a", source="vk", source_id="a", published_at=at, text="нет горячей воды"))
    vague = u.understand(Post(id="b", source="vk", source_id="b", published_at=at, text="что-то случилось"))
    assert sure.sector_confidence >= 0.5 and not sure.needs_review
    assert vague.sector_confidence < 0.5 and vague.needs_review


def test_svm_strength_is_chosen_inside_the_training_data() -> None:
    import numpy as np
    import scipy.sparse as sp

    from risk.trained import C_GRID, C_VALUE, choose_c

    texts, labels = labelled(80)  # 240 texts: enough for the inner search
    model = train("topics", texts, labels, embed=False)
    assert model.meta["svm_c"] in C_GRID
    small_texts, small_labels = labelled(10)
    assert train("topics", small_texts, small_labels, embed=False).meta["svm_c"] == C_VALUE
    # A clean separable binary signal: every C ranks it perfectly, so the first one wins the tie.
    x = np.eye(2)[[0] * 120 + [1] * 120] + 0.01
    chosen = choose_c(sp.csr_matrix(x), ["0"] * 120 + ["1"] * 120, np.ones(240))
    assert chosen == C_GRID[0]


def test_nb_svm_votes_with_the_calibrated_svm() -> None:
    import numpy as np

    from risk.trained import NB_VOTE, fit_nb_svm, prepare

    texts, labels = labelled()
    model = train("topics", texts, labels, embed=False)
    assert model.nb is not None and model.meta["nb_vote"] == NB_VOTE["topics"] > 0
    assert model.nb.classes == model.labels
    queries = ["опять нет горячей воды", "яма на дороге, асфальт разбит", "в школе нет учителя"]
    prepared = prepare("topics", queries, embed=False)
    nb = model.nb.predict_proba(prepared)
    svm = model.classifier.predict_proba(model.features(prepared))
    both = model.proba(prepared)
    assert np.allclose(nb.sum(axis=1), 1.0) and np.allclose(both.sum(axis=1), 1.0)
    share = model.meta["nb_vote"]
    assert np.allclose(both, (1 - share) * svm + share * nb)
    assert [model.labels[i] for i in nb.argmax(axis=1)] == ["ЖКХ", "Дороги", "Образование"]
    # Two classes: one SVM, its squashed margin is P(positive).
    binary = fit_nb_svm(prepare("aggression", texts[:40], embed=False), labels[:40], np.ones(40))
    assert len(binary.models) == 1 and binary.classes == ["Дороги", "ЖКХ"]
    proba = binary.predict_proba(prepare("aggression", ["нет горячей воды", "яма на дороге"], embed=False))
    assert proba[0, 1] > 0.5 > proba[1, 1]


def test_no_nb_svm_when_its_vote_is_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    import risk.trained

    monkeypatch.setitem(risk.trained.NB_VOTE, "tone", 0.0)
    texts = ["отлично, спасибо", "ужасно, кошмар"] * 10
    model = train("tone", texts, ["positive", "negative"] * 10, embed=False)
    assert model.nb is None and model.meta["nb_vote"] == 0.0
    assert model.predict(["спасибо, отлично"])[0][0] == "positive"


def test_aggression_model_votes_with_the_lexicon_score() -> None:
    import numpy as np

    from risk.trained import LEXICON_VOTE, prepare

    calm = ["спасибо за ответ, всё понятно", "подскажите расписание автобуса", "хорошая погода сегодня"]
    rude = ["ты тупой урод, заткнись", "идиоты, сволочи, всех уволить", "мразь, я тебя найду"]
    texts = [t + f" {i}" for i in range(15) for t in calm + rude]
    labels = ["0", "0", "0", "1", "1", "1"] * 15
    model = train("aggression", texts, labels, embed=False)
    assert model.lexicon is not None and model.meta["lexicon_vote"] == LEXICON_VOTE["aggression"] > 0
    queries = ["какая хорошая погода", "заткнись, урод тупой"]
    prepared = prepare("aggression", queries, embed=False)
    lexicon = model.lexicon.predict_proba(prepared.dense[:, :1])
    assert lexicon[1, 1] > lexicon[0, 1]  # the packaged scorer alone already ranks the insult higher
    share = model.meta["lexicon_vote"]
    without = model.classifier.predict_proba(model.features(prepared))
    assert model.nb is not None
    nb_share = model.meta["nb_vote"]
    without = (1 - nb_share) * without + nb_share * model.nb.predict_proba(prepared)
    assert np.allclose(model.proba(prepared), (1 - share) * without + share * lexicon)
    assert [label for label, _ in model.predict(queries)] == ["0", "1"]
    # Topics and tone keep their own vote: no lexicon member there.
    topics = train("topics", *labelled(), embed=False)
    assert topics.lexicon is None and topics.meta["lexicon_vote"] == 0.0
