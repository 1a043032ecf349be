"""`infopole enrich`: run the understanding step over a JSONL or CSV file, streaming, in batches.

Every output line keeps the input fields and adds sector, topic, sector_confidence, kind, tone,
tone_score, aggression, aggression_markers, places, territory, duplicate_of, story_id, needs_review
(an input field with one of these names is overwritten). Bad rows are reported on stderr in Russian
with their line number and skipped; the rest is processed. Rows with an empty text are reported and
skipped. Exit codes: 0 when something was processed, 1 when nothing was, 2 when the file, the text
column, the model or the profile cannot be used.
"""

from __future__ import annotations

import codecs
import csv
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import typer

from index.models import Post
from index.profile import Profile, ProfileError, load_profile
from risk.dedup import DuplicateIndex, MemoryDedupStore, StoryIndex
from risk.gazetteer_csv import GazetteerCsvError, with_gazetteer_files
from risk.text import MAX_TEXT_CHARS
from risk.trained import ModelError, TrainedModels
from risk.understand import Understander

#: Records understood together (memory stays flat whatever the file size).
BATCH_SIZE = 500
#: Largest CSV field accepted (a bigger field is reported as a broken row).
MAX_FIELD_CHARS = 64 * 1024 * 1024
#: Bytes read to guess the CSV delimiter and the encoding.
SNIFF_BYTES = 64 * 1024
#: Fields the understanding step adds to every output line.
ADDED_FIELDS = (
    "sector",
    "topic",
    "sector_confidence",
    "kind",
    "tone",
    "tone_score",
    "aggression",
    "aggression_markers",
    "places",
    "territory",
    "duplicate_of",
    "story_id",
    "needs_review",
)
_PUBLISHED = datetime(1970, 1, 1, tzinfo=UTC)


class EnrichError(Exception):
    """The whole file cannot be processed (message in Russian); carries the exit code."""

    def __init__(self, message: str, code: int = 2) -> None:
        """Keep the message and the exit code."""
        super().__init__(message)
        self.code = code


@dataclass
class Report:
    """Counts and messages about the rows of one run."""

    stream: TextIO = field(default_factory=lambda: sys.stderr)
    processed: int = 0
    skipped: int = 0
    warnings: int = 0

    def skip(self, line: int, reason: str) -> None:
        """Report a skipped row."""
        self.skipped += 1
        self.stream.write(f"строка {line}: {reason} — пропущена\n")

    def warn(self, line: int, reason: str) -> None:
        """Report a processed row with a problem."""
        self.warnings += 1
        self.stream.write(f"строка {line}: {reason}\n")

    def note(self, text: str) -> None:
        """Report something about the whole file."""
        self.stream.write(text + "\n")


@dataclass
class Record:
    """One input row: its line number, its fields and its text."""

    line: int
    fields: dict[str, Any]
    text: str


class _Lines:
    """Decode a binary file line by line, remembering which lines had invalid bytes."""

    def __init__(self, raw: Iterator[bytes], encoding: str) -> None:
        """Wrap an iterator of byte lines."""
        self._raw = raw
        self._encoding = encoding
        self.line = 0
        self.bad_lines: set[int] = set()
        self.consumed: list[str] = []  # lines handed out since the last `take`

    def __iter__(self) -> Iterator[str]:
        """Yield decoded lines (invalid bytes replaced by U+FFFD)."""
        for chunk in self._raw:
            self.line += 1
            if self.line == 1 and chunk.startswith(codecs.BOM_UTF8):
                chunk = chunk[len(codecs.BOM_UTF8) :]
            try:
                text = chunk.decode(self._encoding)
            except UnicodeDecodeError:
                self.bad_lines.add(self.line)
                text = chunk.decode(self._encoding, errors="replace")
            self.consumed.append(text)
            yield text

    def take(self) -> list[str]:
        """Return and forget the lines handed out since the last call."""
        out, self.consumed = self.consumed, []
        return out


def _guess_encoding(path: Path, report: Report) -> str:
    """Return "utf-8", or "cp1251" when the file's start is not UTF-8 but reads as Windows Cyrillic."""
    with path.open("rb") as fh:
        sample = fh.read(SNIFF_BYTES)
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 4:  # a multi-byte character cut by the sample's end
            return "utf-8"
    bad = sample.decode("utf-8", errors="replace").count("\ufffd")
    cyr = sum(1 for b in sample if 0xC0 <= b <= 0xFF)
    if cyr and bad > 0.5 * cyr:
        report.note("файл не в UTF-8: читаю его как cp1251 (Windows-1251)")
        return "cp1251"
    return "utf-8"


