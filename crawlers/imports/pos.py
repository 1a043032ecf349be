"""Import a ПОС («Платформа обратной связи», Госуслуги. Решаем вместе) message export: posts and history.

No public ПОС export format was found, so this import reads the column set documented in
crawlers/imports/README.md (CSV with `;`/`,`/tab, UTF-8 or Windows-1251, or XLSX):
required «Номер сообщения», «Дата регистрации», «Текст сообщения»; read when present «Категория»,
«Подкатегория», «Тип сообщения», «Муниципальное образование», «Населенный пункт», «Адрес»,
«Ответственный», «Статус», «Срок ответа», «Промежуточный ответ», «Дата промежуточного ответа»,
«Текст ответа», «Дата ответа», «Оценка заявителя», «Канал поступления», «Ссылка».

Each row becomes a post `pos:{номер}` (source "pos") and an incident `pos:{номер}`. A ПОС category
that is a ЦУР topic group (or one of the common ПОС names mapped in CATEGORY_GROUPS) becomes the
sector; otherwise the understanding step's sector stands and the category stays in the raw row.
"""

from __future__ import annotations

import re
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
from index.models import IncidentStatus, Kind, Outcome, Post
from index.profile import Profile
from index.store import Store
from risk.sectors import SECTORS, TOPIC_GROUPS

SOURCE = "pos"
ACTOR = "импорт ПОС"

REQUIRED = ("Номер сообщения", "Дата регистрации", "Текст сообщения")
OPTIONAL = (
    "Категория",
    "Подкатегория",
    "Тип сообщения",
    "Муниципальное образование",
    "Населенный пункт",
    "Адрес",
    "Ответственный",
    "Статус",
    "Срок ответа",
    "Промежуточный ответ",
    "Дата промежуточного ответа",
    "Текст ответа",
    "Дата ответа",
    "Оценка заявителя",
    "Канал поступления",
    "Ссылка",
)
ALIASES: dict[str, tuple[str, ...]] = {
    "Номер сообщения": ("№ сообщения", "ID сообщения", "Номер"),
    "Дата регистрации": ("Дата поступления", "Дата создания"),
    "Текст сообщения": ("Текст", "Описание"),
    "Ответственный": ("Исполнитель", "Ответственный орган"),
    "Оценка заявителя": ("Оценка",),
    "Канал поступления": ("Источник", "Канал"),
    "Муниципальное образование": ("Муниципалитет",),
}

#: «Статус» → (status, outcome); None status means "derive it from the dates".
STATUSES: dict[str, tuple[IncidentStatus | None, Outcome | None]] = {
    "зарегистрировано": (None, None),
    "новое": (None, None),
    "на рассмотрении": (IncidentStatus.assigned, None),
    "в работе": (IncidentStatus.assigned, None),
    "назначено исполнителю": (IncidentStatus.assigned, None),
    "промежуточный ответ": (IncidentStatus.interim, None),
    "продлен срок": (IncidentStatus.interim, None),
    "ответ направлен": (IncidentStatus.closed, Outcome.explained),
    "дан ответ": (IncidentStatus.closed, Outcome.explained),
    "решено": (IncidentStatus.closed, Outcome.solved),
    "отклонено": (IncidentStatus.closed, Outcome.no_answer_needed),
    "оставлено без ответа": (IncidentStatus.closed, Outcome.no_answer_needed),
    "перенаправлено": (IncidentStatus.closed, Outcome.redirected),
    "передано по компетенции": (IncidentStatus.closed, Outcome.redirected),
    "закрыто": (IncidentStatus.closed, None),
}
#: «Тип сообщения» → kind (ПОС widgets: «Сообщить о проблеме», «Высказать мнение»).
KINDS: dict[str, Kind] = {
    "жалоба": Kind.complaint,
    "сообщение о проблеме": Kind.complaint,
    "проблема": Kind.complaint,
    "вопрос": Kind.question,
    "предложение": Kind.suggestion,
    "мнение": Kind.suggestion,
    "благодарность": Kind.gratitude,
}
#: Common ПОС category names → ЦУР topic group.
CATEGORY_GROUPS: dict[str, str] = {
    "дороги": "Дороги",
    "автомобильные дороги": "Дороги",
    "благоустройство": "Благоустройство",
    "жкх": "ЖКХ",
    "жилищно-коммунальное хозяйство": "ЖКХ",
    "транспорт": "Общественный транспорт",
    "общественный транспорт": "Общественный транспорт",
    "здравоохранение": "Здравоохранение/Медицина",
    "медицина": "Здравоохранение/Медицина",
    "образование": "Образование",
    "мусор": "Мусор/Свалки/ТКО",
    "вывоз мусора": "Мусор/Свалки/ТКО",
    "обращение с отходами": "Мусор/Свалки/ТКО",
    "экология": "Экология",
    "социальная защита": "Социальное обслуживание и защита",
    "социальное обслуживание": "Социальное обслуживание и защита",
    "культура": "Культура",
    "спорт": "Физическая культура и спорт",
    "связь": "Связь и телевидение",
    "электроснабжение": "Электроснабжение",
    "газоснабжение": "Газ и топливо",
    "строительство": "Строительство и архитектура",
    "безопасность": "Безопасность",
    "торговля": "Торговля",
}
_STREET_TYPES = r"(?:ул\.?|улица|пр-т|просп\.?|проспект|пер\.?|переулок|б-р|бульвар|пл\.?|площадь|ш\.?|шоссе)"
_STREET_BEFORE = re.compile(rf"^\s*{_STREET_TYPES}\s+(?P<name>.+?)\s*$", re.IGNORECASE)
_STREET_AFTER = re.compile(rf"^\s*(?P<name>.+?)\s+{_STREET_TYPES}\s*$", re.IGNORECASE)
_HOUSE = re.compile(r"^\s*(?:д\.|дом)\s*(?P<house>\d+\S*)\s*$", re.IGNORECASE)
_BARE_HOUSE = re.compile(r"^\s*(?P<house>\d+[а-яa-z]?(?:[/-]\d+)?(?:\s*к\.?\s*\d+)?)\s*$", re.IGNORECASE)


