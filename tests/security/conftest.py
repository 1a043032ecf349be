"""Fixtures for the security tests: the API over a seeded SqliteStore, one key per role."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from index.sqlite import SqliteStore
from infopole.settings import ApiSettings, Settings
from tests.api.conftest import NOW, ROLE_KEYS, Clock, Seeded, build_profile, seed

AppFactory = Callable[..., FastAPI]


def security_settings(tmp_path: Path, **api: Any) -> Settings:
    """Return development settings with one key per role, a private data folder and `api` overrides."""
    values: dict[str, Any] = {"keys": {k: r for r, k in ROLE_KEYS.items()}, **api}
    return Settings(env="development", data_dir=tmp_path / "data", api=ApiSettings(**values))


@pytest.fixture
def seeded(sqlite_store: SqliteStore) -> Seeded:
    """Fill the store with the standard API-test objects."""
    return seed(sqlite_store)


@pytest.fixture
def make_app(sqlite_store: SqliteStore, tmp_path: Path) -> AppFactory:
    """Return a factory of apps over the test store; keyword arguments override ApiSettings."""

    def factory(**api: Any) -> FastAPI:
        return create_app(security_settings(tmp_path, **api), sqlite_store, build_profile(), Clock(NOW))

    return factory


@pytest.fixture
def client(make_app: AppFactory) -> Iterator[TestClient]:
    """Return a client of the app with rate limits off (the matrix makes many requests)."""
    with TestClient(make_app(rate_limit_per_key="", rate_limit_per_ip="")) as test_client:
        yield test_client
