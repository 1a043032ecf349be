"""Trainable models for topics, tone and aggression: a calibrated linear SVM over several feature blocks.

Features: TF-IDF of lemma uni/bigrams (negated words marked "не_", emoji and smileys as tokens), TF-IDF of
character 2-5-grams within words (typos, word forms), the packaged lexicon's scores for the task, and
the mean navec word vector of the text (shipped inside natasha; skipped when natasha is absent). Classes
are weighted by (n / (k · n_class)) ** BALANCE_POWER[task], so rare classes still get recalled.

Hyper-parameters: the SVM's C is chosen per training run by an inner 3-fold CV on the training data only
(C_GRID); the block weights, balance powers and n-gram ranges are fixed constants (set by comparing
5-fold CV figures on the dev sets, so those figures are slightly optimistic for them). The sigmoid
calibration is fitted on out-of-fold margins of the training data.

The calibrated SVM is soft-voted (NB_VOTE[task] share) with an NB-SVM (Wang & Manning 2012: one linear SVM
per class over binary lemma 1-2-grams and character 2-5-grams scaled by naive-Bayes log-count ratios),
which is strong on short texts. The vote was kept because it won on all three dev sets at once in the
same 5-fold CV (topics accuracy 0.802 → 0.805 and macro-F1 0.534 → 0.545, tone macro-F1 0.685 → 0.702,
aggression ROC-AUC 0.753 → 0.754, all with the earlier topic lexicon); its share and the NB-SVM's C are
fixed, not tuned per task. Aggression models add a third, equal vote (LEXICON_VOTE): the packaged
AggressionScorer's score mapped to a probability on the training data (ROC-AUC 0.754 -> 0.762 in the same
CV). bench/quality.py prints the current figures.

A centre trains them on its own history (`infopole train`); the Understander uses them instead of the
lexicons. Model files are joblib pickles: load only files you made yourself (unpickling runs code).
"""

from __future__ import annotations

import math
import re
import warnings
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
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

from index.models import Tone
from risk.embedding import NAVEC_NAME
from risk.text import Doc, analyse

Task = Literal["topics", "tone", "aggression"]
#: The tasks a model can be trained for.
TASKS: tuple[str, ...] = ("topics", "tone", "aggression")
#: Marks a joblib file as ours.
MODEL_FORMAT = "infopole-model"
MODEL_VERSION = 3
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
#: Inverse regularisation strength of the linear SVM on small training sets (no inner CV below
#: MIN_TUNING_EXAMPLES examples).
C_VALUE = 0.3
#: Strengths tried on larger sets: the one with the best inner 3-fold score on the training data only
#: (macro-F1; ROC-AUC for two classes) is used, so held-out figures never see the choice.
C_GRID: tuple[float, ...] = (0.1, 0.3)
#: Training sets smaller than this use C_VALUE without an inner search.
MIN_TUNING_EXAMPLES = 200
#: Folds of the inner search for C.
TUNING_FOLDS = 3
#: Folds of the sigmoid calibration that turns SVM margins into probabilities.
CALIBRATION_FOLDS = 3
#: False: one SVM fitted on all training data, its sigmoid fitted on out-of-fold margins (sees every
#: example; +0.02 macro-F1 on topics, whose rare classes have a handful of examples). True: the average
#: of the fold models (as good or better on tone and aggression in dev CV).
CALIBRATION_ENSEMBLE: dict[str, bool] = {"topics": False, "tone": True, "aggression": True}
#: Class weight = (n / (k · n_class)) ** power: 1 is fully balanced, 0 ignores class sizes. Topics keep
#: part of the prior (their big classes are big for a reason); tone and aggression are balanced.
BALANCE_POWER: dict[str, float] = {"topics": 0.5, "tone": 1.0, "aggression": 1.0}
#: Scale of the lemma TF-IDF block against the character block (1.0).
WORD_BLOCK_WEIGHT = 0.7
#: Scale of the mean word vector block.
EMBEDDING_WEIGHT = 1.0
#: Share of the NB-SVM model in the soft vote with the calibrated SVM (0: the SVM alone).
NB_VOTE: dict[str, float] = {"topics": 0.5, "tone": 0.5, "aggression": 0.5}
#: Share of the packaged lexicon's own verdict in the final vote (0: none). Aggression: the out-of-the-box
#: AggressionScorer score, turned into P(aggressive) by a one-feature logistic fit on the training data,
#: gets an equal third beside the SVM and the NB-SVM (fixed a priori, not tuned): it knows insults and
#: masked obscenities the training set may lack (dev 5-fold CV ROC-AUC 0.754 -> 0.762).
LEXICON_VOTE: dict[str, float] = {"topics": 0.0, "tone": 0.0, "aggression": 1.0 / 3.0}
#: Inverse regularisation strength of the NB-SVM's linear SVMs.
NB_C = 0.3
#: NB-SVM margins become probabilities as 1 / (1 + exp(-NB_MARGIN_SCALE · margin)), then sum to 1.
NB_MARGIN_SCALE = 2.0
#: Additive smoothing of the NB log-count ratios.
NB_ALPHA = 1.0
#: Words after a negation ("не", "нет", "ни", "без") that are marked "не_" in the lemma block.
NEGATION_REACH = 2
_NEGATIONS = frozenset({"не", "нет", "ни", "без"})
_EMOJI = re.compile(r"[\U0001F300-\U0001FAFF\u2600-\u27BF]|[:;]-?[()DPР]+|\){2,}|\({2,}|!{2,}|\?{2,}")


