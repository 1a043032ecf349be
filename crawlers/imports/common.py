"""What the ИМ and ПОС imports share: reading XLSX/CSV tables, typed cells, the report, the store write.

An import never loses a valid row because of a bad one: each row is validated on its own and a bad row
is skipped with its reason («строка 7: нет даты создания»). A file that cannot be an export at all
(unreadable, no header with the required columns) raises ImportFileError before anything is written.
Rows become posts (through the understanding step) and incident history; ids are deterministic
(`im:{номер}`), so importing the same file twice adds nothing.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from index.models import AuditEntry, Incident, IncidentStatus, Kind, Outcome, Place, Post, Priority, as_utc
from index.profile import Profile
from index.store import Store, VersionConflict
from risk.deadlines import calendar_for, final_answer_due, first_answer_due
from risk.incidents import due_escalations, open_incident
from risk.sectors import SECTORS, TOPIC_GROUPS

log = logging.getLogger(__name__)

#: Rows understood and written per chunk.
CHUNK_ROWS = 500
#: The header is looked for in this many first rows (exports often start with a title block).
HEADER_SEARCH_ROWS = 20
#: Reasons printed at most; the rest are counted.
MAX_REASONS_SHOWN = 50
#: Date formats seen in Russian exports, tried in order after ISO 8601.
DATE_FORMATS = (
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d.%m.%y %H:%M",
    "%d.%m.%y",
    "%Y-%m-%d %H:%M:%S",
)
#: Excel's day zero for serial dates (the 1900 date system, with its leap-year bug accounted for).
_EXCEL_EPOCH = datetime(1899, 12, 30)


class ImportFileError(Exception):
    """The file cannot be imported at all (message in Russian)."""


class RowError(ValueError):
    """One row is invalid (message in Russian); it is skipped and reported."""


class Understanding(Protocol):
    """The understanding step (risk.understand.Understander)."""

    def understand_many(self, posts: Sequence[Post]) -> list[Post]:
        """Return enriched copies of posts."""
        ...


# Reading tables -------------------------------------------------------------------------------


def norm_header(value: object) -> str:
    """Return a header cell as a comparison key: lower case, ё→е, single spaces, no trailing colon."""
    text = "" if value is None else str(value)
    text = text.replace("ё", "е").replace("Ё", "Е").replace("\xa0", " ")
    return " ".join(text.split()).strip(" :*").lower()


@dataclass
class Table:
    """A table read from a file: canonical column → value, per row number as the user sees it."""

    path: Path
    columns: dict[str, int]  # canonical column name → position
    rows: list[tuple[int, dict[str, Any]]]
    extra_columns: list[str] = field(default_factory=list)  # columns we keep in raw but do not read
    notes: list[str] = field(default_factory=list)
    empty_rows: int = 0


def read_table(
    path: Path,
    required: Sequence[str],
    optional: Sequence[str],
    aliases: Mapping[str, Sequence[str]],
) -> Table:
    """Read an XLSX or CSV export; find the header row; map columns to canonical names.

    Raise ImportFileError (Russian) when the file is missing, unreadable, or has no header row with
    every required column.
    """
    if not path.is_file():
        raise ImportFileError(f"файл не найден: {path}")
    suffix = path.suffix.lower()
    notes: list[str] = []
    if suffix in (".xlsx", ".xlsm"):
        grid = _xlsx_grid(path, notes)
    elif suffix in (".csv", ".tsv", ".txt"):
        grid = _csv_grid(path, notes)
    elif suffix == ".xls":
        raise ImportFileError(f"{path.name}: старый формат .xls не поддерживается — сохраните файл как .xlsx")
    else:
        raise ImportFileError(
            f"{path.name}: неизвестный формат {suffix or '(без расширения)'}: нужен XLSX или CSV"
        )
    keys = {norm_header(name): name for name in (*required, *optional)}
    for canonical, names in aliases.items():
        for name in names:
            keys[norm_header(name)] = canonical
    header_at, columns, best = _find_header(grid, keys, required)
    if header_at is None:
        missing = [name for name in required if name not in best[1]]
        found = ", ".join(f"«{h}»" for h in best[0] if h) or "ничего"
        raise ImportFileError(
            f"{path.name}: нет обязательных столбцов {', '.join(f'«{m}»' for m in missing)}; найдены: {found}"
        )
    header = grid[header_at]
    used = set(columns.values())
    extra = [str(h).strip() for i, h in enumerate(header) if not _blank(h) and i not in used]
    lacking = [name for name in optional if name not in columns]
    if lacking:
        notes.append(f"нет необязательных столбцов: {', '.join(f'«{m}»' for m in lacking)}")
    rows: list[tuple[int, dict[str, Any]]] = []
    empty = 0
    for index in range(header_at + 1, len(grid)):
        cells = grid[index]
        if all(_blank(c) for c in cells):
            empty += 1
            continue
        values: dict[str, Any] = {
            name: cells[pos] if pos < len(cells) else None for name, pos in columns.items()
        }
        others = {
            str(name).strip(): cells[i]
            for i, name in enumerate(header)
            if i not in used and not _blank(name) and i < len(cells) and not _blank(cells[i])
        }
        if others:
            values["_extra"] = others
        rows.append((index + 1, values))
    return Table(path, columns, rows, extra, notes, empty)


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _find_header(
    grid: list[list[Any]], keys: Mapping[str, str], required: Sequence[str]
) -> tuple[int | None, dict[str, int], tuple[list[Any], set[str]]]:
    """Return (header row index, canonical → position, best candidate for the error message)."""
    best: tuple[list[Any], set[str]] = ([], set())
    for index, cells in enumerate(grid[:HEADER_SEARCH_ROWS]):
        columns: dict[str, int] = {}
        for pos, cell in enumerate(cells):
            canonical = keys.get(norm_header(cell))
            if canonical is not None and canonical not in columns:
                columns[canonical] = pos
        if all(name in columns for name in required):
            return index, columns, (cells, set(columns))
        if len(columns) > len(best[1]):
            best = (cells, set(columns))
    return None, {}, best


def _xlsx_grid(path: Path, notes: list[str]) -> list[list[Any]]:
    """Return the first sheet's values; vertically merged cells are filled down from their top cell."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, data_only=True)
    except Exception as exc:  # a corrupt file can fail in zipfile, XML or style parsing
        raise ImportFileError(f"{path.name} не читается как XLSX: {exc}") from exc
    try:
        sheet = workbook.worksheets[0]
        grid = [list(row) for row in sheet.iter_rows(values_only=True)]
        merged = list(sheet.merged_cells.ranges)
    finally:
        workbook.close()
    filled = 0
    for cell_range in merged:
        top = grid[cell_range.min_row - 1][cell_range.min_col - 1]
        for row in range(cell_range.min_row, cell_range.max_row + 1):
            if row - 1 < len(grid) and cell_range.min_col - 1 < len(grid[row - 1]):
                grid[row - 1][cell_range.min_col - 1] = top
        if cell_range.max_row > cell_range.min_row:
            filled += 1
    if filled:
        notes.append(f"объединённые ячейки ({filled}) заполнены значением верхней ячейки")
    return grid


