"""Import an «Инцидент Менеджмент» (ИМ, ЦУР / Медиалогия) incident export: posts and incident history.

Columns (header row found anywhere in the first 20 rows; case, ё/е and extra spaces ignored):
required «Номер инцидента», «Текст инцидента», «Дата создания»; read when present «Группа тем»,
«Тема», «Муниципалитет», «Населенный пункт», «Улица», «Дом», «Исполнитель», «Дата окончания»
(or «Дата закрытия»), «Урл поста», «Тип инцидента», «Итог», «Промежуточный ответ», «Дата
промежуточного ответа», «Ответ» (or «Текст ответа»), «Дата ответа», «Приоритет», «Автор», «Соцсеть».
Other columns are kept in the post's raw row. Dates are local time of the profile's time zone.

Each row becomes a post `im:{номер}` (source "im", the ИМ «Группа тем»/«Тема» kept as the sector and
topic, the structured address as a place) and an incident `im:{номер}` whose status and outcome come
from «Итог», recipient from «Исполнитель», dates from the date columns.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from crawlers.imports.common import (
    History,
    ImportReport,
    Record,
    RowError,
    Understanding,
    address_place,
    date_cell,
    id_cell,
    import_rows,
    jsonable_row,
    norm_header,
    read_table,
    recipient_id,
    sector_label,
    territory_of,
    text_cell,
    topic_label,
    url_cell,
    zone,
)
from index.models import IncidentStatus, Kind, Outcome, Post, Priority
from index.profile import Profile
from index.store import Store

SOURCE = "im"
ACTOR = "импорт ИМ"

REQUIRED = ("Номер инцидента", "Текст инцидента", "Дата создания")
OPTIONAL = (
    "Группа тем",
    "Тема",
    "Муниципалитет",
    "Населенный пункт",
    "Улица",
    "Дом",
    "Исполнитель",
    "Дата окончания",
    "Урл поста",
    "Тип инцидента",
    "Итог",
    "Промежуточный ответ",
    "Дата промежуточного ответа",
    "Ответ",
    "Дата ответа",
    "Приоритет",
    "Автор",
    "Соцсеть",
)
ALIASES: dict[str, tuple[str, ...]] = {
    "Номер инцидента": ("№ инцидента", "ID инцидента", "Номер"),
    "Текст инцидента": ("Текст", "Текст сообщения"),
    "Дата окончания": ("Дата закрытия", "Дата завершения"),
    "Урл поста": ("URL поста", "Ссылка на пост", "Ссылка", "URL"),
    "Ответ": ("Текст ответа", "Окончательный ответ", "Финальный ответ"),
    "Дата ответа": ("Дата окончательного ответа",),
    "Промежуточный ответ": ("Текст промежуточного ответа",),
    "Приоритет": ("Важность",),
    "Соцсеть": ("Социальная сеть", "Площадка", "Источник"),
}

#: «Итог» → (status, outcome); None status means "derive it from the dates".
RESULTS: dict[str, tuple[IncidentStatus | None, Outcome | None]] = {
    "решено": (IncidentStatus.closed, Outcome.solved),
    "решен": (IncidentStatus.closed, Outcome.solved),
    "разъяснено": (IncidentStatus.closed, Outcome.explained),
    "дано разъяснение": (IncidentStatus.closed, Outcome.explained),
    "перенаправлено": (IncidentStatus.closed, Outcome.redirected),
    "переадресовано": (IncidentStatus.closed, Outcome.redirected),
    "не требует ответа": (IncidentStatus.closed, Outcome.no_answer_needed),
    "не требует реагирования": (IncidentStatus.closed, Outcome.no_answer_needed),
    "неактуально": (IncidentStatus.closed, Outcome.no_answer_needed),
    "закрыто": (IncidentStatus.closed, None),
    "закрыт": (IncidentStatus.closed, None),
    "завершено": (IncidentStatus.closed, None),
    "в работе": (IncidentStatus.assigned, None),
    "на рассмотрении": (IncidentStatus.assigned, None),
    "назначено": (IncidentStatus.assigned, None),
    "промежуточный ответ": (IncidentStatus.interim, None),
    "дан промежуточный ответ": (IncidentStatus.interim, None),
    "новый": (None, None),
    "новое": (None, None),
}
#: «Приоритет» / «Важность» → priority.
PRIORITIES: dict[str, Priority] = {
    "обычный": Priority.normal,
    "обычная": Priority.normal,
    "обычной важности": Priority.normal,
    "высокий": Priority.high,
    "высокая": Priority.high,
    "повышенной важности": Priority.high,
    "высокой степени важности": Priority.high,
    "срочный": Priority.high,
    "критический": Priority.critical,
    "критичный": Priority.critical,
}
#: «Тип инцидента» values that mark an informational signal rather than a complaint.
INFORMATIONAL_TYPES = frozenset({"информационный", "информационное"})


def row_record(row: int, values: dict[str, Any], profile: Profile, file: str, report: ImportReport) -> Record:
    """Return the record of one ИМ row; raise RowError (Russian) when the row cannot be imported."""
    tz = zone(profile)
    number = id_cell(values.get("Номер инцидента"), "Номер инцидента")
    text = text_cell(values.get("Текст инцидента"))
    if text is None:
        raise RowError("нет текста инцидента")
    created = date_cell(values.get("Дата создания"), "Дата создания", tz)
    if created is None:
        raise RowError("нет даты создания")

    def optional_date(column: str) -> datetime | None:
        try:
            return date_cell(values.get(column), column, tz)
        except RowError as exc:
            report.notes.append(f"строка {row}: {exc} — поле не заполнено, строка импортирована")
            return None

    closed = optional_date("Дата окончания")
    interim_at = optional_date("Дата промежуточного ответа")
    answered_at = optional_date("Дата ответа")
    result = text_cell(values.get("Итог"))
    status, outcome = RESULTS.get(norm_header(result), (None, None)) if result else (None, None)
    if result and norm_header(result) not in RESULTS:
        report.notes.append(f"строка {row}: неизвестный итог «{result}» — статус определён по датам")
    priority_text = text_cell(values.get("Приоритет"))
    priority = PRIORITIES.get(norm_header(priority_text)) if priority_text else None
    executor = text_cell(values.get("Исполнитель"))
    recipient, matched = recipient_id(executor, profile)
    if not matched:
        report.notes.append(f"строка {row}: исполнитель «{executor}» не найден в профиле — сохранён как есть")
    street, house = text_cell(values.get("Улица")), text_cell(values.get("Дом"))
    settlement, municipality = (
        text_cell(values.get("Населенный пункт")),
        text_cell(values.get("Муниципалитет")),
    )
    territory = territory_of((settlement, municipality), street, profile)
    answers: list[tuple[datetime | None, str, str]] = []
    if interim := text_cell(values.get("Промежуточный ответ")):
        answers.append((interim_at, "промежуточный ответ", interim))
    if final := text_cell(values.get("Ответ")):
        answers.append((answered_at, "ответ", final))
    incident_type = text_cell(values.get("Тип инцидента"))
    author = text_cell(values.get("Автор"))
    post_id = f"{SOURCE}:{number}"
    raw = jsonable_row(values) | {"_file": file, "_row": row}
    post = Post(
        id=post_id,
        source=SOURCE,
        source_id=number,
        url=url_cell(values.get("Урл поста")),
        author_name=author,
        published_at=created,
        text=text,
        raw=raw,
        thread_id=post_id,
    )
    informational = incident_type is not None and norm_header(incident_type) in INFORMATIONAL_TYPES
    return Record(
        row=row,
        post=post,
        sector=sector_label(text_cell(values.get("Группа тем"))),
        topic=topic_label(text_cell(values.get("Тема"))),
        place=address_place(street, house, territory),
        territory=territory,
        kind=Kind.information if informational else Kind.complaint,
        history=History(
            incident_id=post_id,
            actor=ACTOR,
            origin=f"{file}, строка {row}",
            recipient=recipient,
            status=status,
            outcome=outcome,
            priority=priority,
            closed_at=closed if status in (None, IncidentStatus.closed) else None,
            first_answered_at=interim_at,
            final_answered_at=answered_at,
            result_text=result,
            answers=answers,
        ),
    )


def import_im(
    path: Path, store: Store, profile: Profile, understander: Understanding, now: datetime
) -> ImportReport:
    """Import an ИМ export into the store; return the report (raise ImportFileError for an unusable file)."""
    table = read_table(path, REQUIRED, OPTIONAL, ALIASES)
    return import_rows(table, SOURCE, row_record, store, profile, understander, now)
