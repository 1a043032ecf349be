"""ИМ and ПОС imports with broken rows: every bad row is skipped with a Russian reason, the good rows
still land, and only a broken file as a whole is refused (ImportFileError); nothing else escapes."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from crawlers.demo import DEMO_PROFILE_PATH
from crawlers.imports import ImportFileError
from crawlers.imports.im import import_im
from crawlers.imports.pos import import_pos
from index.profile import load_profile
from index.sqlite import SqliteStore
from index.store import PostQuery
from risk.understand import Understander
from tests.crawlers.imports.exports import IM_COLUMNS, POS_COLUMNS, im_rows, pos_rows, write_csv, write_xlsx
from tests.fuzz.budget import fuzz

NOW = datetime(2024, 3, 6, 9, 0, tzinfo=UTC)
PROFILE = load_profile(DEMO_PROFILE_PATH)
UNDERSTANDER = Understander(PROFILE)

hostile_cell = st.one_of(
    st.none(),
    st.just(""),
    st.text(max_size=60),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.dates(),
    st.sampled_from(
        [
            "=1+1",
            "@SUM(A1)",
            "31.02.2024",
            "2024-13-45",
            "00.00.0000 25:61",
            "не дата",
            "1e400",
            "-0",
            "http://",
            "javascript:alert(1)",
            "я" * 100_000,
            "<script>alert(1)</script>",
            "Ё" * 3,
            "\u202e\ufeff",
        ]
    ),
)


def _xlsx_safe(value: Any) -> Any:
    """Return a value openpyxl can write (it refuses control characters in strings)."""
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)[:32_000]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, time):
        return None
    return value


def _csv_safe(value: Any) -> Any:
    """Return a value the cp1251 CSV writer of the tests can encode."""
    if value is None:
        return ""
    text = str(value)
    return text.encode("cp1251", errors="replace").decode("cp1251").replace("\x00", "")


def broken_rows(
    valid: list[dict[str, Any]], columns: tuple[str, ...]
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Return valid rows each with some cells replaced by hostile values (or dropped)."""

    def breaks(row: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        return st.dictionaries(st.sampled_from(columns), hostile_cell, max_size=4).map(lambda b: {**row, **b})

    return st.lists(st.sampled_from(valid).flatmap(breaks), min_size=1, max_size=6)


def _run(importer: Callable[..., Any], path: Path, tmp_path: Path, expect_good: int, n_rows: int) -> None:
    store = SqliteStore(tmp_path / f"{path.stem}.sqlite3")
    try:
        try:
            report = importer(path, store, PROFILE, UNDERSTANDER, NOW)
        except ImportFileError as exc:
            assert str(exc).strip()
            return
        done = report.imported + report.updated + report.unchanged
        assert done + len(report.skipped) >= n_rows  # every data row is accounted for
        assert all(reason.startswith("строка ") for reason in report.skipped)
        assert done >= expect_good, report.lines()  # the untouched rows still land
        assert store.count_posts(PostQuery()) >= expect_good
        assert report.lines()[-1] == report.summary()
    finally:
        store.close()


@given(rows=broken_rows(im_rows(), IM_COLUMNS))
@fuzz(15)
def test_im_xlsx_with_broken_rows(
    tmp_path_factory: pytest.TempPathFactory, rows: list[dict[str, Any]]
) -> None:
    tmp = tmp_path_factory.mktemp("im")
    good = im_rows()[:2]
    safe = [{k: _xlsx_safe(v) for k, v in row.items()} for row in rows]
    for i, row in enumerate(good):
        row["Номер инцидента"] = 900_000 + i  # numbers no broken row can take
    path = write_xlsx(tmp / "im.xlsx", [*good, *safe])
    _run(import_im, path, tmp, expect_good=len(good), n_rows=len(good) + len(safe))


@given(rows=broken_rows(pos_rows(), POS_COLUMNS))
@fuzz(15)
def test_pos_csv_with_broken_rows(
    tmp_path_factory: pytest.TempPathFactory, rows: list[dict[str, Any]]
) -> None:
    tmp = tmp_path_factory.mktemp("pos")
    good = pos_rows()[:2]
    for i, row in enumerate(good):
        row["Номер сообщения"] = str(900_000 + i)
    safe = [{k: _csv_safe(v) for k, v in row.items()} for row in rows]
    path = write_csv(tmp / "pos.csv", [*good, *safe])
    _run(import_pos, path, tmp, expect_good=len(good), n_rows=len(good) + len(safe))


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x00\x00\x00",
        b"\xff\xfe\x00garbage",
        "Номер сообщения;Текст\n1;\x00\n".encode(),
        b"PK\x03\x04not really a zip",
        ("Номер сообщения;" * 5000 + "\n").encode(),
        b'"unterminated;quote\n1;2\n',
    ],
    ids=["empty", "nul", "bom-garbage", "nul-in-row", "fake-zip", "wide-header", "quote"],
)
@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_broken_files_are_refused_in_russian(tmp_path: Path, content: bytes, suffix: str) -> None:
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(content)
    for importer in (import_im, import_pos):
        _run(importer, path, tmp_path, expect_good=0, n_rows=0)


def test_a_date_column_of_every_type(tmp_path: Path) -> None:
    rows = []
    for i, value in enumerate([date(2024, 3, 1), time(10, 0), 45000, 45000.5, -1, True, "01.03.2024"]):
        row = dict(im_rows()[0], **{"Номер инцидента": 500 + i, "Дата создания": value})
        rows.append(row)
    path = write_xlsx(tmp_path / "dates.xlsx", rows)
    _run(import_im, path, tmp_path, expect_good=0, n_rows=len(rows))