def _csv_grid(path: Path, notes: list[str]) -> list[list[Any]]:
    """Return a CSV's rows (UTF-8 with or without BOM, else cp1251; `;`, `,` or tab separated)."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1251", errors="replace")
        notes.append("файл прочитан в кодировке Windows-1251")
    sample = text[:20_000]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=";,\t")
    except csv.Error:
        dialect = csv.excel
        dialect.delimiter = ";" if sample.count(";") > sample.count(",") else ","
    return [list(row) for row in csv.reader(io.StringIO(text, newline=""), dialect)]


# Typed cells ----------------------------------------------------------------------------------


def zone(profile: Profile) -> ZoneInfo:
    """Return the profile's time zone (exports give local time), Moscow when it is unknown."""
    try:
        return ZoneInfo(profile.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Europe/Moscow")


def text_cell(value: Any) -> str | None:
    """Return a cell as stripped text (numbers without a trailing .0), or None when blank."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value).replace("\xa0", " ").strip()
    return text or None


def id_cell(value: Any, column: str) -> str:
    """Return a row id (incident number) as text; raise RowError when it is missing or odd."""
    if isinstance(value, float) and not value.is_integer():
        raise RowError(f"«{column}» должен быть целым числом или кодом, а не {value!r}")
    text = text_cell(value)
    if text is None:
        raise RowError(f"нет значения «{column}»")
    if len(text) > 64 or any(ch in text for ch in ":\n\t"):
        raise RowError(f"странное значение «{column}»: {text[:40]!r}")
    return text


def date_cell(value: Any, column: str, tz: ZoneInfo) -> datetime | None:
    """Return a local date cell as aware UTC, None when blank; raise RowError when unreadable."""
    if _blank(value):
        return None
    if isinstance(value, datetime):
        local = value
    elif isinstance(value, date):
        local = datetime.combine(value, time())
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if not 1 <= value < 2_958_466:  # Excel serial days: 1900-01-01 … 9999-12-31
            raise RowError(f"«{column}»: {value!r} не похоже на дату")
        local = _EXCEL_EPOCH + timedelta(days=float(value))
    elif isinstance(value, str):
        local = _parse_date_text(value.strip(), column)
    else:
        raise RowError(f"«{column}»: {value!r} не похоже на дату")
    if local.tzinfo is None:
        local = local.replace(tzinfo=tz)
    return as_utc(local)


def _parse_date_text(text: str, column: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise RowError(f"«{column}»: «{text[:40]}» не похоже на дату (нужно ДД.ММ.ГГГГ ЧЧ:ММ)")


def url_cell(value: Any) -> str | None:
    """Return an http(s) URL from a cell, or None."""
    text = text_cell(value)
    if text and re.match(r"^https?://\S+$", text):
        return text
    return None


def jsonable_row(values: Mapping[str, Any]) -> dict[str, Any]:
    """Return a row's values as JSON-ready data (dates as ISO strings)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            out[key] = jsonable_row(value)
        elif isinstance(value, datetime | date | time):
            out[key] = value.isoformat()
        elif value is None or isinstance(value, str | int | float | bool):
            out[key] = value
        else:
            out[key] = str(value)
    return out


# Labels ---------------------------------------------------------------------------------------


def _label_key(value: str) -> str:
    return norm_header(value.replace("★", ""))


_SECTOR_KEYS = {_label_key(s): s for s in SECTORS}
_TOPIC_KEYS = {_label_key(t): t for t in TOPIC_GROUPS}


def sector_label(value: str | None) -> str | None:
    """Return a topic group as given, spelled as the ЦУР rubricator spells it when it is one of them."""
    if not value:
        return None
    return _SECTOR_KEYS.get(_label_key(value), value)


def topic_label(value: str | None) -> str | None:
    """Return a topic as given, spelled as the ЦУР rubricator spells it (with its ★) when it is one."""
    if not value:
        return None
    return _TOPIC_KEYS.get(_label_key(value), value)


def recipient_id(value: str | None, profile: Profile) -> tuple[str | None, bool]:
    """Return (recipient id, matched) for an executor named in an export; unknown names are kept."""
    if not value:
        return None, True
    key = norm_header(value)
    for recipient in profile.recipients:
        if key in (norm_header(recipient.id), norm_header(recipient.name)):
            return recipient.id, True
    return value, False


def territory_of(names: Iterable[str | None], street: str | None, profile: Profile) -> str | None:
    """Return the most specific territory id named by settlement/municipality names or the street."""
    nodes = list(profile.walk())
    if street:
        key = _street_key(street)
        for node in nodes:
            if any(_street_key(s) == key for s in node.streets):
                return node.id
    for name in names:
        if not name:
            continue
        key = norm_header(name)
        for node in reversed(nodes):  # children after parents in walk(): prefer the deepest match
            if key in {norm_header(node.name), *(norm_header(a) for a in node.aliases)}:
                return node.id
    return None


_STREET_WORDS = re.compile(r"\b(ул|улица|пр-т|пр|проспект|пер|переулок|б-р|бульвар|пл|площадь|ш|шоссе)\b\.?")


def _street_key(value: str) -> str:
    return " ".join(_STREET_WORDS.sub(" ", norm_header(value)).split())


def address_place(street: str | None, house: str | None, territory: str | None) -> Place | None:
    """Return the structured address of an export row as a Place (street, with its house if given)."""
    if not street:
        return None
    name = " ".join(_STREET_WORDS.sub(" ", street).split()) or street
    return Place(level="house" if house else "street", name=name, territory=territory, house=house or None)


# Rows → records → store -----------------------------------------------------------------------


@dataclass
class History:
    """What an export row says about the incident's life: who, status, outcome, when answered."""

    incident_id: str
    actor: str  # «импорт ИМ» / «импорт ПОС»
    origin: str  # «файл.xlsx, строка 7»
    recipient: str | None = None  # a profile recipient id, or the executor's name as given
    status: IncidentStatus | None = None  # None: derived from the dates
    outcome: Outcome | None = None
    priority: Priority | None = None
    closed_at: datetime | None = None
    first_answered_at: datetime | None = None
    final_answered_at: datetime | None = None
    final_answer_due: datetime | None = None  # when the export states it
    result_text: str | None = None  # the export's own status word, for the audit
    answers: list[tuple[datetime | None, str, str]] = field(default_factory=list)  # (at, action, text)


@dataclass
class Record:
    """One valid row: its post (not yet understood), the labels it keeps, its incident history."""

    row: int
    post: Post
    sector: str | None  # kept as the export gives it
    topic: str | None
    place: Place | None
    territory: str | None
    kind: Kind | None  # None: keep what the understanding step says
    history: History


def build_incident(base: Incident, post: Post, h: History, profile: Profile, now: datetime) -> Incident:
    """Return the incident of an imported row: the system's incident for the post, with the export's facts.

    Closed rows without an answer date count as answered when closed (the systems close an incident
    once its answer is published). Escalation steps already overdue at import time are marked as
    passed, so importing history raises no retroactive overdue alerts; later steps still fire.
    """
    recipient = h.recipient or base.recipient
    known = recipient if recipient and profile.recipient(recipient) else None
    calendar = calendar_for(profile, known)
    priority = h.priority or base.priority
    status = h.status
    if status is None:
        if h.closed_at is not None:
            status = IncidentStatus.closed
        elif h.final_answered_at is not None:
            status = IncidentStatus.final
        elif h.first_answered_at is not None:
            status = IncidentStatus.interim
        else:
            status = IncidentStatus.assigned if recipient else IncidentStatus.new
    final_answered = h.final_answered_at
    if (
        final_answered is None
        and status == IncidentStatus.closed
        and h.outcome
        in (
            Outcome.solved,
            Outcome.explained,
        )
    ):
        final_answered = h.closed_at
    first_answered = h.first_answered_at or final_answered
    final_due = h.final_answer_due
    if final_due is None and h.first_answered_at is not None:
        final_due = final_answer_due(h.first_answered_at, profile.sla, calendar)
    detail = f"{h.origin}; итог: {h.result_text or 'не указан'}"
    audit = [AuditEntry(at=now, actor=h.actor, action="импортирован", detail=detail)]
    audit += [
        AuditEntry(at=at or now, actor=recipient or h.actor, action=action, detail=text[:1000])
        for at, action, text in h.answers
    ]
    incident = base.model_copy(
        update={
            "id": h.incident_id,
            "recipient": recipient,
            "priority": priority,
            "status": status,
            "outcome": h.outcome if status == IncidentStatus.closed else None,
            "post_ids": [post.id],
            "created_at": post.published_at,
            "first_answer_due": first_answer_due(post.published_at, priority, profile.sla, calendar),
            "final_answer_due": final_due,
            "first_answered_at": first_answered,
            "final_answered_at": final_answered,
            "closed_at": h.closed_at if status == IncidentStatus.closed else None,
            "audit": audit,
            "updated_at": now,
        }
    )
    passed = due_escalations(incident, now, profile.sla)
    if passed:
        level = max(step.level for step in passed)
        note = AuditEntry(
            at=now,
            actor=h.actor,
            action="эскалация не применяется",
            detail=f"история: пройден уровень {level}",
        )
        incident = incident.model_copy(update={"escalation_level": level, "audit": [*incident.audit, note]})
    return incident


@dataclass
class ImportReport:
    """What an import did."""

    source: str
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)  # «строка N: причина»
    notes: list[str] = field(default_factory=list)
    empty_rows: int = 0

    def summary(self) -> str:
        """Return the closing line: «импортировано N, пропущено M» (+ updated / unchanged when any)."""
        line = f"импортировано {self.imported}, пропущено {len(self.skipped)}"
        if self.updated:
            line += f", обновлено {self.updated}"
        if self.unchanged:
            line += f", без изменений {self.unchanged}"
        return line

    def lines(self) -> list[str]:
        """Return the report: notes, the reasons for skipped rows, then the summary line last."""
        out = list(self.notes)
        if self.empty_rows:
            out.append(f"пустых строк: {self.empty_rows} (не считаются)")
        if self.skipped:
            out.append("пропущенные строки:")
            out.extend(f"  {reason}" for reason in self.skipped[:MAX_REASONS_SHOWN])
            if len(self.skipped) > MAX_REASONS_SHOWN:
                out.append(f"  … и ещё {len(self.skipped) - MAX_REASONS_SHOWN}")
        out.append(self.summary())
        return out


