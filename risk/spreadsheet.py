"""Neutralise formula injection in every table the system exports (CSV, XLSX).

Citizens' words reach the exports (topics, places, titles). A cell that starts with =, +, -, @ (or a
tab or carriage return before them) is run as a formula by Excel and LibreOffice when a CSV is opened,
and openpyxl itself stores any string starting with = as a formula. CSV cells get a leading apostrophe
(OWASP's advice; spreadsheets hide it); XLSX cells are written as plain strings, so they show exactly
what was said and are never evaluated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

#: First characters that make a spreadsheet treat a cell as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def is_formula_like(value: object) -> bool:
    """Return whether `value` is a string a spreadsheet would run as a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)


def csv_cell(value: Any) -> Any:
    """Return `value` safe for a CSV cell: formula-like strings get a leading apostrophe."""
    return "'" + value if is_formula_like(value) else value


def csv_rows(rows: Iterable[Sequence[Any]]) -> list[list[Any]]:
    """Return `rows` with every cell passed through csv_cell."""
    return [[csv_cell(value) for value in row] for row in rows]


def append_xlsx_row(sheet: Any, row: Sequence[Any]) -> None:
    """Append `row` to an openpyxl worksheet, keeping formula-like strings as plain text."""
    sheet.append(list(row))
    for cell in sheet[sheet.max_row]:
        if is_formula_like(cell.value):
            cell.data_type = "s"