class ModelError(ValueError):
    """A model cannot be trained, saved or loaded (the message is in Russian, for users)."""


def feature_text(doc: Doc) -> str:
    """Return the lemma-block text of an analysed text: lemmas, "не_" before negated ones, emoji tokens."""
    out: list[str] = []
    negated = 0
    for word, candidates in zip(doc.words, doc.lemma_forms, strict=True):
        if word in _NEGATIONS:
            out.append(word)
            negated = NEGATION_REACH
            continue
        lem = candidates[0]
        if len(lem) > 1 or lem.isdigit():
            out.append(f"не_{lem}" if negated else lem)
        negated = max(0, negated - 1)
    out += ["EMO_" + e for e in _EMOJI.findall(doc.text)]
    return " ".join(out)


@dataclass(frozen=True)
class Prepared:
    """The text-only feature inputs of a list of texts (no fitting involved, so computed once)."""

    words: list[str]  # feature_text of each text
    chars: list[str]  # cleaned, lowercased text
    dense: np.ndarray  # lexicon scores, then the mean word vector when embeddings are on

    def take(self, idx: Sequence[int]) -> Prepared:
        """Return the rows `idx`."""
        return Prepared([self.words[i] for i in idx], [self.chars[i] for i in idx], self.dense[list(idx)])


def prepare(task: str, texts: Sequence[str], docs: Sequence[Doc] | None = None, *, embed: bool) -> Prepared:
    """Return the feature inputs of raw texts (`docs`: their analyses, computed here when not given)."""
    analysed = list(docs) if docs is not None else [analyse(t) for t in texts]
    lex = lexicon_features(task, analysed)
    dense = lex
    if embed:
        from risk.embedding import embed_texts

        dense = np.hstack([lex, EMBEDDING_WEIGHT * embed_texts([d.text for d in analysed])])
    return Prepared([feature_text(d) for d in analysed], [d.text.lower() for d in analysed], dense)


def embeddings_available() -> bool:
    """Return True when natasha's word vectors can be loaded here."""
    from risk.embedding import EmbeddingUnavailable, navec

    try:
        navec()
    except (EmbeddingUnavailable, OSError):
        return False
    return True


def binarise_aggression(label: object) -> str:
    """Return "1" for an aggressive label (a score ≥ 0.5 or a yes-like word), else "0"."""
    text = str(label).strip().lower()
    try:
        return "1" if float(text.replace(",", ".")) >= 0.5 else "0"
    except ValueError:
        return "1" if text in AGGRESSIVE_LABELS else "0"


@dataclass
class NbSvm:
    """NB-SVM (Wang & Manning 2012): per class, a linear SVM on NB-log-ratio-scaled binary n-grams."""

    words: CountVectorizer
    chars: CountVectorizer
    classes: list[str]
    ratios: list[np.ndarray]  # one log-count ratio vector per binary problem
    models: list[LinearSVC]

    def _binary(self, prepared: Prepared) -> Any:
        """Return the binary word and character n-gram matrix of prepared texts."""
        return sp.hstack([self.words.transform(prepared.words), self.chars.transform(prepared.chars)]).tocsr()

    def predict_proba(self, prepared: Prepared) -> np.ndarray:
        """Return class probabilities (columns in `classes` order; one-vs-rest normalised)."""
        x = self._binary(prepared)
        pairs = zip(self.ratios, self.models, strict=True)
        cols = [_squash(m.decision_function(normalize(x @ sp.diags(r)))) for r, m in pairs]
        if len(self.classes) == 2:
            return np.column_stack([1.0 - cols[0], cols[0]])
        proba = np.column_stack(cols)
        total = proba.sum(axis=1, keepdims=True)
        return np.asarray(proba / np.where(total > 0, total, 1.0))


