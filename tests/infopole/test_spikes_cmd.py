"""Tests for `infopole spikes`: reading the CSV, bad rows, printing and the JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from infopole.cli import app
from infopole.spikes_cmd import clean_rows, format_alarm, spikes_file

runner = CliRunner()


def write_series(path: Path, *, burst: bool = True, days: int = 6) -> Path:
    """Write a 5-minute Poisson series with an optional burst on the last day."""
    rng = np.random.default_rng(11)
    n = 288 * days
    values = rng.poisson(20, n)
    if burst:
        values[n - 100 : n - 94] += 400
    times = pd.date_range("2024-05-01", periods=n, freq="5min")
    pd.DataFrame({"timestamp": times.strftime("%Y-%m-%d %H:%M:%S"), "value": values}).to_csv(
        path, index=False
    )
    return path


def test_spikes_file_prints_and_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_series(tmp_path / "s.csv")
    out = tmp_path / "out" / "alarms.json"
    spikes_file(src, out)
    printed = capsys.readouterr().out
    alarms = json.loads(out.read_text(encoding="utf-8"))
    assert alarms, printed
    burst = pd.Timestamp("2024-05-01") + pd.Timedelta(minutes=5 * (288 * 6 - 100))
    assert any(
        pd.Timestamp(a["timestamp"]) == burst + pd.Timedelta(minutes=5 * k) for a in alarms for k in range(4)
    )
    assert "серьёзность" in printed and "при норме" in printed
    assert "эпизод" in printed
    assert f"записано: {out}" in printed
    assert {"timestamp", "severity", "observed", "expected"} <= set(alarms[0])


def test_spikes_file_without_spikes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_series(tmp_path / "s.csv", burst=False, days=2)
    spikes_file(src, None)
    assert "всплесков не найдено" in capsys.readouterr().out


def test_missing_file_is_a_russian_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as info:
        spikes_file(tmp_path / "nope.csv", None)
    assert info.value.exit_code == 2
    assert "файл не найден" in capsys.readouterr().err


def test_missing_column_is_a_russian_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "bad.csv"
    src.write_text("time,count\n2024-01-01,1\n", encoding="utf-8")
    with pytest.raises(typer.Exit):
        spikes_file(src, None)
    err = capsys.readouterr().err
    assert "нет столбцов timestamp, value" in err
    assert "есть: time, count" in err


def test_empty_and_too_short_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(typer.Exit):
        spikes_file(empty, None)
    assert "файл пуст" in capsys.readouterr().err
    short = tmp_path / "short.csv"
    short.write_text("timestamp,value\n2024-01-01 00:00,1\n", encoding="utf-8")
    with pytest.raises(typer.Exit):
        spikes_file(short, None)
    assert "меньше трёх" in capsys.readouterr().err


def test_bad_rows_are_reported_and_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_series(tmp_path / "s.csv")
    lines = src.read_text(encoding="utf-8").splitlines()
    lines[3] = "вчера,5"
    lines[4] = lines[4].split(",")[0] + ",много"
    lines[5] = lines[5].split(",")[0] + ",-4"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "a.json"
    spikes_file(src, out)
    captured = capsys.readouterr()
    assert "пропущено строк: 3" in captured.err
    assert "строка 4: не разобрать время «вчера»" in captured.err
    assert "строка 5: не число «много»" in captured.err
    assert "строка 6: отрицательное значение -4" in captured.err
    assert json.loads(out.read_text(encoding="utf-8"))  # the rest is still analysed


def test_clean_rows_accepts_decimal_comma_and_header_case() -> None:
    df = pd.DataFrame({"timestamp": ["2024-01-01 00:00", "2024-01-01 01:00"], "value": ["1,5", " 2 "]})
    rows, problems = clean_rows(df)
    assert problems == []
    assert rows["value"].tolist() == [1.5, 2.0]


def test_format_alarm() -> None:
    line = format_alarm(
        {
            "timestamp": "2015-03-03T21:07:53",
            "severity": 7,
            "observed": 3228.0,
            "expected": 103.74,
            "window_observed": 0.0,
            "window_expected": 0.0,
            "p_value": 0.0,
            "episode_start": "2015-03-03T21:07:53",
        }
    )
    assert line == "2015-03-03 21:07:53  серьёзность  7  значение 3228 при норме 103,7"


def test_cli_command(tmp_path: Path) -> None:
    src = write_series(tmp_path / "s.csv")
    out = tmp_path / "alarms.json"
    result = runner.invoke(app, ["spikes", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists()
    missing = runner.invoke(app, ["spikes", str(tmp_path / "missing.csv")])
    assert missing.exit_code == 2
