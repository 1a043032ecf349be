"""GET /sources: the health of collection, for the admin, the analyst and the head."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from index.models import SourceState
from index.sqlite import SqliteStore
from tests.api.conftest import NOW, headers


@pytest.mark.parametrize("role", ["admin", "analyst", "head"])
def test_allowed_roles_see_every_source(client: TestClient, role: str) -> None:
    response = client.get("/sources", headers=headers(role))
    assert response.status_code == 200
    names = [s["name"] for s in response.json()]
    assert {"vk", "ok"} <= set(names)


@pytest.mark.parametrize("role", ["info_lead", "cur", "recipient:uk-dom"])
def test_other_roles_are_refused(client: TestClient, role: str) -> None:
    response = client.get("/sources", headers=headers(role))
    assert response.status_code == 403
    assert response.json()["detail"] == "недостаточно прав для этого действия"


def test_without_a_key_401(client: TestClient) -> None:
    assert client.get("/sources").status_code == 401


def test_unconfigured_sources_say_why(client: TestClient) -> None:
    sources = {s["name"]: s for s in client.get("/sources", headers=headers("analyst")).json()}
    vk = sources["vk"]
    assert vk["enabled"] is False and vk["status"] == "disabled"
    assert vk["disabled_reason"] == "vk отключён: VK__TOKEN не задан"
    assert vk["title"] == "ВКонтакте"


def test_health_numbers_lag_and_silence(client: TestClient, sqlite_store: SqliteStore) -> None:
    times = [NOW - timedelta(hours=7) - timedelta(minutes=10 * i) for i in range(20)]
    sqlite_store.save_source_state(
        SourceState(
            name="demo",
            last_run_at=NOW - timedelta(minutes=5),
            last_success_at=NOW - timedelta(minutes=5),
            items_last_run=0,
            run_items=[12, 7, 0],
            items_total=19,
            errors={"vk/15": 2, "vk/6": 1},
            newest_item_at=max(times),
            item_times=times,
        )
    )
    sqlite_store.save_source_state(
        SourceState(name="tg-test", last_success_at=NOW, newest_item_at=NOW - timedelta(minutes=30))
    )
    sources = {s["name"]: s for s in client.get("/sources", headers=headers("head")).json()}
    demo = sources["demo"]
    assert demo["status"] == "silent" and demo["status_text"] == "молчит 7 ч 0 мин"
    assert demo["lag_s"] == 7 * 3600
    assert demo["usual_gap_s"] == 600
    assert demo["silence_threshold_s"] == 6 * 3600  # 3 × 10 min is below the 6 h floor
    assert demo["run_items"] == [12, 7, 0] and demo["items_last_run"] == 0
    assert demo["errors"] == {"vk/15": 2, "vk/6": 1}
    assert sources["tg-test"]["status"] == "ok" and sources["tg-test"]["lag_s"] == 1800
