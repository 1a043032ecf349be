"""What every collector looks like: the Source protocol, its registry and its exception tree.

A source polls its platform from a cursor and yields batches of raw objects with the cursor reached
after each batch. The worker sends each batch to the ingest actor and only then saves the cursor, so
a collector killed midway resumes without a gap (and the idempotent store absorbs the overlap).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from index.models import SourceState
from index.profile import Profile


class SourceNotConfigured(Exception):
    """The source lacks credentials or targets; it is switched off loudly, the rest keeps running."""


class SourceError(Exception):
    """A collector failed to fetch something."""


class TransientSourceError(SourceError):
    """Retrying later may help (network, 5xx, rate limits, VK 6/9/10/29, Telegram flood wait)."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PermanentSourceError(SourceError):
    """Retrying will not help (access denied, deleted, private); the object is skipped and counted."""


class CredentialsError(SourceError):
    """The token or session is invalid or needs a human (VK 5, captcha 14): pause and alert the analyst."""


@dataclass
class Batch:
    """Raw objects fetched together and the cursor reached after them."""

    mapper: str  # the registered mapper name for these raw objects (crawlers.registry)
    items: list[dict[str, Any]]
    cursor: dict[str, Any]
    errors: dict[str, int] = field(default_factory=dict)  # error kind -> count while fetching them


class Source(Protocol):
    """A collector: built from settings and the profile, polled from its saved state."""

    name: ClassVar[str]

    def poll(self, state: SourceState) -> Iterator[Batch]:
        """Yield batches from `state.cursor` on; raise TransientSourceError/CredentialsError to stop."""
        ...


#: A factory builds a configured source or raises SourceNotConfigured with a Russian reason.
SourceFactory = Callable[[Any, Profile], Source]

SOURCES: dict[str, SourceFactory] = {}


def register_source(name: str) -> Callable[[SourceFactory], SourceFactory]:
    """Register a source factory under `name`; raise ValueError if the name is taken."""

    def decorate(factory: SourceFactory) -> SourceFactory:
        if name in SOURCES and SOURCES[name] is not factory:
            raise ValueError(f"source {name!r} is registered twice")
        SOURCES[name] = factory
        return factory

    return decorate