def _squash(margin: np.ndarray) -> np.ndarray:
    """Return NB-SVM margins as 0..1 scores."""
    return np.asarray(1.0 / (1.0 + np.exp(-NB_MARGIN_SCALE * margin)))


def fit_nb_svm(prepared: Prepared, labels: Sequence[str], weights: np.ndarray) -> NbSvm:
    """Fit NB-SVM on prepared texts (`weights`: one sample weight per text)."""
    min_df = 2 if len(labels) >= 50 else 1
    words = CountVectorizer(
        token_pattern=r"\S+", ngram_range=(1, 2), min_df=min_df, binary=True, max_features=200_000
    )
    chars = CountVectorizer(
        analyzer="char_wb", ngram_range=(2, 5), min_df=min_df, binary=True, max_features=300_000
    )
    x = sp.hstack([words.fit_transform(prepared.words), chars.fit_transform(prepared.chars)]).tocsr()
    x = x.astype(np.float64)
    y = np.array(labels)
    classes = sorted(set(labels))
    targets = classes[-1:] if len(classes) == 2 else classes
    ratios, models = [], []
    for target in targets:
        pos = y == target
        p = NB_ALPHA + np.asarray(x[pos].sum(axis=0)).ravel()
        q = NB_ALPHA + np.asarray(x[~pos].sum(axis=0)).ravel()
        ratio = np.log(p / p.sum()) - np.log(q / q.sum())
        model = LinearSVC(C=NB_C).fit(normalize(x @ sp.diags(ratio)), pos, sample_weight=weights)
        ratios.append(ratio)
        models.append(model)
    return NbSvm(words=words, chars=chars, classes=classes, ratios=ratios, models=models)


@dataclass
class TrainedModel:
    """A fitted text classifier with its labels and training facts."""

    task: str
    labels: list[str]
    word_vectorizer: TfidfVectorizer
    char_vectorizer: TfidfVectorizer
    classifier: CalibratedClassifierCV
    meta: dict[str, Any] = field(default_factory=dict)
    nb: NbSvm | None = None  # soft-voted with the SVM when present (NB_VOTE of the task)
    lexicon: LogisticRegression | None = None  # P(class | lexicon score), LEXICON_VOTE of the task

    @property
    def uses_embeddings(self) -> bool:
        """Return True when the model was trained with the navec word vectors."""
        return bool(self.meta.get("embedding"))

    def features(self, prepared: Prepared) -> Any:
        """Return the sparse feature matrix of prepared texts."""
        return _matrix(self.word_vectorizer, self.char_vectorizer, prepared, fit=False)

    def predict_proba(self, texts: Sequence[str], docs: Sequence[Doc] | None = None) -> np.ndarray:
        """Return class probabilities, one row per text, columns in `labels` order (`docs`: analyses)."""
        if not texts:
            return np.zeros((0, len(self.labels)))
        return self.proba(prepare(self.task, texts, docs, embed=self.uses_embeddings))

    def proba(self, prepared: Prepared) -> np.ndarray:
        """Return class probabilities of prepared texts (the SVM's, soft-voted with NB-SVM and lexicon)."""
        proba: np.ndarray = self.classifier.predict_proba(self.features(prepared))
        if self.nb is not None:
            share = float(self.meta.get("nb_vote", 0.5))
            proba = (1.0 - share) * proba + share * self.nb.predict_proba(prepared)
        if self.lexicon is not None:
            share = float(self.meta.get("lexicon_vote", 0.0))
            proba = (1.0 - share) * proba + share * self.lexicon.predict_proba(_lexicon_score(prepared))
        return proba

    def predict(self, texts: Sequence[str], docs: Sequence[Doc] | None = None) -> list[tuple[str, float]]:
        """Return (label, probability) of the most probable class for every text."""
        proba = self.predict_proba(texts, docs)
        return [
            (self.labels[int(i)], float(row[int(i)]))
            for row, i in zip(proba, proba.argmax(axis=1), strict=True)
        ]

    def save(self, path: Path) -> None:
        """Write the model to `path` (joblib, compressed)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump({"format": MODEL_FORMAT, "version": MODEL_VERSION, "model": self}, path, compress=3)


def lexicon_features(task: str, docs: Sequence[Doc]) -> np.ndarray:
    """Return the packaged lexicon's scores for `task` as dense features (one row per analysed text)."""
    if task == "topics":
        from risk.sectors import SECTORS, LexiconSectorModel

        model = _cached(LexiconSectorModel)
        rows = []
        for doc in docs:
            scores = model.predict(doc).scores
            rows.append([math.log1p(scores.get(g, 0.0)) / 3.0 for g in SECTORS])
        return np.array(rows, dtype=float).reshape(len(docs), len(SECTORS))
    if task == "tone":
        from risk.tone import ToneScorer

        scorer = _cached(ToneScorer)
        vals = [math.tanh(scorer.raw_sum(doc) / 2.0) for doc in docs]
        return np.array([[max(v, 0.0), max(-v, 0.0)] for v in vals], dtype=float).reshape(-1, 2)
    from risk.aggression import MARKERS, AggressionScorer

    agg = _cached(AggressionScorer)
    rows = []
    for doc in docs:
        res = agg.score(doc)
        rows.append([res.score] + [0.5 * (m in res.evidence) for m in MARKERS])
    return np.array(rows, dtype=float).reshape(len(docs), 1 + len(MARKERS))


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


