"""Which collected items are about the municipality, and the rule that says so.

Items from the profile's own sources (its official pages, local communities, channels, groups) are
always kept: rule "source". Keyword-search results are kept only when they mention the municipality:

- "keyword:<phrase>" — a profile keyword, matched on lemmas ("Заречинске" matches "Заречинск");
- "toponym:<name>" — a territory name or alias of the gazetteer, written with a capital letter
  (aliases such as "центр" or "наш город" are ordinary words in lower case);
- "streets:<a>+<b>" — two different streets of the gazetteer: one "улица Ленина" exists in almost
  every Russian town, so a single street is not evidence;
- "geo:<territory id>" — a geotag inside a territory boundary (GeoJSON in the profile), or
  "geo-place:<name>" — a geotag whose place title names a territory.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from index.models import Place
from index.profile import Profile, Territory
from risk.places import LEVEL_DEPTH, Gazetteer
from risk.text import Doc, PhraseMatcher, analyse, lemma, tokens

#: The rule of items that come from the profile's own sources.
SOURCE_RULE = "source"
#: Distinct streets a search result must name to count as local on streets alone.
MIN_STREETS = 2

Point = tuple[float, float]  # (longitude, latitude), the GeoJSON order


def _in_ring(point: Point, ring: Sequence[Any]) -> bool:
    """Return whether a point lies inside a closed ring of [lon, lat] pairs (ray casting)."""
    x, y = point
    inside = False
    n = len(ring)
    for i in range(n):
        x1, y1 = float(ring[i][0]), float(ring[i][1])
        x2, y2 = float(ring[i - 1][0]), float(ring[i - 1][1])
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside


def _in_polygon(point: Point, rings: Sequence[Any]) -> bool:
    """Return whether a point lies in a GeoJSON polygon (outer ring minus holes)."""
    if not rings or not _in_ring(point, rings[0]):
        return False
    return not any(_in_ring(point, hole) for hole in rings[1:])


def contains(geometry: dict[str, Any], point: Point) -> bool:
    """Return whether a GeoJSON Polygon, MultiPolygon or Feature contains `point` (lon, lat)."""
    if geometry.get("type") == "Feature" and isinstance(geometry.get("geometry"), dict):
        return contains(geometry["geometry"], point)
    coords = geometry.get("coordinates")
    try:
        if geometry.get("type") == "Polygon":
            return _in_polygon(point, coords or [])
        if geometry.get("type") == "MultiPolygon":
            return any(_in_polygon(point, poly) for poly in coords or [])
    except (TypeError, ValueError, IndexError, ZeroDivisionError):
        return False
    return False


def parse_vk_coordinates(value: object) -> Point | None:
    """Return (lon, lat) from VK's "lat lon" coordinates string, or None."""
    if not isinstance(value, str):
        return None
    parts = value.replace(",", " ").split()
    if len(parts) != 2:
        return None
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lon, lat


class Relevance:
    """Decide whether a search result mentions the municipality; built once per profile."""

    def __init__(self, profile: Profile) -> None:
        """Index the profile's keywords, gazetteer and territory boundaries."""
        self._keywords = PhraseMatcher()
        for keyword in profile.keywords:
            self._keywords.add(keyword, 1.0, "keyword")
        self._gazetteer = Gazetteer(profile)
        self._names = {_key(n): t.name for t in profile.walk() for n in [t.name, *t.aliases] if _key(n)}
        self._bounded: list[Territory] = sorted(
            (t for t in profile.walk() if isinstance(t.boundary, dict)),
            key=lambda t: -LEVEL_DEPTH.get(t.level, 0),
        )

    def rule(self, text: str, point: Point | None = None, place_title: str | None = None) -> str | None:
        """Return the rule that makes an item local, or None when nothing ties it to the municipality."""
        doc = analyse(text)
        found = self._text_rule(doc)
        if found:
            return found
        if point is not None:
            for territory in self._bounded:
                if territory.boundary and contains(territory.boundary, point):
                    return f"geo:{territory.id}"
        for part in (place_title or "").split(","):
            name = self._names.get(_key(part))
            if name:
                return f"geo-place:{name}"
        return None

    def _text_rule(self, doc: Doc) -> str | None:
        """Return a keyword, toponym or streets rule for an analysed text."""
        hits = self._keywords.find(doc)
        if hits:
            return f"keyword:{hits[0].phrase}"
        places = self._gazetteer.find(doc)
        names = _toponyms(doc, places)
        if names:
            return f"toponym:{names[0]}"
        streets = _unique(p.name for p in places if p.level in ("street", "house"))
        if len(streets) >= MIN_STREETS:
            return "streets:" + "+".join(streets[:MIN_STREETS])
        return None


def _key(name: str) -> tuple[str, ...]:
    """Return the lemma sequence of a name ("Заречья" → ("заречье",))."""
    return tuple(lemma(tok) for tok in tokens(name))


def _toponyms(doc: Doc, places: Iterable[Place]) -> list[str]:
    """Return the territory names among places that are written with a capital letter."""
    out: list[str] = []
    for place in places:
        if place.level in ("street", "house") or place.span is None:
            continue
        surface = doc.text[place.span[0] : place.span[1]]
        if surface[:1].isupper() and place.name not in out:
            out.append(place.name)
    return out


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))
