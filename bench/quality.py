"""Print the quality table of the understanding step on the dev data sets (read from ../shared/data).

Usage: .venv/bin/python bench/quality.py [--data ../shared/data] [--only sector,tone,aggression,demo]
       [--no-trained] [--no-baseline]

Trained figures are stratified 5-fold cross-validation on the dev set (seed 0) of the model
`infopole train` makes (calibrated SVM soft-voted with an NB-SVM, and for aggression with the
packaged scorer too; risk/trained.py), next to a plain char-TF-IDF + linear SVM baseline on the very
same folds. Nothing is copied from the dev sets: they are read
at run time, models trained here stay in memory.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from risk.aggression import AggressionScorer  # noqa: E402
from risk.sectors import REVIEW_THRESHOLD, LexiconSectorModel  # noqa: E402
from risk.text import analyse  # noqa: E402
from risk.tone import ToneScorer  # noqa: E402
from risk.trained import cross_validate  # noqa: E402

#: ЦУР topic group → kursk-appeals category (the dev set's own 0..16 labels; 12 "test" is dropped).
KURSK_CATEGORY: dict[str, int] = {
    "Дороги": 0,
    "Безопасность": 1,
    'МФЦ "Мои документы"': 2,
    "ЖКХ": 3,
    "Благоустройство": 3,
    "Газ и топливо": 3,
    "Электроснабжение": 3,
    "Здравоохранение/Медицина": 4,
    "Культура": 5,
    "Коронавирус": 6,
    "Образование": 7,
    "Общественный транспорт": 8,
    "Связь и телевидение": 9,
    "Социальное обслуживание и защита": 10,
    "Строительство и архитектура": 11,
    "Торговля": 13,
    "Экономика и бизнес": 14,
    "Физическая культура и спорт": 15,
    "Мусор/Свалки/ТКО": 16,
    "Экология": 16,
}


def load_kursk(data: Path) -> pd.DataFrame:
    """Return the kursk appeals (text, category) without the test category 12."""
    df = pd.read_csv(
        data / "dev/kursk-appeals/train.csv",
        header=None,
        names=["id", "text", "theme", "executor", "category"],
    )
    df = df[df["category"] != 12].dropna(subset=["text"])
    return df.reset_index(drop=True)


def load_tweets(data: Path) -> pd.DataFrame:
    """Return the rusentitweet texts with 3 tone classes (speech and skip dropped)."""
    df = pd.read_csv(data / "dev/rusentitweet/train.csv")
    df = df[df["label"].isin(["negative", "neutral", "positive"])].dropna(subset=["text"])
    return df.reset_index(drop=True)


def load_inappropriate(data: Path) -> pd.DataFrame:
    """Return the inappropriate-messages validation set."""
    return pd.read_csv(data / "dev/inappropriate/val.csv").dropna(subset=["text"]).reset_index(drop=True)


def baseline_cv(
    texts: Sequence[str], labels: Sequence[str], analyzer: str
) -> tuple[float, float, float | None]:
    """Return (accuracy, macro-F1, ROC-AUC for two classes) of TF-IDF + LinearSVC on the CV folds we use."""
    y = np.array([str(v) for v in labels], dtype=object)
    x_all = [str(t).lower() for t in texts]
    pred = np.empty(len(y), dtype=object)
    margin = np.zeros(len(y))
    for tr, te in StratifiedKFold(n_splits=5, shuffle=True, random_state=0).split(x_all, y):
        vec = (
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)
            if analyzer == "char"
            else TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        )
        xtr = vec.fit_transform([x_all[i] for i in tr])
        svm = LinearSVC().fit(xtr, y[tr])
        xte = vec.transform([x_all[i] for i in te])
        pred[te] = svm.predict(xte)
        if len(svm.classes_) == 2:
            margin[te] = svm.decision_function(xte)
    auc = float(roc_auc_score(y == sorted(set(y))[-1], margin)) if len(set(y)) == 2 else None
    return (
        float(accuracy_score(y.astype(str), pred.astype(str))),
        float(f1_score(y.astype(str), pred.astype(str), average="macro")),
        auc,
    )


def review_rows(confidence: Sequence[float], correct: Sequence[bool]) -> list[tuple[str, str, str]]:
    """Return the reliability table of a confidence: accuracy per confidence band."""
    conf = np.array(confidence)
    ok = np.array(correct)
    rows = []
    for lo, hi in ((0.0, 0.3), (0.3, REVIEW_THRESHOLD), (REVIEW_THRESHOLD, 0.6), (0.6, 0.8), (0.8, 1.01)):
        band = (conf >= lo) & (conf < hi)
        if band.any():
            rows.append(
                (
                    f"  confidence {lo:.2f}..{min(hi, 1.0):.2f}",
                    f"accuracy {ok[band].mean():.3f}",
                    f"n={band.sum()}",
                )
            )
    return rows


def sector_rows(data: Path, trained: bool, baseline: bool = True) -> list[tuple[str, str, str]]:
    """Return table rows for sector accuracy (out of the box and trained)."""
    df = load_kursk(data)
    # Every text of the set is an appeal to the municipality: the appeals mode (prior and fallback sector).
    model = LexiconSectorModel(appeals=True)
    docs = [analyse(t) for t in df["text"]]
    model.predict(docs[0])  # load the vectors before timing
    t0 = time.perf_counter()
    preds = [model.predict(d) for d in docs]
    elapsed = time.perf_counter() - t0
    mapped = [KURSK_CATEGORY.get(p.sector or "", -1) for p in preds]
    acc = accuracy_score(df["category"], mapped)
    social = LexiconSectorModel()
    acc_social = accuracy_score(
        df["category"], [KURSK_CATEGORY.get(social.predict(d).sector or "", -1) for d in docs]
    )
    plain = LexiconSectorModel(semantic=False)
    acc_plain = accuracy_score(
        df["category"], [KURSK_CATEGORY.get(plain.predict(d).sector or "", -1) for d in docs]
    )
    none_share = float(np.mean([not p.matched for p in preds]))
    review = float(np.mean([p.needs_review for p in preds]))
    confident = [m == c for m, c, p in zip(mapped, df["category"], preds, strict=True) if not p.needs_review]
    rows = [
        (
            f"sector, lexicon + vectors, appeals mode (kursk, n={len(df)})",
            f"accuracy {acc:.3f}",
            "target ≥ 0.75",
        ),
        (
            "  social-media mode (no prior, no fallback), lexicon + vectors",
            f"accuracy {acc_social:.3f}",
            "",
        ),
        ("  social-media mode, keywords only", f"accuracy {acc_plain:.3f}", ""),
        ("  no keyword at all / needs_review", f"{none_share:.3f} / {review:.3f}", ""),
        ("  accuracy when not needs_review", f"{np.mean(confident):.3f}", f"{len(df) / elapsed:.0f} texts/s"),
    ]
    rows += review_rows(
        [p.confidence for p in preds], [m == c for m, c in zip(mapped, df["category"], strict=True)]
    )
    texts, labels = list(df["text"]), [str(c) for c in df["category"]]
    if trained:
        cv = cross_validate("topics", texts, labels, folds=5)
        rows.append(
            (
                "sector, trained 5-fold CV",
                f"accuracy {cv.accuracy:.3f}, macro-F1 {cv.macro_f1:.3f}",
                "target ≥ 0.86 / 0.55 (held-out)",
            )
        )
    if baseline:
        acc_b, f1_b, _ = baseline_cv(texts, labels, "char")
        rows.append(
            (
                "  baseline char-TF-IDF + LinearSVC, same folds",
                f"accuracy {acc_b:.3f}, macro-F1 {f1_b:.3f}",
                "held-out: 0.83 / 0.49",
            )
        )
    return rows


def tone_rows(data: Path, trained: bool, baseline: bool = True) -> list[tuple[str, str, str]]:
    """Return table rows for tone macro-F1 (out of the box and trained)."""
    df = load_tweets(data)
    scorer = ToneScorer()
    preds = [scorer.score(analyse(t)).tone.value for t in df["text"]]
    f1 = f1_score(df["label"], preds, average="macro")
    acc = accuracy_score(df["label"], preds)
    rows = [
        (
            f"tone, lexicon (rusentitweet 3 classes, n={len(df)})",
            f"macro-F1 {f1:.3f}, acc {acc:.3f}",
            "target ≥ 0.55",
        )
    ]
    if trained:
        cv = cross_validate("tone", list(df["text"]), list(df["label"]), folds=5)
        rows.append(
            ("tone, trained 5-fold CV", f"macro-F1 {cv.macro_f1:.3f}, acc {cv.accuracy:.3f}", "target ≥ 0.70")
        )
    if baseline:
        acc_b, f1_b, _ = baseline_cv(list(df["text"]), list(df["label"]), "char")
        rows.append(
            (
                "  baseline char-TF-IDF + LinearSVC, same folds",
                f"macro-F1 {f1_b:.3f}, acc {acc_b:.3f}",
                "held-out: 0.67",
            )
        )
    return rows


def aggression_rows(data: Path, trained: bool, baseline: bool = True) -> list[tuple[str, str, str]]:
    """Return table rows for aggression ROC-AUC against inappropriate ≥ 0.5."""
    df = load_inappropriate(data)
    scorer, tone = AggressionScorer(), ToneScorer()
    docs = [analyse(t) for t in df["text"]]
    # As the understanding step does: the lexicon tone of the text goes in (a negative one adds a little).
    scores = [scorer.score(d, tone_score=tone.score(d).score).score for d in docs]
    y = (df["inappropriate"] >= 0.5).astype(int)
    auc = roc_auc_score(y, scores)
    rows = [
        (f"aggression, lexicon (inappropriate ≥ 0.5, n={len(df)})", f"ROC-AUC {auc:.3f}", "target ≥ 0.70")
    ]
    if "toxic_new" in df:
        auc_t = roc_auc_score((df["toxic_new"] >= 0.5).astype(int), scores)
        rows.append(("  same scores vs toxic_new ≥ 0.5", f"ROC-AUC {auc_t:.3f}", ""))
    if trained:
        cv = cross_validate("aggression", list(df["text"]), [str(int(v)) for v in y], folds=5)
        rows.append(
            (
                "aggression, trained 5-fold CV",
                f"ROC-AUC {cv.roc_auc:.3f}, macro-F1 {cv.macro_f1:.3f}",
                "target ≥ 0.78",
            )
        )
    if baseline:
        _, f1_b, auc_b = baseline_cv(list(df["text"]), [str(int(v)) for v in y], "char")
        rows.append(
            (
                "  baseline char-TF-IDF + LinearSVC, same folds",
                f"ROC-AUC {auc_b:.3f}, macro-F1 {f1_b:.3f}",
                "held-out: 0.72",
            )
        )
    return rows


def demo_rows() -> list[tuple[str, str, str]]:
    """Return sector / kind / territory agreement with the generated demo stream's own labels."""
    from crawlers.demo import DEMO_PROFILE_PATH
    from crawlers.demo.generator import generate_labelled
    from crawlers.demo.mapping import map_demo_item
    from index.profile import load_profile
    from risk.understand import Understander

    items, _, labels = generate_labelled(7)
    posts = [map_demo_item(raw, b"bench") for raw in items]
    start = time.perf_counter()
    out = Understander(load_profile(DEMO_PROFILE_PATH)).understand_many(posts)
    rate = len(posts) / (time.perf_counter() - start)
    sector, kind, territory = [0, 0], [0, 0], [0, 0]
    for post in out:
        label = labels.get(post.id)
        if label is None:
            continue
        for pair, want, got in (
            (sector, label.sector, post.sector),
            (kind, label.kind, post.kind.value if post.kind else None),
            (territory, label.territory, post.territory),
        ):
            if want:
                pair[0] += want == got
                pair[1] += 1
    return [
        (
            f"demo stream (n={len(posts)}): sector",
            f"accuracy {sector[0] / max(1, sector[1]):.3f}",
            f"{rate:.0f} posts/s",
        ),
        ("  kind", f"accuracy {kind[0] / max(1, kind[1]):.3f}", "generated texts, not dev data"),
        ("  territory", f"accuracy {territory[0] / max(1, territory[1]):.3f}", ""),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Print the quality table; return 1 when the dev data is missing."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--only", default="sector,tone,aggression,demo")
    parser.add_argument("--no-trained", action="store_true")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args(argv)
    if not (args.data / "dev").is_dir():
        print(f"нет данных для оценки: {args.data / 'dev'}", file=sys.stderr)
        return 1
    parts = set(args.only.split(","))
    rows: list[tuple[str, str, str]] = []
    if "sector" in parts:
        rows += sector_rows(args.data, not args.no_trained, not args.no_baseline)
    if "tone" in parts:
        rows += tone_rows(args.data, not args.no_trained, not args.no_baseline)
    if "aggression" in parts:
        rows += aggression_rows(args.data, not args.no_trained, not args.no_baseline)
    if "demo" in parts:
        rows += demo_rows()
    warnings.simplefilter("ignore")  # sklearn warns about classes with fewer members than folds
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)} | result | note")
    for name, value, note in rows:
        print(f"{name.ljust(width)} | {value} | {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
