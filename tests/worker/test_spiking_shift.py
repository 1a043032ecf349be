"""The live spike path catches a slow level shift (the CUSUM of risk.spikes) as one alert, and the
per-hour baselines it reuses give the same judgement as a fresh fit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

from index.models import Alert, Post
from index.profile import Profile, Territory
from index.sqlite import SqliteStore
from infopole.settings import Settings
from risk.spikes import GLOBAL_DIURNAL
from risk.understand import Understander
from tests.factories import make_post
from worker import spiking
from worker.runtime import Runtime
from worker.spiking import detect_spikes, recent_marks

START = datetime(2026, 3, 2, 0, tzinfo=UTC)
DAYS = 16  # the level-shift test starts after 14 days of history
RATE = 20.0  # ЖКХ complaints an hour in Заводской district, on average over the day


def rate(at: datetime) -> float:
    """Return the usual complaints an hour at `at`: RATE shaped by a typical day (quiet at night)."""
    return RATE * GLOBAL_DIURNAL[(at.hour + 3) % 24]  # Moscow time


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    store = SqliteStore(tmp_path / "shift.sqlite3")
    profile = Profile(
        name="Тестовск",
        territories=[
            Territory(
                id="city",
                name="Тестовск",
                level="municipality",
                children=[Territory(id="zav", name="Заводской район")],
            )
        ],
    )
    yield Runtime(Settings(env="development"), store, profile, cast(Understander, None), Clock())
    store.close()


def hour_posts(at: datetime, n: int, tag: str) -> list[Post]:
    """Return `n` ЖКХ complaints of Заводской district spread over the hour starting at `at`."""
    out = []
    for i in range(n):
        pid = f"vk:{tag}-{at:%m%d%H}-{i}"
        moment = at + timedelta(seconds=int(3599 * (i + 0.5) / max(n, 1)))
        values: dict[str, Any] = {
            "id": pid,
            "source": "vk",
            "published_at": moment,
            "sector": "ЖКХ",
            "topic": "Отсутствие горячей воды",
            "territory": "zav",
            "author_id": f"a-{pid}",
            "thread_id": pid,
            "text": f"Нет горячей воды, дом {i}",
        }
        out.append(make_post(**values))
    return out


def live_day(rt: Runtime, factor: float, seed: int) -> list[Alert]:
    """Store DAYS days of ordinary traffic, then run the live path over one day at `factor` × the rate.

    Each hour arrives in two batches (its first and second half), each detected as it is stored, with
    the episodes alerted so far read back from the store as the pipeline does.
    """
    rng = np.random.default_rng(seed)
    history = [
        p
        for h in range(DAYS * 24)
        for p in hour_posts(START + timedelta(hours=h), rng.poisson(rate(START + timedelta(hours=h))), "h")
    ]
    rt.store.upsert_posts(history)
    alerts: list[Alert] = []
    day = START + timedelta(days=DAYS)
    for h in range(24):
        at = day + timedelta(hours=h)
        posts = hour_posts(at, int(rng.poisson(rate(at) * factor)), "live")
        half = len(posts) // 2
        for batch in (posts[:half], posts[half:]):
            now = batch[-1].published_at + timedelta(seconds=1) if batch else at
            cast(Clock, rt.clock).now = now
            rt.store.upsert_posts(batch)
            for alert in detect_spikes(rt, batch, now, recent_marks(rt, now)):
                if rt.store.add_alert(alert):
                    alerts.append(alert)
    return alerts


def test_a_slow_level_shift_is_one_spike_alert(rt: Runtime) -> None:
    alerts = live_day(rt, 1.5, seed=5)
    assert len(alerts) == 1, [a.title for a in alerts]
    alert = alerts[0]
    assert (alert.sector, alert.territory) == ("ЖКХ", "zav")
    details = alert.details
    assert details["detector"] == "level_shift"
    assert details["shift_observed"] > 1.3 * details["shift_expected"]
    assert details["p_value"] < 1e-3
    # The rise was caught within the day, and no single hour of it was a burst on its own.
    day = START + timedelta(days=DAYS)
    assert day <= datetime.fromisoformat(details["hour"]) < day + timedelta(hours=20)
    assert details["observed"] < 2 * details["expected"]
    assert alert.title.startswith("Всплеск: ЖКХ, Заводской район")


def test_a_flat_series_raises_no_spike(rt: Runtime) -> None:
    assert live_day(rt, 1.0, seed=5) == []


def test_baselines_are_fitted_once_an_hour(rt: Runtime) -> None:
    """Runs within one hour reuse the series baselines; a new hour refits them."""
    rng = np.random.default_rng(3)
    rt.store.upsert_posts(
        [
            p
            for h in range(48)
            for p in hour_posts(
                START + timedelta(hours=h), rng.poisson(rate(START + timedelta(hours=h))), "h"
            )
        ]
    )
    at = START + timedelta(hours=48)
    posts = hour_posts(at, 30, "live")
    fits = spiking._BASELINES.fits
    for part in (posts[:10], posts[10:20], posts[20:]):
        rt.store.upsert_posts(part)
        detect_spikes(rt, part, part[-1].published_at, [])
    first_hour = spiking._BASELINES.fits - fits
    assert 0 < first_hour <= 6  # overall, sector, place, each with its source: fitted by the first run only
    later = hour_posts(at + timedelta(hours=1), 10, "next")
    rt.store.upsert_posts(later)
    detect_spikes(rt, later, later[-1].published_at, [])
    assert spiking._BASELINES.fits - fits == 2 * first_hour
