"""Render a справка or the weekly note as Markdown."""

from __future__ import annotations

from collections.abc import Sequence

from risk.indicators import KIND_NAMES, TONE_NAMES
from risk.reports import Report, ReportExample, change_label, number, pct


def _cell(value: object) -> str:
    """Return a table cell: one line, pipes escaped, HTML tags made inert (citizens' words are not markup)."""
    line = " ".join(str(value).split()).replace("|", "\\|")
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(url: str | None) -> str | None:
    """Return `url` when it is a web address safe to link (http or https, no spaces or brackets)."""
    if url and url.lower().startswith(("https://", "http://")) and not any(c in url for c in " ()<>"):
        return url
    return None


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """Return Markdown table lines."""
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _example(e: ReportExample) -> str:
    url = _link(e.url)
    where = f"[{_cell(e.source)}]({url})" if url else _cell(e.source)
    return f"  - {e.local_time}, {where}, {_cell(e.author)}: «{_cell(e.text)}»"


def sections(report: Report) -> list[tuple[str, list[str]]]:
    """Return the report's sections as (heading, Markdown lines)."""
    ind = report.indicators
    out: list[tuple[str, list[str]]] = []
    out.append(
        (
            "1. Ключевые показатели",
            table(
                ["Показатель", "Значение", "Примечание"],
                [[k.label, k.value, k.note] for k in report.key_numbers],
            ),
        )
    )
    out.append(
        (
            "2. Каналы",
            table(
                ["Канал", "Сообщений", "Доля", "Изменение"],
                [
                    [c.name, number(c.count), pct(c.share), change_label(c.change_pct)]
                    for c in report.channels
                ],
            ),
        )
    )
    lines = table(
        ["Тема", "Сообщений", "Доля", "Было", "Изменение", "Типичные вопросы"],
        [
            [
                t.title,
                number(t.count),
                pct(t.share),
                number(t.previous),
                change_label(t.change_pct),
                "; ".join(t.subtopics),
            ]
            for t in report.topics
        ],
    )
    for t in report.topics:
        if t.examples:
            lines += ["", f"Примеры — {t.title}:"] + [_example(e) for e in t.examples]
    out.append(("3. Основные темы", lines))
    out.append(
        (
            "4. Территории",
            table(
                ["Территория", "Сообщений", "Доля", "Изменение"],
                [
                    [t.name, number(t.count), pct(t.share), change_label(t.change_pct)]
                    for t in report.territories
                ],
            ),
        )
    )
    tone_rows = [
        [TONE_NAMES.get(t.key or "", "не определена"), number(t.count), pct(t.share)] for t in report.tones
    ]
    kind_rows = [
        [KIND_NAMES.get(k.key or "", "не определён"), number(k.count), pct(k.share)] for k in report.kinds
    ]
    out.append(
        (
            "5. Тональность и типы сообщений",
            [
                *table(["Тональность", "Сообщений", "Доля"], tone_rows),
                "",
                *table(["Тип", "Сообщений", "Доля"], kind_rows),
            ],
        )
    )
    out.append(
        (
            "6. Резонансные публикации",
            table(
                ["Дата", "Источник", "Автор", "Охват", "Реакции", "Текст"],
                [
                    [e.local_time, e.source, e.author, number(e.reach), number(e.engagement), e.text]
                    for e in report.resonant
                ],
            ),
        )
    )
    inc = ind.incidents
    lines = [
        f"Открыто инцидентов: {number(inc.opened)}; отвечено в срок: {number(inc.answered_on_time)} "
        f"({pct(inc.share_answered_on_time)}); с окончательным ответом: {number(inc.final_answered)} "
        f"({pct(inc.share_final)}); просрочено сейчас: {number(inc.overdue)}.",
    ]
    if inc.satisfaction is not None and inc.satisfaction.share is not None:
        lines.append(f"Удовлетворённость после ответа: {pct(inc.satisfaction.share)}.")
    if report.incidents_overdue:
        lines += ["", f"Просроченные инциденты ({number(report.incidents_overdue_total)}):", ""]
        lines += table(
            ["Инцидент", "Исполнитель", "Приоритет", "Статус", "Срок", "Сообщений"],
            [
                [i.title, i.recipient, i.priority, i.status, i.deadline, i.messages]
                for i in report.incidents_overdue
            ],
        )
    out.append(("7. Инциденты и сроки", lines))
    out.append(
        (
            "8. Работа исполнителей",
            table(
                [
                    "Место",
                    "Исполнитель",
                    "Инцидентов",
                    "В срок",
                    "Окончательных",
                    "Просрочено",
                    "Ср. время, раб. ч",
                    "Балл",
                ],
                [
                    [
                        r.rank or "не оценивается",
                        r.name,
                        r.incidents,
                        pct(r.timeliness),
                        pct(r.completeness),
                        r.overdue,
                        "—" if r.first_answer_avg_hours is None else number(r.first_answer_avg_hours),
                        "—" if r.score is None else number(r.score),
                    ]
                    for r in report.recipients
                ],
            ),
        )
    )
    if report.pages is not None:
        lines = table(
            ["Страница", "Публикаций в неделю", "Норма", "Просмотры", "ER, %", "Отвечено", "Без ответа"],
            [
                [
                    p.name,
                    number(p.posts_per_week),
                    p.norm_per_week,
                    number(p.views),
                    "—" if p.er_views is None else number(p.er_views),
                    pct(p.answered_share),
                    p.unanswered,
                ]
                for p in report.pages
            ],
        )
        out.append(("9. Госпаблики", lines))
    n = len(out) + 1
    out.append((f"{n}. Риски", [f"- {r}" for r in report.risks]))
    out.append((f"{n + 1}. Рекомендации", [f"- {r}" for r in report.recommendations]))
    return out


def render_markdown(report: Report) -> str:
    """Return the report as Markdown text."""
    lines = [
        f"# {report.title}",
        "",
        f"**{report.subtitle}**",
        "",
        f"Период: {report.period_label}; срез: {report.slice_label}; источники: {report.sources_label}.",
        "",
    ]
    if report.pseudonymised:
        lines += ["_Персональные данные жителей обезличены._", ""]
    for heading, body in sections(report):
        lines += [f"## {heading}", "", *body, ""]
    lines.append(f"Сформировано: {report.generated_at:%d.%m.%Y %H:%M} UTC, «Инфополе».")
    return "\n".join(lines) + "\n"