def _read_jsonl(path: Path, text_column: str, report: Report, encoding: str) -> Iterator[Record]:
    """Yield records of a JSON Lines file; report and skip lines that are not JSON objects."""
    with path.open("rb") as fh:
        lines = _Lines(iter(fh), encoding)
        checked = False
        for text_line in lines:
            n = lines.line
            if not text_line.strip():
                continue
            try:
                obj = json.loads(text_line)
            except json.JSONDecodeError as exc:
                report.skip(n, f"не разбирается как JSON ({exc.msg}, позиция {exc.pos})")
                continue
            if not isinstance(obj, dict):
                report.skip(n, "ожидался JSON-объект {...}")
                continue
            if not checked:
                checked = True
                if text_column not in obj:
                    names = ", ".join(map(str, obj))
                    raise EnrichError(f"в файле {path} нет поля {text_column!r}; поля первой записи: {names}")
            if n in lines.bad_lines:
                report.warn(n, "неверные байты UTF-8 заменены символом �")
            if text_column not in obj:
                report.skip(n, f"нет поля {text_column!r}")
                continue
            value = obj[text_column]
            yield Record(line=n, fields=obj, text="" if value is None else str(value))


def _delimiter(header_line: str) -> str:
    """Return the most frequent of , ; TAB | in the header line (comma when none)."""
    counts = {d: header_line.count(d) for d in ",;\t|"}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_csv(path: Path, text_column: str, report: Report, encoding: str) -> Iterator[Record]:
    """Yield records of a CSV file with a header row; report and skip rows that do not fit the header.

    A row with an unbalanced quote can swallow the lines after it; such a multi-line record with the
    wrong number of fields is re-read line by line, so only the broken line itself is lost.
    """
    csv.field_size_limit(MAX_FIELD_CHARS)
    with path.open("rb") as fh:
        lines = _Lines(iter(fh), encoding)
        source = iter(lines)
        header_line = next(source, None)
        if header_line is None:
            return
        delimiter = _delimiter(header_line)
        header = [h.strip() for h in next(csv.reader([header_line], delimiter=delimiter), [])]
        lines.take()
        if text_column not in header:
            raise EnrichError(f"в файле {path} нет столбца {text_column!r}; столбцы: {', '.join(header)}")
        col = header.index(text_column)
        reader = csv.reader(source, delimiter=delimiter)
        first = lines.line + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                lines.take()
                report.skip(lines.line, f"строка CSV повреждена ({exc})")
                first = lines.line + 1
                continue
            last = lines.line
            physical = lines.take()
            rows = [(last, row, first)]
            if len(physical) > 1:
                alone = [next(csv.reader([t], delimiter=delimiter), []) for t in physical]
                merged = len(alone[0]) != len(header) and any(len(c) == len(header) for c in alone[1:])
                if len(row) != len(header) or merged:
                    rows = [(first + k, cells, first + k) for k, cells in enumerate(alone)]
            first = last + 1
            for n, cells, start in rows:
                if not cells or all(not cell.strip() for cell in cells):
                    continue
                if len(cells) != len(header):
                    report.skip(
                        n,
                        f"полей {len(cells)}, а в заголовке {len(header)} (лишняя кавычка или разделитель?)",
                    )
                    continue
                if any(k in lines.bad_lines for k in range(start, n + 1)):
                    report.warn(n, "неверные байты UTF-8 заменены символом �")
                yield Record(line=n, fields=dict(zip(header, cells, strict=True)), text=cells[col])


def _usable(records: Iterator[Record], report: Report) -> Iterator[Record]:
    """Yield records with a text; report empty texts (skipped) and texts cut for analysis."""
    for rec in records:
        if not rec.text.strip():
            report.skip(rec.line, "пустой текст")
            continue
        if len(rec.text) > MAX_TEXT_CHARS:
            report.warn(
                rec.line, f"текст длиной {len(rec.text)} символов: анализируются первые {MAX_TEXT_CHARS}"
            )
        yield rec


