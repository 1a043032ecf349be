"""`infopole spikes SERIES.csv [--out alarms.json]`: the spike detector on any timestamp,value series."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import typer

from risk.spikes import SeriesAlarm, SeriesError, detect_series

#: How many bad rows are listed one by one before the rest are only counted.
MAX_LISTED_BAD_ROWS = 10


def _fail(message: str) -> typer.Exit:
    """Print a Russian error to stderr and return the exit to raise (code 2)."""
    typer.echo(f"ошибка: {message}", err=True)
    return typer.Exit(code=2)


def _read(path: Path) -> pd.DataFrame:
    """Read the CSV as text columns; raise typer.Exit with a Russian message when it cannot be read."""
    if not path.exists():
        raise _fail(f"файл не найден: {path}")
    if path.is_dir():
        raise _fail(f"это папка, а не файл: {path}")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise _fail(f"файл пуст: {path}") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise _fail(f"файл {path} не читается как CSV в UTF-8: {exc}") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = [c for c in ("timestamp", "value") if c not in df.columns]
    if missing:
        present = ", ".join(df.columns)
        raise _fail(
            f"в файле {path} нет столбцов {', '.join(missing)} (нужны timestamp,value; есть: {present})"
        )
    return df


def _parse_times(raw: pd.Series) -> pd.Series:
    """Parse timestamps (NaT where unparseable); mixed UTC offsets are converted to UTC."""
    text = raw.astype(str).str.strip()
    try:
        times = pd.to_datetime(text, errors="coerce", format="mixed")
    except (ValueError, TypeError):
        times = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
    if not pd.api.types.is_datetime64_any_dtype(times):
        times = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
    return times


def clean_rows(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Return the usable rows as timestamp,value and a Russian description of every bad row."""
    times = _parse_times(df["timestamp"])
    values = pd.to_numeric(
        df["value"].astype(str).str.strip().str.replace(",", ".", regex=False), errors="coerce"
    )
    problems: list[str] = []
    for pos in range(len(df)):
        line = pos + 2  # the header is line 1
        if pd.isna(times.iloc[pos]):
            problems.append(f"строка {line}: не разобрать время «{df['timestamp'].iloc[pos]}»")
        elif pd.isna(values.iloc[pos]):
            problems.append(f"строка {line}: не число «{df['value'].iloc[pos]}»")
        elif values.iloc[pos] < 0:
            problems.append(f"строка {line}: отрицательное значение {df['value'].iloc[pos]}")
    ok = times.notna() & values.notna() & (values >= 0)
    return pd.DataFrame({"timestamp": times[ok], "value": values[ok]}).reset_index(drop=True), problems


def _number(value: float) -> str:
    """Format a number the Russian way (comma decimal, no trailing zeros)."""
    text = f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    return text.replace(".", ",")


def format_alarm(alarm: SeriesAlarm) -> str:
    """Return one alarm as a Russian line: time, severity, value against normal."""
    when = pd.Timestamp(alarm["timestamp"]).strftime("%Y-%m-%d %H:%M:%S")
    return (
        f"{when}  серьёзность {alarm['severity']:>2}  значение {_number(alarm['observed'])} "
        f"при норме {_number(alarm['expected'])}"
    )


def spikes_file(series: Path, out: Path | None) -> None:
    """Detect spikes in a timestamp,value CSV, print them and write them as JSON to `out` when given.

    Bad rows are reported on stderr and skipped; an unreadable file, missing columns or a series the
    detector cannot use end with a Russian message and exit code 2.
    """
    df = _read(series)
    rows, problems = clean_rows(df)
    if problems:
        typer.echo(f"пропущено строк: {len(problems)}", err=True)
        for problem in problems[:MAX_LISTED_BAD_ROWS]:
            typer.echo(f"  {problem}", err=True)
        if len(problems) > MAX_LISTED_BAD_ROWS:
            typer.echo(f"  … и ещё {len(problems) - MAX_LISTED_BAD_ROWS}", err=True)
    try:
        alarms = detect_series(rows)
    except SeriesError as exc:
        raise _fail(f"{series}: {exc}") from None
    for alarm in alarms:
        typer.echo(format_alarm(alarm))
    episodes = len({a["episode_start"] for a in alarms})
    if alarms:
        typer.echo(f"эпизоды всплесков: {episodes} (отметок: {len(alarms)})")
    else:
        typer.echo("всплесков не найдено")
    if out is not None:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(alarms, ensure_ascii=False, indent=2), encoding="utf-8")
        except OSError as exc:
            raise _fail(f"не удалось записать {out}: {exc}") from None
        typer.echo(f"записано: {out}")
