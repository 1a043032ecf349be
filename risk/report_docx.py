"""Render a справка or the weekly note as DOCX (python-docx): headings, tables and charts as images."""

from __future__ import annotations

import io
from collections.abc import Sequence

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm, Pt

from risk.indicators import TONE_NAMES
from risk.report_charts import bar_chart, hbar_chart
from risk.report_md import sections
from risk.reports import Report

#: Width of a chart on the page.
CHART_WIDTH = Cm(16)


def _table(doc: DocxDocument, lines: Sequence[str]) -> None:
    """Add a Markdown table (header, rule, rows) as a Word table."""
    rows = [[c.strip().replace("\\|", "|") for c in line.strip().strip("|").split(" | ")] for line in lines]
    header, body = rows[0], rows[2:]
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = text
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row in body:
        cells = table.add_row().cells
        for cell, text in zip(cells, row, strict=False):
            cell.text = text
    for row in table.rows:
        for cell in row.cells:
            for paragraph in cell.paragraphs:
                for run in paragraph.runs:
                    run.font.size = Pt(9)


def _body(doc: DocxDocument, lines: Sequence[str]) -> None:
    """Add Markdown lines: tables as tables, list items as bullets, the rest as paragraphs."""
    block: list[str] = []
    for line in [*lines, ""]:
        if line.startswith("|"):
            block.append(line)
            continue
        if block:
            _table(doc, block)
            block = []
        if not line.strip():
            continue
        if line.startswith("- ") or line.startswith("  - "):
            doc.add_paragraph(line.strip()[2:], style="List Bullet")
        else:
            doc.add_paragraph(line)


def _picture(doc: DocxDocument, png: bytes) -> None:
    doc.add_picture(io.BytesIO(png), width=CHART_WIDTH)
    doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER


def _charts(report: Report) -> dict[str, bytes]:
    """Return the charts of the sections that have one, by section number."""
    ind = report.indicators
    charts: dict[str, bytes] = {}
    days = ind.volume.by_day
    if days:
        charts["1"] = bar_chart(
            [d.day.strftime("%d.%m") for d in days], [d.count for d in days], "Сообщений по дням"
        )
    if report.channels:
        charts["2"] = hbar_chart(
            [c.name for c in report.channels], [c.count for c in report.channels], "Каналы"
        )
    if report.topics:
        charts["3"] = hbar_chart(
            [t.title for t in report.topics], [t.count for t in report.topics], "Основные темы"
        )
    if report.territories:
        charts["4"] = hbar_chart(
            [t.name for t in report.territories], [t.count for t in report.territories], "Территории"
        )
    tones = [t for t in report.tones if t.key is not None]
    if any(t.count for t in tones):
        charts["5"] = bar_chart(
            [TONE_NAMES.get(t.key or "", "") for t in tones], [t.count for t in tones], "Тональность"
        )
    return charts


def render_docx(report: Report) -> bytes:
    """Return the report as a DOCX document."""
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "Times New Roman"
    style.font.size = Pt(11)
    for section in doc.sections:
        section.left_margin = section.right_margin = Cm(2)
    heading = doc.add_heading(report.title, level=0)
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    sub = doc.add_paragraph(report.subtitle)
    sub.alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.add_paragraph(
        f"Период: {report.period_label}; срез: {report.slice_label}; источники: {report.sources_label}."
    )
    if report.pseudonymised:
        doc.add_paragraph("Персональные данные жителей обезличены.").runs[0].italic = True
    charts = _charts(report)
    for title, lines in sections(report):
        doc.add_heading(title, level=1)
        _body(doc, lines)
        chart = charts.get(title.split(".", 1)[0])
        if chart is not None:
            _picture(doc, chart)
    doc.add_paragraph(f"Сформировано: {report.generated_at:%d.%m.%Y %H:%M} UTC, «Инфополе».")
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