def _batches(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    """Yield lists of up to `size` records."""
    batch: list[Record] = []
    for rec in records:
        batch.append(rec)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _truthy(value: object) -> bool:
    """Return True for yes-like values ("1", "true", "да", True)."""
    return str(value).strip().lower() in {"1", "true", "yes", "да", "y"}


def _post_of(rec: Record, key: str) -> Post:
    """Return a Post for understanding one record."""
    return Post(
        id=key,
        source="file",
        source_id=key,
        published_at=_PUBLISHED,
        text=rec.text,
        is_official=_truthy(rec.fields.get("is_official", "")),
    )


def _output(rec: Record, post: Post, duplicate_of: str | None, story_id: str | None) -> dict[str, Any]:
    """Return the output object: the input fields plus the understanding."""
    out = dict(rec.fields)
    understood = post.model_dump(mode="json", include=set(ADDED_FIELDS) - {"duplicate_of", "story_id"})
    out.update(understood)
    out["duplicate_of"] = duplicate_of
    out["story_id"] = story_id
    return out


def _load_understander(
    model_path: Path | None,
    profile_path: Path | None,
    gazetteer_paths: Sequence[Path] = (),
    report: Report | None = None,
    appeals: bool = False,
) -> Understander:
    """Return an Understander with the optional model, profile and gazetteer CSVs; raise EnrichError."""
    model = None
    profile = None
    if model_path is not None:
        try:
            model = TrainedModels.load(model_path)
        except ModelError as exc:
            raise EnrichError(str(exc)) from exc
    if profile_path is not None:
        try:
            profile = load_profile(profile_path)
        except ProfileError as exc:
            raise EnrichError(str(exc)) from exc
    files = [*(profile.gazetteer_csv if profile else []), *gazetteer_paths]
    if files:
        try:
            profile, problems = with_gazetteer_files(profile or Profile(name="справочник адресов"), files)
        except (GazetteerCsvError, ValueError) as exc:
            raise EnrichError(f"справочник адресов не подходит: {exc}") from exc
        for problem in problems[:20]:
            (report or Report()).note(problem)
    return Understander(profile=profile, model=model, appeals=appeals)


def run_enrich(
    input_path: Path,
    out: Path,
    *,
    text_column: str,
    model_path: Path | None,
    profile_path: Path | None,
    report: Report,
    gazetteer_paths: Sequence[Path] = (),
    appeals: bool = False,
) -> None:
    """Enrich `input_path` into `out`; raise EnrichError when the whole file cannot be processed."""
    if not input_path.is_file():
        raise EnrichError(f"входной файл не найден: {input_path}")
    understander = _load_understander(model_path, profile_path, gazetteer_paths, report, appeals)
    encoding = _guess_encoding(input_path, report)
    is_csv = input_path.suffix.lower() in {".csv", ".tsv", ".txt"}
    reader = _read_csv if is_csv else _read_jsonl
    store = MemoryDedupStore()
    dups = DuplicateIndex(store)
    stories = StoryIndex(store)
    seen_ids: set[str] = set()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            records = _usable(reader(input_path, text_column, report, encoding), report)
            for batch in _batches(records, BATCH_SIZE):
                keep: list[tuple[Record, str]] = []
                for rec in batch:
                    key = str(rec.fields.get("id") or f"row:{rec.line}")
                    if key in seen_ids:
                        key = f"{key}#row:{rec.line}"
                    seen_ids.add(key)
                    keep.append((rec, key))
                posts = understander.understand_many([_post_of(rec, key) for rec, key in keep])
                for (rec, key), post in zip(keep, posts, strict=True):
                    duplicate_of = dups.add(key, post.text)
                    story_id = stories.add(key, post.text, post.lemmas.split())
                    fh.write(
                        json.dumps(_output(rec, post, duplicate_of, story_id), ensure_ascii=False) + "\n"
                    )
                    report.processed += 1
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


def enrich_file(
    input_path: Path,
    out: Path,
    *,
    text_column: str,
    model_path: Path | None,
    profile_path: Path | None,
    gazetteer_paths: Sequence[Path] = (),
    appeals: bool = False,
) -> None:
    """Enrich a JSONL/CSV file into JSONL; print bad rows and a summary on stderr; exit 2 on fatal errors."""
    report = Report()
    try:
        run_enrich(
            input_path,
            out,
            text_column=text_column,
            model_path=model_path,
            profile_path=profile_path,
            report=report,
            gazetteer_paths=gazetteer_paths,
            appeals=appeals,
        )
    except EnrichError as exc:
        report.note(f"ошибка: {exc}")
        raise typer.Exit(code=exc.code) from exc
    except OSError as exc:
        report.note(f"ошибка ввода-вывода: {exc}")
        raise typer.Exit(code=2) from exc
    report.note(f"обработано {report.processed}, пропущено {report.skipped} → {out}")
    if report.processed == 0:
        raise typer.Exit(code=1)
