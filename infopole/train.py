"""`infopole train`: train a topics / tone / aggression model on a labelled CSV or XLSX (e.g. an ИМ export).

Prints the cross-validated accuracy and macro-F1, then fits on everything and saves the model file that
`infopole enrich --model` reads. Errors are printed in Russian; the exit code is 2 for unusable input.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import typer

from risk.sectors import SECTORS, TOPIC_GROUPS
from risk.trained import TASKS, ModelError, cross_validate, train

#: Cross-validation folds reported before the final fit.
CV_FOLDS = 5
#: Below this many labelled rows the cross-validation is skipped.
MIN_ROWS_FOR_CV = 10
#: An ИМ («Инцидент Менеджмент») export's columns, for the hint in error messages.
IM_COLUMNS = ("Текст инцидента", "Группа тем", "Тема")


class TrainError(Exception):
    """The training cannot run (message in Russian)."""


def read_table(path: Path) -> pd.DataFrame:
    """Return a CSV/TSV or XLSX file as a string DataFrame; raise TrainError when it cannot be read."""
    if not path.is_file():
        raise TrainError(f"файл не найден: {path}")
    suffix = path.suffix.lower()
    bad_lines: list[list[str]] = []

    def skip_bad(row: list[str]) -> None:
        bad_lines.append(row)

    try:
        if suffix in {".xlsx", ".xlsm", ".xls"}:
            return pd.read_excel(path, dtype=str)
        return pd.read_csv(
            path,
            sep=None,
            engine="python",
            dtype=str,
            encoding="utf-8-sig",
            encoding_errors="replace",
            on_bad_lines=skip_bad,
        )
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise TrainError(f"не удалось прочитать {path}: {exc}") from exc
    finally:
        if bad_lines:
            typer.echo(f"пропущено повреждённых строк: {len(bad_lines)}", err=True)


def _column(df: pd.DataFrame, name: str, what: str) -> str:
    """Return the real column name matching `name` (spaces and case ignored); raise TrainError."""
    wanted = name.strip().lower()
    for col in df.columns:
        if str(col).strip().lower() == wanted:
            return str(col)
    cols = ", ".join(map(str, df.columns))
    hint = f" (в выгрузке ИМ это {', '.join(IM_COLUMNS)})" if any(c in df.columns for c in IM_COLUMNS) else ""
    raise TrainError(f"нет столбца {what} {name!r}; есть: {cols}{hint}")


def run_train(task: str, file: Path, *, text_column: str, label_column: str, out: Path) -> None:
    """Train and save a model; raise TrainError or ModelError with a Russian message."""
    if task not in TASKS:
        raise TrainError(f"неизвестная задача {task!r}: допустимы {', '.join(TASKS)}")
    df = read_table(file)
    tcol = _column(df, text_column, "с текстом")
    lcol = _column(df, label_column, "с меткой")
    data = df[[tcol, lcol]].dropna()
    data = data[(data[tcol].str.strip() != "") & (data[lcol].str.strip() != "")]
    dropped = len(df) - len(data)
    texts = data[tcol].tolist()
    labels = [s.strip() for s in data[lcol].tolist()]
    typer.echo(
        f"примеров: {len(texts)} (без текста или метки пропущено: {dropped}), классов: {len(set(labels))}"
    )
    if task == "topics":
        foreign = sorted({x for x in labels if x not in TOPIC_GROUPS and x not in SECTORS})
        if foreign:
            shown = ", ".join(foreign[:5]) + (" …" if len(foreign) > 5 else "")
            typer.echo(
                f"метки не из рубрикатора ЦУР ({len(foreign)}) будут выдаваться как сектор без темы: {shown}"
            )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns about tiny classes; the counts are printed instead
        if len(texts) >= MIN_ROWS_FOR_CV:
            cv = cross_validate(task, texts, labels, folds=CV_FOLDS)
            auc = f", ROC-AUC {cv.roc_auc:.3f}" if cv.roc_auc is not None else ""
            quality = f"точность {cv.accuracy:.3f}, macro-F1 {cv.macro_f1:.3f}{auc}"
            typer.echo(f"{cv.folds}-кратная перекрёстная проверка: {quality}")
        else:
            typer.echo(f"примеров меньше {MIN_ROWS_FOR_CV}: перекрёстная проверка пропущена")
        model = train(task, texts, labels)
    if model.meta.get("dropped_rare_classes"):
        typer.echo(
            f"классы с одним примером не обучены: {', '.join(model.meta['dropped_rare_classes'][:10])}"
        )
    model.save(out)
    typer.echo(f"модель сохранена: {out}")


def train_file(task: str, file: Path, *, text_column: str, label_column: str, out: Path) -> None:
    """Train a model on a labelled CSV/XLSX, print its cross-validated quality, save it; exit 2 on errors."""
    try:
        run_train(task, file, text_column=text_column, label_column=label_column, out=out)
    except (TrainError, ModelError) as exc:
        typer.echo(f"ошибка: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    except OSError as exc:
        typer.echo(f"ошибка ввода-вывода: {exc}", err=True)
        raise typer.Exit(code=2) from exc
