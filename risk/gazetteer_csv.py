"""Load a gazetteer CSV (district, settlement, street) into profile territories and merge it into a profile.

The CSV has a header row with a district, a settlement and a street column (English or Russian names:
district/район, settlement/населённый пункт/нп, street/улица; `,` or `;`), UTF-8 (a BOM is fine) or
cp1251. Settlement types written after or before the name ("Колпино г.", "пос. Войсковицы") are cut
off the name and kept as an alias. A street with an empty settlement belongs to the district; a street
written "Парголово, 1-й пер." or "Ленина ул. (Володарский)" names its settlement itself. Bad rows are
reported (Russian, with the line number) and skipped; the rest is loaded.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from index.models import stable_id
from index.profile import Profile, Territory

#: Header names accepted for each column (lowercase, ё→е).
COLUMNS: dict[str, tuple[str, ...]] = {
    "district": ("district", "район", "округ", "муниципальный район"),
    "settlement": ("settlement", "населенный пункт", "нп", "поселение", "город", "населенный_пункт"),
    "street": ("street", "улица", "улицы"),
}
#: Settlement type words written before or after a name (lowercase, without the final dot).
SETTLEMENT_TYPES = frozenset(
    [
        "г",
        "город",
        "пос",
        "п",
        "поселок",
        "дер",
        "д",
        "деревня",
        "с",
        "село",
        "пгт",
        "рп",
        "ст",
        "станция",
        "х",
        "хутор",
        "снт",
        "днп",
        "днт",
        "кп",
        "массив",
        "мас",
        "сад-во",
        "садоводство",
        "тер",
        "мкр",
        "сл",
        "аул",
        "ж/д ст",
    ]
)
#: Rows read at most (a bigger file is cut, with a note).
MAX_ROWS = 500_000
#: Prefix of the ids of territories made from a CSV.
ID_PREFIX = "gz"

_PAREN_TAIL = re.compile(r"^(?P<street>.+?)\s*\((?P<settlement>[^()]+)\)\s*$")
_COMMA_HEAD = re.compile(r"^(?P<settlement>[^,]+),\s*(?P<street>.+)$")


class GazetteerCsvError(ValueError):
    """The whole file cannot be used (message in Russian)."""


@dataclass
class GazetteerCsv:
    """The territories read from a gazetteer CSV and the problems met on the way."""

    territories: list[Territory] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # Russian, one per skipped row or note
    rows: int = 0
    streets: int = 0


def _norm(text: str) -> str:
    """Return a header or name lowercased, ё→е, spaces collapsed."""
    return " ".join(text.lower().replace("ё", "е").split())


#: Words dropped when names are compared for merging ("Колпинский район" = "Колпинский").
_TYPE_WORDS = SETTLEMENT_TYPES | {"район", "р-н", "округ", "муниципальный", "городской", "поселение", "мо"}


def _core_name(name: str) -> str:
    """Return a territory name without type words, for matching ("Колпинский район" → "колпинский")."""
    words = [w for w in _norm(name).split() if w.rstrip(".") not in _TYPE_WORDS]
    return " ".join(words) or _norm(name)


def split_settlement(raw: str) -> tuple[str, str | None]:
    """Return (name, type) of a settlement as written ("Колпино г." → ("Колпино", "г"))."""
    words = raw.split()
    if len(words) > 1 and _norm(words[-1]).rstrip(".") in SETTLEMENT_TYPES:
        return " ".join(words[:-1]), _norm(words[-1]).rstrip(".")
    if len(words) > 1 and _norm(words[0]).rstrip(".") in SETTLEMENT_TYPES:
        return " ".join(words[1:]), _norm(words[0]).rstrip(".")
    return raw.strip(), None


def _decode(data: bytes) -> str:
    """Return the file's text: UTF-8 (with or without BOM), else cp1251."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1251", errors="replace")


def _header_map(header: Sequence[str]) -> dict[str, int]:
    """Return column role → index; raise GazetteerCsvError when a district or street column is missing."""
    found: dict[str, int] = {}
    for i, name in enumerate(header):
        for role, names in COLUMNS.items():
            if _norm(name) in names and role not in found:
                found[role] = i
    missing = [r for r in ("district", "street") if r not in found]
    if missing:
        raise GazetteerCsvError(
            f"в заголовке нет столбцов {', '.join(missing)} (ожидаются district,settlement,street "
            f"или район,населённый пункт,улица); есть: {', '.join(header)}"
        )
    return found