def parse_address(address: str | None) -> tuple[str | None, str | None]:
    """Return (street, house) of a free-form address: «г. Заречинск, ул. Садовая, д. 5», «Садовая ул., 5»."""
    if not address:
        return None, None
    parts = [p.strip() for p in address.split(",")]
    street: str | None = None
    house: str | None = None
    for index, part in enumerate(parts):
        match = _STREET_BEFORE.match(part) or _STREET_AFTER.match(part)
        if match and street is None:
            street = match.group("name").strip()
            following = parts[index + 1] if index + 1 < len(parts) else ""
            bare = _BARE_HOUSE.match(following)
            if bare:
                house = bare.group("house")
            continue
        labelled = _HOUSE.match(part)
        if labelled and house is None:
            house = labelled.group("house")
    return street, house


def _labels(category: str | None, subcategory: str | None) -> tuple[str | None, str | None]:
    """Return (sector, topic) from a ПОС category and subcategory when they map onto the ЦУР rubricator."""
    topic = topic_label(subcategory)
    if topic in TOPIC_GROUPS:
        return TOPIC_GROUPS[topic], topic
    sector = sector_label(category)
    if sector not in SECTORS and category:
        sector = CATEGORY_GROUPS.get(norm_header(category))
    return (sector, None) if sector in SECTORS else (None, None)


def row_record(row: int, values: dict[str, Any], profile: Profile, file: str, report: ImportReport) -> Record:
    """Return the record of one ПОС row; raise RowError (Russian) when the row cannot be imported."""
    tz = zone(profile)
    number = id_cell(values.get("Номер сообщения"), "Номер сообщения")
    text = text_cell(values.get("Текст сообщения"))
    if text is None:
        raise RowError("нет текста сообщения")
    created = date_cell(values.get("Дата регистрации"), "Дата регистрации", tz)
    if created is None:
        raise RowError("нет даты регистрации")

    def optional_date(column: str) -> datetime | None:
        try:
            return date_cell(values.get(column), column, tz)
        except RowError as exc:
            report.notes.append(f"строка {row}: {exc} — поле не заполнено, строка импортирована")
            return None

    due = optional_date("Срок ответа")
    interim_at = optional_date("Дата промежуточного ответа")
    answered_at = optional_date("Дата ответа")
    state = text_cell(values.get("Статус"))
    status, outcome = STATUSES.get(norm_header(state), (None, None)) if state else (None, None)
    if state and norm_header(state) not in STATUSES:
        report.notes.append(f"строка {row}: неизвестный статус «{state}» — статус определён по датам")
    closed_at = answered_at if status == IncidentStatus.closed else None
    rating = text_cell(values.get("Оценка заявителя"))
    if rating is not None and rating not in {"1", "2", "3", "4", "5"}:
        report.notes.append(f"строка {row}: оценка «{rating}» не от 1 до 5 — сохранена как есть")
    executor = text_cell(values.get("Ответственный"))
    recipient, matched = recipient_id(executor, profile)
    if not matched:
        report.notes.append(
            f"строка {row}: ответственный «{executor}» не найден в профиле — сохранён как есть"
        )
    street, house = parse_address(text_cell(values.get("Адрес")))
    names = (text_cell(values.get("Населенный пункт")), text_cell(values.get("Муниципальное образование")))
    territory = territory_of(names, street, profile)
    sector, topic = _labels(text_cell(values.get("Категория")), text_cell(values.get("Подкатегория")))
    kind_text = text_cell(values.get("Тип сообщения"))
    kind = KINDS.get(norm_header(kind_text), Kind.complaint) if kind_text else Kind.complaint
    answers: list[tuple[datetime | None, str, str]] = []
    if interim := text_cell(values.get("Промежуточный ответ")):
        answers.append((interim_at, "промежуточный ответ", interim))
    if final := text_cell(values.get("Текст ответа")):
        answers.append((answered_at, "ответ", final))
    post_id = f"{SOURCE}:{number}"
    post = Post(
        id=post_id,
        source=SOURCE,
        source_id=number,
        url=url_cell(values.get("Ссылка")),
        published_at=created,
        text=text,
        raw=jsonable_row(values) | {"_file": file, "_row": row},
        thread_id=post_id,
    )
    return Record(
        row=row,
        post=post,
        sector=sector,
        topic=topic,
        place=address_place(street, house, territory),
        territory=territory,
        kind=kind,
        history=History(
            incident_id=post_id,
            actor=ACTOR,
            origin=f"{file}, строка {row}",
            recipient=recipient,
            status=status,
            outcome=outcome,
            closed_at=closed_at,
            first_answered_at=interim_at,
            final_answered_at=answered_at,
            final_answer_due=due,
            result_text=state,
            answers=answers,
        ),
    )


def import_pos(
    path: Path, store: Store, profile: Profile, understander: Understanding, now: datetime
) -> ImportReport:
    """Import a ПОС export into the store; return the report (raise ImportFileError for an unusable file)."""
    table = read_table(path, REQUIRED, OPTIONAL, ALIASES)
    return import_rows(table, SOURCE, row_record, store, profile, understander, now)
