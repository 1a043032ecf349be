"""Fixtures for the OK tests: the loopback OK server over the Тестовск group."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from crawlers.ok.client import OkClient, session_secret
from crawlers.ok.source import OkOptions, OkSource
from crawlers.ratelimit import LocalRateLimiter
from index.models import OfficialPage
from index.profile import Profile, SourceList
from tests.crawlers.ok.fake_ok import APP_KEY, APP_SECRET, GROUP, TOKEN, FakeOkServer, OkWorld, standard_world

#: "Now" of the OK tests: 2024-03-06 10:00 UTC (13:00 in Moscow).
NOW = datetime(2024, 3, 6, 10, 0, tzinfo=UTC)


def ok_profile(groups: list[str] | None = None) -> Profile:
    """Return a profile with the official OK group (by id) and more groups by reference."""
    page = OfficialPage(
        id="ok-adm", network="ok", name="Администрация", url=f"https://ok.ru/group/{GROUP}", owner_id=GROUP
    )
    return Profile(name="город Тестовск", pages=[page], sources=SourceList(ok_groups=groups or []))


@pytest.fixture
def ok_world() -> OkWorld:
    return standard_world()


@pytest.fixture
def ok_server(ok_world: OkWorld) -> Iterator[FakeOkServer]:
    with FakeOkServer(ok_world) as running:
        yield running


@pytest.fixture
def make_ok_client(ok_server: FakeOkServer) -> Callable[..., OkClient]:
    def make(token: str = TOKEN, app_secret: str = APP_SECRET) -> OkClient:
        secret = session_secret(token, app_secret)
        return OkClient(
            APP_KEY, token, secret, LocalRateLimiter(1000), api_url=ok_server.url, sleep=lambda s: None
        )

    return make


@pytest.fixture
def make_ok_source(make_ok_client: Callable[..., OkClient]) -> Callable[..., OkSource]:
    def make(profile: Profile | None = None, **kwargs: object) -> OkSource:
        client = make_ok_client(**kwargs)
        return OkSource(client, profile or ok_profile(), OkOptions(), clock=lambda: NOW)

    return make