class _Tree:
    """Districts → settlements → streets, in first-seen order, with stable ids."""

    def __init__(self) -> None:
        """Create an empty tree."""
        self.districts: dict[str, Territory] = {}
        self.settlements: dict[tuple[str, str], Territory] = {}
        self.streets: set[tuple[str, str]] = set()

    def district(self, name: str) -> Territory:
        """Return the district node named `name`, creating it."""
        key = _norm(name)
        if key not in self.districts:
            self.districts[key] = Territory(
                id=f"{ID_PREFIX}-{stable_id('district', key, length=10)}", name=name, level="district"
            )
        return self.districts[key]

    def settlement(self, district: Territory, raw: str) -> Territory:
        """Return the settlement node of a district, creating it (its type kept as an alias)."""
        name, kind = split_settlement(raw)
        key = (district.id, _norm(name))
        if key not in self.settlements:
            node = Territory(
                id=f"{ID_PREFIX}-{stable_id('settlement', district.id, _norm(name), length=10)}",
                name=name,
                level="settlement",
                aliases=[raw.strip()] if kind else [],
            )
            district.children.append(node)
            self.settlements[key] = node
        return self.settlements[key]

    def add_street(self, node: Territory, street: str) -> bool:
        """Add a street to a node once; return True when it was new."""
        key = (node.id, _norm(street))
        if key in self.streets:
            return False
        self.streets.add(key)
        node.streets.append(street)
        return True


def read_gazetteer_csv(source: Path | str | bytes) -> GazetteerCsv:
    """Read a gazetteer CSV (a path or its bytes); raise GazetteerCsvError when it cannot be used."""
    if isinstance(source, bytes):
        data, label = source, "CSV"
    else:
        path = Path(source)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise GazetteerCsvError(f"файл справочника адресов не найден: {path}") from exc
        except OSError as exc:
            raise GazetteerCsvError(f"файл справочника адресов не читается: {path}: {exc}") from exc
        label = str(path)
    text = _decode(data)
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(reader, None)
    if not header:
        raise GazetteerCsvError(f"справочник адресов {label} пуст")
    cols = _header_map(header)
    out = GazetteerCsv()
    tree = _Tree()
    for line, row in enumerate(reader, start=2):
        if out.rows >= MAX_ROWS:
            out.problems.append(f"прочитаны первые {MAX_ROWS} строк, остальные пропущены")
            break
        if not row or all(not cell.strip() for cell in row):
            continue
        out.rows += 1
        if len(row) != len(header):
            out.problems.append(f"строка {line}: полей {len(row)}, а в заголовке {len(header)} — пропущена")
            continue
        district = row[cols["district"]].strip()
        settlement = row[cols["settlement"]].strip() if "settlement" in cols else ""
        street = row[cols["street"]].strip()
        if not district:
            out.problems.append(f"строка {line}: не указан район — пропущена")
            continue
        if not settlement and street:
            settlement, street = _settlement_in_street(street)
        node = tree.district(district)
        if settlement:
            node = tree.settlement(node, settlement)
        if street and tree.add_street(node, street):
            out.streets += 1
    out.territories = list(tree.districts.values())
    return out


def _settlement_in_street(street: str) -> tuple[str, str]:
    """Return (settlement, street) of "Парголово, 1-й пер." or "Ленина ул. (Володарский)", else ("", …)."""
    m = _PAREN_TAIL.match(street)
    if m:
        return m.group("settlement").strip(), m.group("street").strip()
    m = _COMMA_HEAD.match(street)
    if m and len(m.group("settlement").split()) <= 3:
        return m.group("settlement").strip(), m.group("street").strip()
    return "", street


def merge_territories(profile: Profile, territories: Iterable[Territory]) -> Profile:
    """Return a copy of `profile` with gazetteer districts merged in by name.

    A district whose name matches a profile territory (any level) adds its settlements and streets to it;
    the others go under the profile's single root territory, or at the top level when there are several.
    """
    merged = profile.model_copy(deep=True)
    by_name: dict[str, Territory] = {}
    for node in merged.walk():
        by_name.setdefault(_core_name(node.name), node)
    roots = merged.territories
    home = roots[0] if len(roots) == 1 and roots[0].level in ("region", "municipality") else None
    for district in territories:
        target = by_name.get(_core_name(district.name))
        if target is None:
            node = district.model_copy(deep=True)
            (home.children if home is not None else roots).append(node)
            continue
        _merge_node(target, district)
    return Profile.model_validate(merged.model_dump())


def _merge_node(target: Territory, extra: Territory) -> None:
    """Add the streets and children of `extra` to `target` (children merged by name, streets once)."""
    known = {_norm(s) for s in target.streets}
    target.streets.extend(s for s in extra.streets if _norm(s) not in known)
    children = {_core_name(c.name): c for c in target.children}
    for child in extra.children:
        same = children.get(_core_name(child.name))
        if same is None:
            target.children.append(child.model_copy(deep=True))
        else:
            _merge_node(same, child)


def with_gazetteer_files(profile: Profile, paths: Iterable[Path]) -> tuple[Profile, list[str]]:
    """Return the profile with every gazetteer CSV merged in, and the problems met (Russian).

    Raise GazetteerCsvError when a file cannot be used at all.
    """
    problems: list[str] = []
    for path in paths:
        loaded = read_gazetteer_csv(path)
        problems += [f"{path}: {p}" for p in loaded.problems]
        profile = merge_territories(profile, loaded.territories)
    return profile, problems
