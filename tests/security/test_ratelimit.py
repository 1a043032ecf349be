"""API rate limits: per key and per address, configurable, 429 with Retry-After, probes exempt."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.auth import API_KEY_COOKIE
from api.ratelimit import RateLimitConfigError, parse_limits
from tests.api.conftest import ROLE_KEYS, headers
from tests.security.conftest import AppFactory


def test_a_key_over_its_limit_gets_429_with_retry_after(make_app: AppFactory) -> None:
    with TestClient(make_app(rate_limit_per_key="3/minute", rate_limit_per_ip="")) as client:
        codes = [client.get("/posts", headers=headers("analyst")).status_code for _ in range(3)]
        assert codes == [200, 200, 200]
        refused = client.get("/posts", headers=headers("analyst"))
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert "слишком много запросов" in refused.json()["detail"]
        assert refused.headers["X-Content-Type-Options"] == "nosniff"  # security headers still on
        # Another key from the same address is counted on its own.
        assert client.get("/posts", headers=headers("head")).status_code == 200


def test_the_login_cookie_counts_as_the_same_key(make_app: AppFactory) -> None:
    with TestClient(make_app(rate_limit_per_key="2/minute", rate_limit_per_ip="")) as client:
        assert client.get("/posts", headers=headers("analyst")).status_code == 200
        client.cookies.set(API_KEY_COOKIE, ROLE_KEYS["analyst"])
        assert client.get("/posts").status_code == 200
        assert client.get("/posts").status_code == 429


def test_an_address_over_its_limit_gets_429_whatever_the_key(make_app: AppFactory) -> None:
    with TestClient(make_app(rate_limit_per_key="", rate_limit_per_ip="4/minute")) as client:
        roles = ["admin", "head", "analyst", "cur"]
        assert [client.get("/posts", headers=headers(r)).status_code for r in roles] == [200] * 4
        assert client.get("/posts", headers=headers("info_lead")).status_code == 429
        # Made-up keys and no key at all are counted against the address too.
        assert client.get("/posts", headers={"X-API-Key": "guess-0123456789abcdef"}).status_code == 429
        assert client.get("/posts").status_code == 429


def test_made_up_keys_are_limited_per_key_as_well(make_app: AppFactory) -> None:
    with TestClient(make_app(rate_limit_per_key="2/minute", rate_limit_per_ip="")) as client:
        wrong = {"X-API-Key": "not-a-key-0123456789"}
        assert [client.get("/posts", headers=wrong).status_code for _ in range(3)] == [401, 401, 429]


def test_liveness_probe_is_never_limited(make_app: AppFactory) -> None:
    with TestClient(make_app(rate_limit_per_key="1/minute", rate_limit_per_ip="1/minute")) as client:
        assert {client.get("/healthz").status_code for _ in range(5)} == {200}


def test_empty_limits_switch_limiting_off(make_app: AppFactory) -> None:
    with TestClient(make_app(rate_limit_per_key="", rate_limit_per_ip="")) as client:
        assert {client.get("/posts", headers=headers("admin")).status_code for _ in range(50)} == {200}


def test_default_limits_are_on() -> None:
    from infopole.settings import ApiSettings

    api = ApiSettings()
    assert parse_limits(api.rate_limit_per_key, "k") and parse_limits(api.rate_limit_per_ip, "i")


def test_several_windows_in_one_setting() -> None:
    items = parse_limits("10/second; 500/hour", "API__RATE_LIMIT_PER_KEY")
    assert [(i.amount, i.get_expiry()) for i in items] == [(10, 1), (500, 3600)]


@pytest.mark.parametrize("spec", ["lots", "10/fortnight", "-1/minute"])
def test_a_bad_limit_is_refused_at_startup_in_russian(make_app: AppFactory, spec: str) -> None:
    with pytest.raises(RateLimitConfigError, match="неверный лимит запросов API__RATE_LIMIT_PER_KEY"):
        make_app(rate_limit_per_key=spec)
