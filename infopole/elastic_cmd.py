"""The scale-out commands behind the CLI: elastic setup, migrate, reindex, retention (Russian output)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from elasticsearch import ApiError, Elasticsearch, TransportError

from index.models import utcnow
from infopole.settings import Settings

#: How long `elastic setup` waits for the cluster, seconds.
WAIT_S = 300.0


def _echo(message: str) -> None:
    """Print one line for the operator."""
    print(message)  # noqa: T201 (CLI output)


def wait_for_cluster(
    client: Elasticsearch, timeout_s: float = WAIT_S, sleep: Callable[[float], None] = time.sleep
) -> None:
    """Wait until the cluster answers with at least yellow health; raise RuntimeError (Russian) on timeout."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        try:
            client.cluster.health(wait_for_status="yellow", timeout="10s")
            return
        except (ApiError, TransportError) as exc:
            last = str(exc)
            sleep(2.0)
    raise RuntimeError(f"Elasticsearch не ответил за {timeout_s:g} с: {last}")


def set_kibana_system_password(client: Elasticsearch, password: str) -> None:
    """Set the password of the built-in kibana_system user (Kibana's own connection to the cluster)."""
    client.security.change_password(username="kibana_system", password=password)


def elastic_setup(settings: Settings, kibana_system_password: str = "") -> None:
    """Wait for the cluster, set kibana_system's password if given, put the policy, templates, indices."""
    from worker.runtime import open_elastic_store

    store = open_elastic_store(settings, setup=False)
    try:
        wait_for_cluster(store.client)
        if kibana_system_password:
            set_kibana_system_password(store.client, kibana_system_password)
            _echo("пароль пользователя kibana_system установлен")
        from index.es_setup import bootstrap

        bootstrap(store.client, store.layout)
        _echo(
            f"Elasticsearch готов: шаблоны индексов {store.layout.prefix}-*, политика хранения "
            f"{settings.store.retention_days} дн."
        )
    finally:
        store.close()


def migrate_to_elastic(settings: Settings, source_file: Path | None = None) -> int:
    """Copy the embedded SQLite store into Elasticsearch; return the exit code (1 if anything failed)."""
    from index.sqlite import SqliteStore
    from infopole.migrate import migrate_store, sqlite_plan_decisions
    from worker.runtime import open_elastic_store

    path = source_file or settings.sqlite_path
    if not path.exists():
        raise FileNotFoundError(f"нет файла встроенного хранилища: {path}")
    source = SqliteStore(path)
    target = open_elastic_store(settings)
    try:
        report = migrate_store(source, target, plan_decisions=sqlite_plan_decisions(path), progress=_echo)
    finally:
        source.close()
        target.close()
    _echo(report.summary())
    for line in report.failed[:20]:
        _echo(f"  {line}")
    return 1 if report.failed else 0


def reindex(settings: Settings, remap: bool = False) -> int:
    """Rebuild every monthly post index from the stored documents; return the exit code."""
    from infopole.reindex import Rebuild, reindex_posts, remapper
    from worker.runtime import open_elastic_store

    rebuild: Rebuild | None = None
    if remap:
        from index.profile import load_profile
        from risk.understand import Understander
        from worker.runtime import profile_path

        understander = Understander(load_profile(profile_path(settings)))
        rebuild = remapper(settings.pseudonym_key, understander.understand_many)
    store = open_elastic_store(settings)
    try:
        report = reindex_posts(store, rebuild=rebuild, progress=_echo)
    finally:
        store.close()
    _echo(report.summary())
    for post_id, reason in list(report.failed.items())[:20]:
        _echo(f"  {post_id}: {reason}")
    return 1 if report.failed else 0


def retention(settings: Settings, days: int | None = None) -> int:
    """Delete posts older than the retention period on the configured backend; return how many."""
    from index.retention import apply_retention
    from worker.runtime import open_store

    store = open_store(settings)
    try:
        deleted = apply_retention(store, days or settings.store.retention_days, utcnow())
    finally:
        store.close()
    _echo(f"удалено сообщений старше {days or settings.store.retention_days} дн.: {deleted}")
    return deleted


def env_secret(name: str) -> str:
    """Return a secret from the environment ('' when unset)."""
    return os.environ.get(name, "")
