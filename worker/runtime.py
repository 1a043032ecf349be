"""Per-process runtime of a worker: settings, store, profile, understanding, clock — built once."""

from __future__ import annotations

import logging
import threading
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


#: Set each absent key with an expiry. ARGV: ttl, the keys joined by newlines, the 1-based value number of
#: each key joined by commas, then the distinct values. Reply: the numbers of the keys that were taken and
#: the numbers of the values found there (both joined by commas), then the distinct values found. Few
#: arguments and reply elements whatever the number of keys: redis-py packs and parses each one in Python.
_PUT_IF_ABSENT_LUA = """
local which = {}
for n in string.gmatch(ARGV[3], "%d+") do which[#which + 1] = tonumber(n) end
local taken, refs, found, seen = {}, {}, {}, {}
local i = 0
for key in string.gmatch(ARGV[2], "[^\\n]+") do
  i = i + 1
  if not redis.call('SET', key, ARGV[3 + which[i]], 'NX', 'EX', ARGV[1]) then
    local value = redis.call('GET', key)
    if value then
      if not seen[value] then
        found[#found + 1] = value
        seen[value] = #found
      end
      taken[#taken + 1] = i
      refs[#refs + 1] = seen[value]
    end
  end
end
local out = {table.concat(taken, ","), table.concat(refs, ",")}
for _, value in ipairs(found) do out[#out + 1] = value end
return out
"""
#: Set every key with an expiry.
_PUT_LUA = """
for i, key in ipairs(KEYS) do
  redis.call('SET', key, ARGV[i + 1], 'EX', ARGV[1])
end
return #KEYS
"""


class RedisDedupStore:
    """The near-duplicate and story state in Redis, so parallel worker processes agree (risk.dedup).

    Each call is one round trip and one server-side script, whatever the number of keys (a batch of 100
    posts sets about 5,000 LSH bucket keys: as separate commands the client alone spent ~3 ms per post).
    """

    def __init__(self, client: Redis) -> None:
        """Use a Redis client (the broker's server)."""
        self._redis = client
        self._put_if_absent = client.register_script(_PUT_IF_ABSENT_LUA)
        self._put = client.register_script(_PUT_LUA)

    def put_if_absent(self, items: Sequence[tuple[str, bytes]], ttl_s: int) -> list[bytes | None]:
        """Set each absent key (SET NX EX, in order); return the value already there, None where set now."""
        if not items:
            return []
        if any("\n" in k or not k for k, _ in items):
            raise ValueError("ключи хранилища дубликатов не могут быть пустыми или содержать перевод строки")
        values: dict[bytes, int] = {}
        which = [values.setdefault(v, len(values) + 1) for _, v in items]
        reply = self._put_if_absent(
            keys=[], args=[ttl_s, "\n".join(k for k, _ in items), ",".join(map(str, which)), *values]
        )
        taken, refs, *found = (v.encode("utf-8") if isinstance(v, str) else v for v in reply)
        out: list[bytes | None] = [None] * len(items)
        if taken:
            for n, ref in zip(taken.split(b","), refs.split(b","), strict=True):
                out[int(n) - 1] = found[int(ref) - 1]
        return out

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Return the values of keys (MGET)."""
        if not keys:
            return []
        return [v.encode("utf-8") if isinstance(v, str) else v for v in self._redis.mget(list(keys))]

    def put(self, items: Sequence[tuple[str, bytes]], ttl_s: int) -> None:
        """Set keys with an expiry."""
        if items:
            self._put(keys=[k for k, _ in items], args=[ttl_s, *(v for _, v in items)])


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


#: One build per process: the worker's threads all ask for the runtime with their first messages.
_RUNTIME_LOCK = threading.Lock()


def get_runtime() -> Runtime:
    """Return this process's runtime, building it on first use (once, whichever thread asks first)."""
    with _RUNTIME_LOCK:
        return _build_once()


@lru_cache(maxsize=1)
def _build_once() -> Runtime:
    """Build this process's runtime (callers hold _RUNTIME_LOCK)."""
    runtime = build_runtime(load_settings())
    log.info(
        "worker runtime ready: store %s, profile %s", runtime.settings.store.backend, runtime.profile.name
    )
    return runtime
