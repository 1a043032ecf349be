"""Trainable models for topics, tone and aggression: TF-IDF (lemmas + char n-grams) + a calibrated linear SVM.

A centre trains them on its own history (`infopole train`); the Understander uses them instead of the
lexicons. Model files are joblib pickles: load only files you made yourself (unpickling runs code).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import joblib
import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from index.models import Tone
from risk.text import analyse, clean, lemmas

Task = Literal["topics", "tone", "aggression"]
#: The tasks a model can be trained for.
TASKS: tuple[str, ...] = ("topics", "tone", "aggression")
#: Marks a joblib file as ours.
MODEL_FORMAT = "infopole-model"
MODEL_VERSION = 1
#: Labels (lowercase) read as the positive class of a binary aggression label.
AGGRESSIVE_LABELS = frozenset(
    {"1", "1.0", "true", "yes", "да", "toxic", "aggressive", "insult", "агрессия", "агрессивный"}
)
#: Label synonyms (lowercase) read as tones.
TONE_LABELS: dict[str, Tone] = {
    **dict.fromkeys(
        ["negative", "neg", "-1", "негатив", "негативный", "отрицательный", "отрицательная"], Tone.negative
    ),
    **dict.fromkeys(["neutral", "neu", "0", "нейтральный", "нейтральная", "нейтрально"], Tone.neutral),
    **dict.fromkeys(
        ["positive", "pos", "1", "позитив", "позитивный", "положительный", "положительная"], Tone.positive
    ),
}
#: Classes with fewer examples than this are dropped before training.
MIN_CLASS_EXAMPLES = 2
#: Inverse regularisation strength of the linear SVM (0.3-1.0 all work; chosen by 5-fold CV).
C_VALUE = 0.5
#: Folds of the sigmoid calibration that turns SVM margins into probabilities.
CALIBRATION_FOLDS = 3


class ModelError(ValueError):
    """A model cannot be trained, saved or loaded (the message is in Russian, for users)."""


def _lemma_text(text: str) -> str:
    """Return the space-joined lemmas of a raw text."""
    return " ".join(lemmas(clean(text)))


def binarise_aggression(label: object) -> str:
    """Return "1" for an aggressive label (a score ≥ 0.5 or a yes-like word), else "0"."""
    text = str(label).strip().lower()
    try:
        return "1" if float(text.replace(",", ".")) >= 0.5 else "0"
    except ValueError:
        return "1" if text in AGGRESSIVE_LABELS else "0"


@dataclass
class TrainedModel:
    """A fitted text classifier with its labels and training facts."""

    task: str
    labels: list[str]
    word_vectorizer: TfidfVectorizer
    char_vectorizer: TfidfVectorizer
    classifier: CalibratedClassifierCV
    meta: dict[str, Any] = field(default_factory=dict)

    def _features(self, texts: Sequence[str], lemma_texts: Sequence[str] | None) -> Any:
        """Return the sparse feature matrix of raw texts (lemma strings computed unless given)."""
        lem = list(lemma_texts) if lemma_texts is not None else [_lemma_text(t) for t in texts]
        cleaned = [clean(t).lower() for t in texts]
        return sp.hstack(
            [
                self.word_vectorizer.transform(lem),
                self.char_vectorizer.transform(cleaned),
                lexicon_features(self.task, texts),
            ]
        ).tocsr()

    def predict_proba(self, texts: Sequence[str], lemma_texts: Sequence[str] | None = None) -> np.ndarray:
        """Return class probabilities, one row per text, columns in `labels` order."""
        if not texts:
            return np.zeros((0, len(self.labels)))
        proba: np.ndarray = self.classifier.predict_proba(self._features(texts, lemma_texts))
        return proba

    def predict(
        self, texts: Sequence[str], lemma_texts: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """Return (label, probability) of the most probable class for every text."""
        proba = self.predict_proba(texts, lemma_texts)
        return [
            (self.labels[int(i)], float(row[int(i)]))
            for row, i in zip(proba, proba.argmax(axis=1), strict=True)
        ]

    def save(self, path: Path) -> None:
        """Write the model to `path` (joblib, compressed)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump({"format": MODEL_FORMAT, "version": MODEL_VERSION, "model": self}, path, compress=3)


def lexicon_features(task: str, texts: Sequence[str]) -> Any:
    """Return the packaged lexicon's scores for `task` as extra sparse features (one row per text)."""
    if task == "topics":
        from risk.sectors import SECTORS, LexiconSectorModel

        model = _cached(LexiconSectorModel)
        rows = []
        for t in texts:
            scores = model.predict(analyse(t)).scores
            rows.append([math.log1p(scores.get(g, 0.0)) / 3.0 for g in SECTORS])
        return sp.csr_matrix(np.array(rows, dtype=float).reshape(len(texts), len(SECTORS)))
    if task == "tone":
        from risk.tone import ToneScorer

        scorer = _cached(ToneScorer)
        vals = [math.tanh(scorer.raw_sum(analyse(t)) / 2.0) for t in texts]
        return sp.csr_matrix(
            np.array([[max(v, 0.0), max(-v, 0.0)] for v in vals], dtype=float).reshape(-1, 2)
        )
    from risk.aggression import AggressionScorer

    agg = _cached(AggressionScorer)
    return sp.csr_matrix(np.array([[agg.score(analyse(t)).score] for t in texts], dtype=float).reshape(-1, 1))


