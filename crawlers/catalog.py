"""The bundled sources: import their modules so they register, build one, list which are enabled."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from crawlers.base import SOURCES, Source, SourceNotConfigured
from index.profile import Profile

log = logging.getLogger(__name__)

#: Modules whose import registers a source with @register_source (missing ones are skipped).
SOURCE_MODULES: tuple[str, ...] = (
    "crawlers.vk.source",
    "crawlers.ok.source",
    "crawlers.telegram.source",
    "crawlers.web.source",
)
#: Settings group of each source name (for its poll interval).
SETTINGS_GROUPS = {"vk": "vk", "ok": "ok", "tg": "telegram", "telegram": "telegram", "web": "web"}
#: Poll interval of a source whose settings name none (s).
DEFAULT_POLL_INTERVAL_S = 900


def load_sources() -> list[str]:
    """Import the bundled source modules and return the registered source names."""
    for module in SOURCE_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                log.debug("source module %s is not in this build", module)
            else:
                log.exception("source module %s cannot be imported: the other sources still run", module)
        except Exception:  # one broken collector must not stop the others
            log.exception("source module %s cannot be imported: the other sources still run", module)
    return sorted(SOURCES)


class UnknownSource(ValueError):
    """No source is registered under the name (message in Russian)."""


def build_source(name: str, settings: Any, profile: Profile) -> Source:
    """Build a registered source; raise UnknownSource, or SourceNotConfigured with its reason."""
    names = load_sources()
    factory = SOURCES.get(name)
    if factory is None:
        raise UnknownSource(f"неизвестный источник {name!r}; доступны: {', '.join(names)}")
    return factory(settings, profile)


def source_statuses(settings: Any, profile: Profile) -> dict[str, str | None]:
    """Return {source name: None when it can run, else the Russian reason it is switched off}."""
    out: dict[str, str | None] = {}
    for name in load_sources():
        try:
            SOURCES[name](settings, profile)
        except SourceNotConfigured as exc:
            out[name] = str(exc)
        except Exception as exc:  # a broken factory must not hide the other sources
            log.exception("source %s cannot be built", name)
            out[name] = f"{name}: не удалось создать источник: {exc}"
        else:
            out[name] = None
    return out


def poll_interval_s(settings: Any, name: str) -> int:
    """Return how often a source is polled (its settings group's poll_interval_s, else a default)."""
    group = getattr(settings, SETTINGS_GROUPS.get(name, name), None)
    value = getattr(group, "poll_interval_s", None)
    return int(value) if isinstance(value, int | float) and value > 0 else DEFAULT_POLL_INTERVAL_S
