"""Registry of raw-item mappers by source name: pure functions from a raw API object to a Post."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from index.models import Post

#: A mapper turns one raw object into a Post; it raises ValueError for a malformed object.
Mapper = Callable[[dict[str, Any], bytes], Post]

MAPPERS: dict[str, Mapper] = {}

#: Deepest nesting of dicts and lists a raw object may have; deeper ones are refused before mapping
#: (they would blow Python's recursion limit in reprs, validation or JSON serialisation of Post.raw).
MAX_RAW_DEPTH = 100


def too_deep(value: object, limit: int = MAX_RAW_DEPTH) -> bool:
    """Return whether `value` nests dicts and lists deeper than `limit` (checked without recursion)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[object]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _guarded(func: Mapper) -> Mapper:
    """Return `func` refusing too deeply nested objects with a ValueError (Russian), as every mapper must."""

    @functools.wraps(func)
    def mapper(raw: dict[str, Any], pseudonym_key: bytes) -> Post:
        if too_deep(raw):
            raise ValueError(f"объект источника вложен глубже {MAX_RAW_DEPTH} уровней: не разбирается")
        try:
            return func(raw, pseudonym_key)
        except RecursionError:
            raise ValueError("объект источника слишком сложен для разбора") from None

    return mapper


def register_mapper(name: str) -> Callable[[Mapper], Mapper]:
    """Register a mapper under `name` (guarded against too deep objects) and return the guarded mapper.

    Raises ValueError if another function has the name; registering the same function again is a no-op.
    """

    def decorate(func: Mapper) -> Mapper:
        known = MAPPERS.get(name)
        if known is not None:
            if known is func or getattr(known, "__wrapped__", None) is func:
                return known
            raise ValueError(f"mapper {name!r} is registered twice")
        MAPPERS[name] = _guarded(func)
        return MAPPERS[name]

    return decorate


def get_mapper(name: str) -> Mapper:
    """Return the mapper registered under `name`; raise KeyError with the known names if absent."""
    _load_builtin_mappers()
    try:
        return MAPPERS[name]
    except KeyError:
        raise KeyError(f"unknown source {name!r}; known: {sorted(MAPPERS)}") from None


#: Modules whose import registers their mappers with @register_mapper (collectors add theirs here).
BUILTIN_MAPPER_MODULES: tuple[str, ...] = (
    "crawlers.telegram.mapping",
    "crawlers.web.mapping",
    "crawlers.vk.mapping",
    "crawlers.ok.mapping",
)


def _load_builtin_mappers() -> None:
    """Import the bundled sources so that their mappers register themselves."""
    import importlib

    from crawlers.demo import mapping as demo_mapping

    register_mapper("demo")(demo_mapping.map_demo_item)
    for module in BUILTIN_MAPPER_MODULES:
        importlib.import_module(module)
