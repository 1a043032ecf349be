"""Tests for infopole.train: CSV/XLSX reading (ИМ export columns), CV report, saved model, Russian errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd
import pytest
import typer

from infopole.enrich import enrich_file
from infopole.train import train_file
from risk.trained import TrainedModel, load_model

_TEMPLATES = {
    "ЖКХ": [
        "нет горячей воды {d} день",
        "батареи холодные, отопления нет в квартире",
        "течёт крыша в подъезде {d}",
    ],
    "Дороги": [
        "яма на дороге у дома {d}",
        "разбитый асфальт на улице, колёса бьём",
        "нет разметки на перекрёстке",
    ],
    "Образование": ["в школе {d} нет учителя физики", "очередь в детский сад огромная", "учебники не выдали"],
}


def im_export(n_per_class: int = 15) -> pd.DataFrame:
    """Return a small generated table shaped like an «Инцидент Менеджмент» export."""
    rng = random.Random(3)
    rows: list[dict[str, str | None]] = []
    for group, templates in _TEMPLATES.items():
        for i in range(n_per_class):
            text = rng.choice(templates).format(d=rng.randint(1, 50))
            rows.append(
                {"Исполнитель": f"МКУ {i % 3}", "Группа тем": group, "Текст инцидента": text, "Тема": "x"}
            )
    rows.append({"Исполнитель": "МКУ", "Группа тем": None, "Текст инцидента": "без метки", "Тема": "x"})
    return pd.DataFrame(rows)


def test_xlsx_round_trip_and_enrich_with_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    xlsx, model = tmp_path / "im.xlsx", tmp_path / "models" / "topics.joblib"
    im_export().to_excel(xlsx, index=False)
    train_file("topics", xlsx, text_column="Текст инцидента", label_column="группа тем", out=model)
    out = capsys.readouterr().out
    assert "примеров: 45 (без текста или метки пропущено: 1), классов: 3" in out
    assert "5-кратная перекрёстная проверка: точность" in out
    accuracy = float(out.split("точность ")[1].split(",")[0])
    assert accuracy >= 0.9
    assert f"модель сохранена: {model}" in out
    loaded = load_model(model)
    assert isinstance(loaded, TrainedModel) and sorted(loaded.labels) == sorted(_TEMPLATES)
    src = tmp_path / "in.jsonl"
    src.write_text(
        json.dumps({"text": "в квартире холодно, батареи ледяные"}, ensure_ascii=False) + "\n", "utf-8"
    )
    enrich_file(src, tmp_path / "o.jsonl", text_column="text", model_path=model, profile_path=None)
    row = json.loads((tmp_path / "o.jsonl").read_text(encoding="utf-8"))
    assert row["sector"] == "ЖКХ" and row["topic"] is not None


def test_csv_with_semicolons_and_own_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path = tmp_path / "labelled.csv"
    df = im_export(10).dropna()
    df["label"] = df["Группа тем"].map({"ЖКХ": "a", "Дороги": "b", "Образование": "c"})
    df.to_csv(csv_path, sep=";", index=False)
    train_file(
        "topics", csv_path, text_column="Текст инцидента", label_column="label", out=tmp_path / "m.joblib"
    )
    out = capsys.readouterr().out
    assert "метки не из рубрикатора ЦУР (3)" in out and "модель сохранена" in out


def test_tone_and_aggression_tasks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path = tmp_path / "tone.csv"
    texts = [
        "спасибо, отлично",
        "ужасно, позор",
        "автобус в 8",
        "класс, молодцы",
        "кошмар и бардак",
        "завтра среда",
    ]
    pd.DataFrame({"t": texts * 4, "y": ["positive", "negative", "neutral"] * 8}).to_csv(csv_path, index=False)
    train_file("tone", csv_path, text_column="t", label_column="y", out=tmp_path / "tone.joblib")
    agg_path = tmp_path / "agg.csv"
    pd.DataFrame(
        {"t": ["дебилы", "спасибо", "уроды", "добрый день"] * 5, "s": [0.9, 0.1, 0.8, 0.0] * 5}
    ).to_csv(agg_path, index=False)
    train_file("aggression", agg_path, text_column="t", label_column="s", out=tmp_path / "agg.joblib")
    out = capsys.readouterr().out
    assert "ROC-AUC" in out and out.count("модель сохранена") == 2


@pytest.mark.parametrize(
    ("task", "name", "text_col", "label_col", "message"),
    [
        ("colors", "im.xlsx", "Текст инцидента", "Группа тем", "неизвестная задача 'colors'"),
        ("topics", "missing.csv", "Текст инцидента", "Группа тем", "файл не найден"),
        ("topics", "im.xlsx", "Текст", "Группа тем", "нет столбца с текстом 'Текст'"),
        ("topics", "im.xlsx", "Текст инцидента", "Метка", "нет столбца с меткой 'Метка'"),
        ("topics", "one_class.csv", "t", "y", "два разных значения"),
        ("topics", "garbage.xlsx", "t", "y", "не удалось прочитать"),
    ],
)
def test_errors_exit_2_in_russian(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    task: str,
    name: str,
    text_col: str,
    label_col: str,
    message: str,
) -> None:
    im_export(3).to_excel(tmp_path / "im.xlsx", index=False)
    pd.DataFrame({"t": ["a", "b", "c"], "y": ["x", "x", "x"]}).to_csv(tmp_path / "one_class.csv", index=False)
    (tmp_path / "garbage.xlsx").write_bytes(b"this is not a spreadsheet")
    with pytest.raises(typer.Exit) as info:
        train_file(
            task, tmp_path / name, text_column=text_col, label_column=label_col, out=tmp_path / "m.joblib"
        )
    assert info.value.exit_code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m.joblib").exists()
