"""Справки and the weekly note: content from the indicators, DOCX read back, Markdown, pseudonymisation."""

from __future__ import annotations

import io

import pytest
from docx import Document

from api.report_files import PdfUnavailable, docx_to_pdf, render_report
from index.sqlite import SqliteStore
from risk.indicators import Slice
from risk.report_docx import render_docx
from risk.report_md import render_markdown
from risk.reports import build_report, change_label, number, pct, period_label
from tests.risk.test_indicators import MSK, NOW, SINCE, UNTIL, build_profile, fill


def _docx_text(content: bytes) -> str:
    doc = Document(io.BytesIO(content))
    parts = [p.text for p in doc.paragraphs]
    parts += [cell.text for table in doc.tables for row in table.rows for cell in row.cells]
    return "\n".join(parts)


@pytest.fixture
def filled(sqlite_store: SqliteStore) -> SqliteStore:
    fill(sqlite_store)
    return sqlite_store


def test_weekly_note_docx_holds_the_indicator_numbers(filled: SqliteStore) -> None:
    report = build_report(filled, build_profile(), "weekly", SINCE, UNTIL, NOW)
    ind = report.indicators
    assert (ind.volume.total, ind.incidents.opened, ind.incidents.overdue) == (8, 3, 1)
    content = render_docx(report)
    doc = Document(io.BytesIO(content))
    assert len(doc.inline_shapes) >= 3  # charts as images
    text = _docx_text(content)
    assert "Еженедельная аналитическая записка" in text
    assert "с 4 по 6 марта 2024 г." in text
    assert number(ind.volume.total) in text and change_label(ind.volume.change_pct) == "+300 %" in text
    assert pct(ind.tension.index if ind.tension else None) == "37,5 %" in text
    assert "−12,5 п. п." in text
    assert "1,5 раб. ч" in text  # the average time to the first answer
    assert "УК «Дом»" in text and "50" in text  # the rated recipient and its score
    assert "Госпаблики" in text and "Риски" in text and "Рекомендации" in text


def test_reference_note_for_a_sector_lists_its_topics_and_hides_names(filled: SqliteStore) -> None:
    report = build_report(filled, build_profile(), "reference", SINCE, UNTIL, NOW, Slice(sector="жкх"))
    assert report.pages is None and report.title == "Справка"
    assert [(t.title, t.count, t.previous) for t in report.topics] == [("отопление", 3, 1)]
    quoted = [e for t in report.topics for e in t.examples]
    assert quoted and all(e.author.startswith("житель #") for e in quoted)
    assert all("+7 900" not in e.text for e in quoted) and any("[телефон]" in e.text for e in quoted)
    md = render_markdown(report)
    assert "Иван Петров" not in md and "сектор «жкх»" in md
    assert "| отопление | 3 | 100 % | 1 | +200 % |" in md
    named = build_report(
        filled, build_profile(), "reference", SINCE, UNTIL, NOW, Slice(sector="жкх"), reveal_personal=True
    )
    assert "Иван Петров" in render_markdown(named)


def test_risks_come_from_the_data(filled: SqliteStore) -> None:
    report = build_report(filled, build_profile(), "weekly", SINCE, UNTIL, NOW)
    assert any("Просрочено 1 инцидент" in r and "Дорожный отдел" in r for r in report.risks)
    assert any("Дорожный отдел" in r for r in report.recommendations)


def test_pdf_without_libreoffice_is_a_clear_error(
    filled: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("api.report_files.soffice_path", lambda: None)
    with pytest.raises(PdfUnavailable, match="LibreOffice"):
        docx_to_pdf(b"PK")
    report = build_report(filled, build_profile(), "reference", SINCE, UNTIL, NOW)
    assert render_report(report, "md").content.decode("utf-8").startswith("# Справка")
    assert render_report(report, "docx").filename == "reference-2024-03-04.docx"


def test_period_labels() -> None:
    from datetime import UTC, datetime

    assert period_label(SINCE, UNTIL, MSK) == "с 4 по 6 марта 2024 г."  # 03:00 Moscow to 03:00
    assert period_label(datetime(2024, 2, 26, tzinfo=UTC), datetime(2024, 3, 4, tzinfo=UTC), MSK) == (
        "с 26 февраля по 4 марта 2024 г."
    )