def _matrix(words: TfidfVectorizer, chars: TfidfVectorizer, prepared: Prepared, *, fit: bool) -> Any:
    """Return the stacked sparse features (vectorizers fitted first when `fit`)."""
    if fit:
        w, c = words.fit_transform(prepared.words), chars.fit_transform(prepared.chars)
    else:
        w, c = words.transform(prepared.words), chars.transform(prepared.chars)
    return sp.hstack([WORD_BLOCK_WEIGHT * w, c, sp.csr_matrix(prepared.dense)]).tocsr()


def class_weights(task: str, labels: Sequence[str]) -> np.ndarray:
    """Return one sample weight per label: (n / (k · n_class)) ** BALANCE_POWER[task]."""
    counts = Counter(labels)
    power = BALANCE_POWER.get(task, 1.0)
    n, k = len(labels), len(counts)
    return np.array([(n / (k * counts[y])) ** power for y in labels], dtype=float)


def choose_c(x: Any, labels: Sequence[str], weights: np.ndarray) -> float:
    """Return the C of C_GRID with the best inner-CV score on training data (C_VALUE on small sets)."""
    y = np.array(labels)
    counts = Counter(labels)
    if len(y) < MIN_TUNING_EXAMPLES or len(C_GRID) < 2:
        return C_VALUE
    binary = len(counts) == 2
    positive = sorted(counts)[-1]
    splits = max(2, min(TUNING_FOLDS, max(counts.values())))
    best_c, best = C_VALUE, -1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # classes rarer than the folds: sklearn warns, the split works
        folds = list(StratifiedKFold(n_splits=splits, shuffle=True, random_state=0).split(y, y))
        for c in C_GRID:
            margin = np.zeros(len(y))
            pred = np.empty(len(y), dtype=object)
            for tr, te in folds:
                svm = LinearSVC(C=c).fit(x[tr], y[tr], sample_weight=weights[tr])
                pred[te] = svm.predict(x[te])
                if binary:
                    margin[te] = svm.decision_function(x[te])
            score = (
                float(roc_auc_score(y == positive, margin))
                if binary
                else float(f1_score(y, pred.astype(str), average="macro"))
            )
            if score > best:
                best_c, best = c, score
    return best_c