_CACHE: dict[type, Any] = {}


def _cached(cls: type) -> Any:
    """Return one shared instance of a lexicon scorer class."""
    if cls not in _CACHE:
        _CACHE[cls] = cls()
    return _CACHE[cls]


def _make_vectorizers(n_docs: int) -> tuple[TfidfVectorizer, TfidfVectorizer]:
    """Return unfitted word-lemma and character n-gram vectorizers sized for `n_docs` documents."""
    min_df = 2 if n_docs >= 50 else 1
    words = TfidfVectorizer(
        analyzer="word",
        token_pattern=r"\S+",
        ngram_range=(1, 2),
        min_df=min_df,
        sublinear_tf=True,
        max_features=200_000,
    )
    chars = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 5), min_df=min_df, sublinear_tf=True, max_features=300_000
    )
    return words, chars


def prepare_labels(task: str, labels: Sequence[object]) -> list[str]:
    """Return labels as strings ready for `task` (aggression labels binarised)."""
    if task == "aggression":
        return [binarise_aggression(x) for x in labels]
    return [str(x).strip() for x in labels]


def _check(task: str, texts: Sequence[str], labels: Sequence[str]) -> None:
    """Raise ModelError when the task or the data cannot make a model."""
    if task not in TASKS:
        raise ModelError(f"неизвестная задача {task!r}: допустимы {', '.join(TASKS)}")
    if len(texts) != len(labels):
        raise ModelError(f"текстов {len(texts)}, а меток {len(labels)}: их число должно совпадать")
    if len(set(labels)) < 2:
        raise ModelError("для обучения нужны хотя бы два разных значения метки")


def _fit(task: str, texts: Sequence[str], labels: Sequence[str], lemma_texts: Sequence[str]) -> TrainedModel:
    """Fit vectorizers and the classifier on prepared data (classes with one example are dropped)."""
    counts = Counter(labels)
    if min(counts.values()) < MIN_CLASS_EXAMPLES:
        keep = [i for i, y in enumerate(labels) if counts[y] >= MIN_CLASS_EXAMPLES]
        texts, labels, lemma_texts = (
            [texts[i] for i in keep],
            [labels[i] for i in keep],
            [lemma_texts[i] for i in keep],
        )
    words, chars = _make_vectorizers(len(texts))
    x = sp.hstack(
        [
            words.fit_transform(lemma_texts),
            chars.fit_transform([clean(t).lower() for t in texts]),
            lexicon_features(task, texts),
        ]
    ).tocsr()
    folds = max(2, min(CALIBRATION_FOLDS, min(Counter(labels).values())))
    svm = LinearSVC(C=C_VALUE, class_weight="balanced" if task != "topics" else None)
    clf = CalibratedClassifierCV(svm, cv=folds, method="sigmoid")
    clf.fit(x, list(labels))
    meta = {
        "trained_at": datetime.now(UTC).isoformat(),
        "n_train": len(texts),
        "class_counts": dict(Counter(labels)),
        "sklearn": sklearn.__version__,
    }
    return TrainedModel(
        task=task,
        labels=[str(c) for c in clf.classes_],
        word_vectorizer=words,
        char_vectorizer=chars,
        classifier=clf,
        meta=meta,
    )