def write_records(
    records: Sequence[Record],
    store: Store,
    profile: Profile,
    understander: Understanding,
    now: datetime,
    report: ImportReport,
) -> None:
    """Understand the posts, keep the export's labels, upsert posts and save incidents idempotently."""
    for start in range(0, len(records), CHUNK_ROWS):
        chunk = records[start : start + CHUNK_ROWS]
        understood = understander.understand_many([r.post for r in chunk])
        posts = [_keep_labels(post, record) for post, record in zip(understood, chunk, strict=True)]
        store.upsert_posts(posts)
        for post, record in zip(posts, chunk, strict=True):
            try:
                incident = build_incident(
                    open_incident(post, profile, now), post, record.history, profile, now
                )
                _save_incident(store, incident, now, report)
            except (ValueError, VersionConflict) as exc:
                report.skipped.append(f"строка {record.row}: инцидент не сохранён: {exc}")


def _keep_labels(post: Post, record: Record) -> Post:
    """Return the understood post with the export's sector, topic, place, territory and kind kept."""
    update: dict[str, Any] = {}
    if record.sector:
        update.update(sector=record.sector, topic=record.topic, sector_confidence=1.0, needs_review=False)
    elif record.topic:
        update.update(topic=record.topic)
    if record.place is not None:
        # The export's structured address wins over the same street found in the text.
        key = _street_key(record.place.name)
        others = [
            p for p in post.places if not (p.level in ("street", "house") and _street_key(p.name) == key)
        ]
        update["places"] = [record.place, *others]
    if record.territory:
        update["territory"] = record.territory
    if record.kind is not None and post.kind != Kind.question:
        update["kind"] = record.kind
    return post.model_copy(update=update) if update else post


