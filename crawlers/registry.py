"""Registry of raw-item mappers by source name: pure functions from a raw API object to a Post."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from index.models import Post

#: A mapper turns one raw object into a Post; it raises ValueError for a malformed object.
Mapper = Callable[[dict[str, Any], bytes], Post]

MAPPERS: dict[str, Mapper] = {}


def register_mapper(name: str) -> Callable[[Mapper], Mapper]:
    """Register a mapper under `name`; raise ValueError if the name is taken."""

    def decorate(func: Mapper) -> Mapper:
        if name in MAPPERS and MAPPERS[name] is not func:
            raise ValueError(f"mapper {name!r} is registered twice")
        MAPPERS[name] = func
        return func

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
