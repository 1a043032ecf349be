"""The quality benchmark's bookkeeping: the ЦУР → kursk category map, confidence bands, missing data."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.quality import KURSK_CATEGORY, main, review_rows
from risk.sectors import REVIEW_THRESHOLD, SECTORS


def test_kursk_map_is_the_issues_mapping() -> None:
    assert set(KURSK_CATEGORY) <= set(SECTORS)
    assert {KURSK_CATEGORY[g] for g in ("ЖКХ", "Благоустройство", "Газ и топливо", "Электроснабжение")} == {3}
    assert KURSK_CATEGORY["Дороги"] == 0 and KURSK_CATEGORY["Безопасность"] == 1
    assert KURSK_CATEGORY["Мусор/Свалки/ТКО"] == KURSK_CATEGORY["Экология"] == 16
    assert 12 not in KURSK_CATEGORY.values()  # the dev set's "test" category is dropped
    assert len(set(KURSK_CATEGORY.values())) == 16


def test_review_rows_give_accuracy_per_confidence_band() -> None:
    rows = review_rows([0.1, 0.2, 0.5, 0.7, 0.9, 0.95], [False, True, True, True, True, True])
    bands = {name.strip(): (acc, n) for name, acc, n in rows}
    assert bands["confidence 0.00..0.30"] == ("accuracy 0.500", "n=2")
    assert bands[f"confidence 0.30..{REVIEW_THRESHOLD:.2f}"] == ("accuracy 1.000", "n=1")
    assert bands["confidence 0.80..1.00"] == ("accuracy 1.000", "n=2")
    assert f"confidence {REVIEW_THRESHOLD:.2f}..0.60" not in bands  # empty bands are left out


def test_missing_data_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data", str(tmp_path)]) == 1
    assert "нет данных для оценки" in capsys.readouterr().err