def _drop_rare(texts: Sequence[str], labels: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    """Return texts and labels without classes rarer than MIN_CLASS_EXAMPLES, and the dropped classes."""
    counts = Counter(labels)
    rare = sorted(c for c, n in counts.items() if n < MIN_CLASS_EXAMPLES)
    keep = [i for i, y in enumerate(labels) if counts[y] >= MIN_CLASS_EXAMPLES]
    return [texts[i] for i in keep], [labels[i] for i in keep], rare


def train(task: str, texts: Sequence[str], labels: Sequence[object]) -> TrainedModel:
    """Train a model for `task` ("topics", "tone" or "aggression"); raise ModelError on unusable data."""
    prepared = prepare_labels(task, labels)
    _check(task, texts, prepared)
    kept_texts, kept_labels, rare = _drop_rare(list(texts), prepared)
    _check(task, kept_texts, kept_labels)
    model = _fit(task, kept_texts, kept_labels, [_lemma_text(t) for t in kept_texts])
    model.meta["dropped_rare_classes"] = rare
    return model


@dataclass(frozen=True)
class CvScores:
    """Cross-validated quality of a task on a labelled set."""

    accuracy: float
    macro_f1: float
    roc_auc: float | None  # binary tasks only
    folds: int
    n: int
    classes: int


def cross_validate(task: str, texts: Sequence[str], labels: Sequence[object], folds: int = 5) -> CvScores:
    """Return stratified k-fold accuracy / macro-F1 (and ROC-AUC for two classes); raise ModelError."""
    prepared = prepare_labels(task, labels)
    _check(task, texts, prepared)
    kept_texts, kept_labels, _ = _drop_rare(list(texts), prepared)
    _check(task, kept_texts, kept_labels)
    largest = max(Counter(kept_labels).values())
    k = max(2, min(folds, largest))
    lemma_texts = [_lemma_text(t) for t in kept_texts]
    y = np.array(kept_labels)
    pred = np.empty(len(y), dtype=object)
    binary = len(set(kept_labels)) == 2
    positive = sorted(set(kept_labels))[-1]
    scores = np.zeros(len(y))
    for train_idx, test_idx in StratifiedKFold(n_splits=k, shuffle=True, random_state=0).split(kept_texts, y):
        model = _fit(
            task,
            [kept_texts[i] for i in train_idx],
            [kept_labels[i] for i in train_idx],
            [lemma_texts[i] for i in train_idx],
        )
        test_texts = [kept_texts[i] for i in test_idx]
        proba = model.predict_proba(test_texts, [lemma_texts[i] for i in test_idx])
        pred[test_idx] = [model.labels[int(j)] for j in proba.argmax(axis=1)]
        if binary:
            scores[test_idx] = proba[:, model.labels.index(positive)]
    auc = float(roc_auc_score(y == positive, scores)) if binary else None
    return CvScores(
        accuracy=float(accuracy_score(y, pred.astype(str))),
        macro_f1=float(f1_score(y, pred.astype(str), average="macro")),
        roc_auc=auc,
        folds=k,
        n=len(y),
        classes=len(set(kept_labels)),
    )


def load_model(path: Path) -> TrainedModel | TrainedModels:
    """Read a model file written by `TrainedModel.save` or `TrainedModels.save`; raise ModelError."""
    try:
        data = joblib.load(path)
    except FileNotFoundError as exc:
        raise ModelError(f"файл модели не найден: {path}") from exc
    except Exception as exc:  # joblib/pickle raise many kinds of errors on foreign files
        raise ModelError(f"файл {path} не читается как модель Инфополя: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
        raise ModelError(f"файл {path} не является моделью Инфополя")
    model = data.get("model")
    if not isinstance(model, TrainedModel | TrainedModels):
        raise ModelError(f"файл {path} содержит неизвестный тип модели")
    return model


@dataclass
class TrainedModels:
    """The optional trained models the Understander uses instead of its lexicons."""

    topics: TrainedModel | None = None
    tone: TrainedModel | None = None
    aggression: TrainedModel | None = None

    def __bool__(self) -> bool:
        """Return True when any model is present."""
        return any((self.topics, self.tone, self.aggression))

    def put(self, model: TrainedModel) -> None:
        """Set a model in the slot of its task."""
        if model.task not in TASKS:
            raise ModelError(f"модель для неизвестной задачи {model.task!r}")
        setattr(self, model.task, model)

    def save(self, path: Path) -> None:
        """Write all models to one file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump({"format": MODEL_FORMAT, "version": MODEL_VERSION, "model": self}, path, compress=3)

    @classmethod
    def load(cls, path: Path) -> TrainedModels:
        """Read models from a file (one model or a bundle) or from every *.joblib file of a directory."""
        out = cls()
        files = sorted(path.glob("*.joblib")) if path.is_dir() else [path]
        if not files:
            raise ModelError(f"в папке {path} нет файлов моделей *.joblib")
        for file in files:
            loaded = load_model(file)
            if isinstance(loaded, TrainedModels):
                for m in (loaded.topics, loaded.tone, loaded.aggression):
                    if m is not None:
                        out.put(m)
            else:
                out.put(loaded)
        return out


def tone_from_proba(model: TrainedModel, row: np.ndarray) -> tuple[Tone, float]:
    """Return the tone and a -1..1 score (P(positive) - P(negative)) from a tone model's probabilities."""
    pos = neg = 0.0
    best_tone = Tone.neutral
    best_p = -1.0
    for label, p in zip(model.labels, row, strict=True):
        tone = TONE_LABELS.get(label.lower())
        if tone is Tone.positive:
            pos += float(p)
        elif tone is Tone.negative:
            neg += float(p)
        if tone is not None and p > best_p:
            best_tone, best_p = tone, float(p)
    score = max(-1.0, min(1.0, pos - neg))
    return best_tone, round(score if math.isfinite(score) else 0.0, 4)


def aggression_from_proba(model: TrainedModel, row: np.ndarray) -> float:
    """Return P(aggressive) from an aggression model's probabilities."""
    if "1" in model.labels:
        return round(float(row[model.labels.index("1")]), 4)
    return 0.0