#: Incident fields an import compares to decide whether a stored incident changed.
_COMPARED = (
    "title",
    "sector",
    "topic",
    "territory",
    "place",
    "recipient",
    "priority",
    "status",
    "outcome",
    "post_ids",
    "created_at",
    "first_answer_due",
    "final_answer_due",
    "first_answered_at",
    "final_answered_at",
    "closed_at",
)


def _save_incident(store: Store, incident: Incident, now: datetime, report: ImportReport) -> None:
    """Create the incident, or update it when the export says something new; count what happened."""
    current = store.get_incident(incident.id)
    if current is None:
        store.save_incident(incident, expected_version=None)
        report.imported += 1
        return
    fresh = incident.model_dump(include=set(_COMPARED))
    if current.model_dump(include=set(_COMPARED)) == fresh:
        report.unchanged += 1
        return
    changed = sorted(k for k in _COMPARED if getattr(current, k) != getattr(incident, k))
    entry = AuditEntry(
        at=now, actor=incident.audit[0].actor, action="обновлён импортом", detail=", ".join(changed)
    )
    merged = incident.model_copy(
        update={"audit": [*current.audit, entry], "escalation_level": current.escalation_level}
    )
    store.save_incident(merged, expected_version=current.version)
    report.updated += 1


#: Builds the record of one row: (row number, values, profile, file name, report) → Record.
RowBuilder = Callable[[int, dict[str, Any], Profile, str, ImportReport], Record]


def import_rows(
    table: Table,
    source: str,
    build: RowBuilder,
    store: Store,
    profile: Profile,
    understander: Understanding,
    now: datetime,
) -> ImportReport:
    """Validate each row on its own, skip bad ones and repeated numbers, write the rest; return the report."""
    report = ImportReport(source, notes=list(table.notes), empty_rows=table.empty_rows)
    records: list[Record] = []
    first_row: dict[str, int] = {}
    for row, values in table.rows:
        try:
            record = build(row, values, profile, table.path.name, report)
        except RowError as exc:
            report.skipped.append(f"строка {row}: {exc}")
            continue
        number = record.post.source_id
        if number in first_row:
            report.skipped.append(f"строка {row}: повтор номера {number} (уже в строке {first_row[number]})")
            continue
        first_row[number] = row
        records.append(record)
    if not records and not report.skipped:
        raise ImportFileError(f"{table.path.name}: в файле нет строк с данными")
    write_records(records, store, profile, understander, now, report)
    return report