def _fit(task: str, prepared: Prepared, labels: Sequence[str]) -> TrainedModel:
    """Fit vectorizers and the calibrated classifier on prepared data (rare classes already dropped)."""
    words, chars = _make_vectorizers(len(labels))
    x = _matrix(words, chars, prepared, fit=True)
    weights = class_weights(task, labels)
    c_value = choose_c(x, labels, weights)
    folds = max(2, min(CALIBRATION_FOLDS, min(Counter(labels).values())))
    clf = CalibratedClassifierCV(
        LinearSVC(C=c_value), cv=folds, method="sigmoid", ensemble=CALIBRATION_ENSEMBLE.get(task, True)
    )
    clf.fit(x, list(labels), sample_weight=weights)
    vote = NB_VOTE.get(task, 0.0)
    nb = fit_nb_svm(prepared, labels, weights) if vote > 0 else None
    if nb is not None and nb.classes != [str(c) for c in clf.classes_]:
        raise ModelError("внутренняя ошибка обучения: классы моделей не совпадают")
    lex_vote = LEXICON_VOTE.get(task, 0.0)
    lexicon = None
    if lex_vote > 0 and len(clf.classes_) == 2:
        lexicon = LogisticRegression().fit(_lexicon_score(prepared), list(labels))
        if [str(c) for c in lexicon.classes_] != [str(c) for c in clf.classes_]:
            raise ModelError("внутренняя ошибка обучения: классы моделей не совпадают")
    meta = {
        "trained_at": datetime.now(UTC).isoformat(),
        "nb_vote": vote if nb is not None else 0.0,
        "lexicon_vote": lex_vote if lexicon is not None else 0.0,
        "n_train": len(labels),
        "class_counts": dict(Counter(labels)),
        "sklearn": sklearn.__version__,
        "svm_c": c_value,
        "embedding": NAVEC_NAME if prepared.dense.shape[1] > _lexicon_width(task) else None,
    }
    return TrainedModel(
        task=task,
        labels=[str(c) for c in clf.classes_],
        word_vectorizer=words,
        char_vectorizer=chars,
        classifier=clf,
        meta=meta,
        nb=nb,
        lexicon=lexicon,
    )


def _lexicon_score(prepared: Prepared) -> np.ndarray:
    """Return the lexicon's overall score column (the first lexicon feature) of prepared texts."""
    return prepared.dense[:, :1]


def _drop_rare(texts: Sequence[str], labels: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    """Return texts and labels without classes rarer than MIN_CLASS_EXAMPLES, and the dropped classes."""
    counts = Counter(labels)
    rare = sorted(c for c, n in counts.items() if n < MIN_CLASS_EXAMPLES)
    keep = [i for i, y in enumerate(labels) if counts[y] >= MIN_CLASS_EXAMPLES]
    return [texts[i] for i in keep], [labels[i] for i in keep], rare


def _lexicon_width(task: str) -> int:
    """Return the number of lexicon feature columns of `task`."""
    from risk.aggression import MARKERS
    from risk.sectors import SECTORS

    return {"topics": len(SECTORS), "tone": 2}.get(task, 1 + len(MARKERS))


def train(
    task: str, texts: Sequence[str], labels: Sequence[object], *, embed: bool | None = None
) -> TrainedModel:
    """Train a model for `task` ("topics", "tone" or "aggression"); raise ModelError on unusable data.

    `embed`: use the navec word vectors (default: when natasha is installed).
    """
    prepared_labels = prepare_labels(task, labels)
    _check(task, texts, prepared_labels)
    kept_texts, kept_labels, rare = _drop_rare(list(texts), prepared_labels)
    _check(task, kept_texts, kept_labels)
    use = embeddings_available() if embed is None else embed
    model = _fit(task, prepare(task, kept_texts, embed=use), kept_labels)
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


def cross_validate(
    task: str, texts: Sequence[str], labels: Sequence[object], folds: int = 5, *, embed: bool | None = None
) -> CvScores:
    """Return stratified k-fold accuracy / macro-F1 (and ROC-AUC for two classes); raise ModelError."""
    prepared_labels = prepare_labels(task, labels)
    _check(task, texts, prepared_labels)
    kept_texts, kept_labels, _ = _drop_rare(list(texts), prepared_labels)
    _check(task, kept_texts, kept_labels)
    largest = max(Counter(kept_labels).values())
    k = max(2, min(folds, largest))
    prepared = prepare(task, kept_texts, embed=embeddings_available() if embed is None else embed)
    y = np.array(kept_labels)
    pred = np.empty(len(y), dtype=object)
    binary = len(set(kept_labels)) == 2
    positive = sorted(set(kept_labels))[-1]
    scores = np.zeros(len(y))
    for train_idx, test_idx in StratifiedKFold(n_splits=k, shuffle=True, random_state=0).split(kept_texts, y):
        train_labels = [kept_labels[i] for i in train_idx]
        counts = Counter(train_labels)
        fit_idx = [i for i in train_idx if counts[kept_labels[i]] >= MIN_CLASS_EXAMPLES]
        model = _fit(task, prepared.take(fit_idx), [kept_labels[i] for i in fit_idx])
        proba = model.proba(prepared.take(test_idx))
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
    if data.get("version") != MODEL_VERSION:
        raise ModelError(
            f"модель {path} сделана другой версией Инфополя (формат {data.get('version')}, нужен "
            f"{MODEL_VERSION}): обучите её заново командой infopole train"
        )
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
