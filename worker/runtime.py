"""Per-process runtime of a worker: settings, store, profile, understanding, clock — built once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from index.profile import Profile, load_profile
from index.store import Store
from infopole.settings import Settings, load_settings
from risk.dedup import Deduper, MemoryDedupStore
from risk.gazetteer_csv import with_gazetteer_files
from risk.understand import Understander
from worker.clock import make_clock

if TYPE_CHECKING:
    from redis import Redis

    from index.elastic import ElasticStore

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What the actors need, shared by every actor of one process."""

    settings: Settings
    store: Store
    profile: Profile
    understander: Understander
    clock: Callable[[], datetime]
    deduper: Deduper | None = None  # near-duplicates and stories, state shared by every worker process


class RedisDedupStore:
    """The near-duplicate and story state in Redis, so parallel worker processes agree (risk.dedup)."""

    def __init__(self, client: Redis) -> None:
        """Use a Redis client (the broker's server)."""
        self._redis = client

    def put_if_absent(self, items: Sequence[tuple[str, bytes]], ttl_s: int) -> list[bytes | None]:
        """Set each absent key (SET NX EX); return the value already there, None where set now."""
        pipe = self._redis.pipeline(transaction=False)
        for key, value in items:
            pipe.set(key, value, nx=True, ex=ttl_s)
        done = pipe.execute()
        taken = [key for (key, _), ok in zip(items, done, strict=True) if not ok]
        found = dict(zip(taken, self.get_many(taken), strict=True))
        return [None if ok else found.get(key) for (key, _), ok in zip(items, done, strict=True)]

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Return the values of keys (MGET)."""
        if not keys:
            return []
        return [v.encode("utf-8") if isinstance(v, str) else v for v in self._redis.mget(list(keys))]

    def put(self, items: Sequence[tuple[str, bytes]], ttl_s: int) -> None:
        """Set keys with an expiry."""
        pipe = self._redis.pipeline(transaction=False)
        for key, value in items:
            pipe.set(key, value, ex=ttl_s)
        pipe.execute()


def make_deduper() -> Deduper:
    """Return a Deduper on the broker's Redis (REDIS__URL), or in memory with a warning when there is none."""
    from redis import Redis

    from worker.broker import BrokerNotConfigured, redis_url

    try:
        url = redis_url()
    except BrokerNotConfigured:
        log.warning("REDIS__URL не задан: дубликаты и сюжеты ищутся только внутри этого процесса")
        return Deduper(MemoryDedupStore())
    return Deduper(RedisDedupStore(Redis.from_url(url)))


def open_store(settings: Settings) -> Store:
    """Open the configured Store backend."""
    if settings.store.backend == "sqlite":
        from index.sqlite import SqliteStore

        return SqliteStore(settings.sqlite_path)
    if settings.store.backend == "elastic":
        return open_elastic_store(settings)
    raise NotImplementedError(f"store backend {settings.store.backend!r} is not available in this build")


def open_elastic_store(settings: Settings, *, setup: bool = True) -> ElasticStore:
    """Open the Elasticsearch store of `settings` (with `setup`: lifecycle policy, templates, indices)."""
    from index.elastic import ElasticStore, connect
    from index.es_setup import Layout

    cfg = settings.store
    client = connect(
        cfg.es_url,
        cfg.es_user,
        cfg.es_password.get_secret_value(),
        plain_json=cfg.es_plain_json,
        ca_certs=cfg.es_ca_certs or None,
        timeout_s=cfg.es_timeout_s,
    )
    layout = Layout(
        prefix=cfg.es_prefix,
        replicas=cfg.es_replicas,
        lifecycle=not cfg.es_plain_json,
        retention_days=cfg.retention_days,
    )
    return ElasticStore(client, layout, setup=setup)


def profile_path(settings: Settings) -> Path:
    """Return the configured profile path, or the bundled demo profile."""
    if settings.profile is not None:
        return settings.profile
    from crawlers.demo import DEMO_PROFILE_PATH

    return DEMO_PROFILE_PATH


def build_runtime(settings: Settings) -> Runtime:
    """Open the store, load the profile and the understanding models for one process."""
    store = open_store(settings)
    profile = load_profile(profile_path(settings))
    if profile.gazetteer_csv:
        profile, problems = with_gazetteer_files(profile, profile.gazetteer_csv)
        for problem in problems[:20]:
            log.warning("справочник адресов: %s", problem)
    understander = Understander(profile)
    clock = make_clock(settings.clock, store)
    return Runtime(settings, store, profile, understander, clock, make_deduper())


@lru_cache(maxsize=1)
def get_runtime() -> Runtime:
    """Return this process's runtime, building it on first use."""
    runtime = build_runtime(load_settings())
    log.info(
        "worker runtime ready: store %s, profile %s", runtime.settings.store.backend, runtime.profile.name
    )
    return runtime
