"""Spikes: a causal warm-up, the baseline's own uncertainty, the one-thread discount, series keys and
one alert per episode across a place, its sources, its sector and the overall series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from risk.spikes import (
    ALL,
    MIN_HISTORY_HOURS,
    PROFILE_MATURE_DAYS,
    YOUNG_PROFILE_DISPERSION,
    EpisodeMark,
    SeriesKey,
    already_alerted,
    assess,
    assess_hours,
    baseline_uncertainty,
    discount_one_thread,
    nb_tail,
    series_keys,
)
from tests.factories import make_post

START = pd.Timestamp("2026-10-25 21:00", tz="UTC")  # midnight in Moscow


def hourly(values: list[float] | np.ndarray) -> pd.Series:
    return pd.Series(values, index=pd.date_range(START, periods=len(values), freq="h"), dtype=float)


def test_baseline_uncertainty() -> None:
    assert baseline_uncertainty(0.0, 0.0) == pytest.approx(1.0 + YOUNG_PROFILE_DISPERSION)
    assert baseline_uncertainty(9.0, PROFILE_MATURE_DAYS) == pytest.approx(0.1)  # 1 / (1 + 9)
    assert baseline_uncertainty(999.0, 30.0) == pytest.approx(0.001)
    half = baseline_uncertainty(1e9, PROFILE_MATURE_DAYS / 2)
    assert half == pytest.approx(YOUNG_PROFILE_DISPERSION / 2, abs=1e-6)


def test_a_burst_on_the_first_evening_is_caught() -> None:
    # The demo's heating failure: a district with ~1 post an hour, then 30 in the 19th hour of the stream.
    rng = np.random.default_rng(3)
    quiet = rng.poisson(1.0, 18).astype(float)
    counts = hourly([*quiet, 30.0])
    hour = (START + pd.Timedelta(hours=18)).to_pydatetime()
    judged = assess_hours(counts, [hour])[hour]
    assert judged.history_hours == 18 >= MIN_HISTORY_HOURS
    assert judged.is_spike and judged.p_value < 1e-6
    # The same count after too short a history is never a spike.
    early = (START + pd.Timedelta(hours=MIN_HISTORY_HOURS - 2)).to_pydatetime()
    assert not assess(counts, early, 30).is_spike


def test_the_baseline_never_looks_ahead() -> None:
    rng = np.random.default_rng(4)
    base = rng.poisson(3.0, 24 * 5).astype(float)
    later_burst = base.copy()
    later_burst[-10:] += 200.0  # a burst after the hours judged
    hours = [(START + pd.Timedelta(hours=h)).to_pydatetime() for h in range(2, 24 * 5 - 10)]
    a = assess_hours(hourly(base), hours)
    b = assess_hours(hourly(later_burst), hours)
    assert all(a[h].expected == pytest.approx(b[h].expected) for h in hours)


def test_a_sparse_village_is_tested_cautiously() -> None:
    values = np.zeros(24 * 28)
    values[[30, 150, 200, 333, 400, 480, 555, 640]] = 1.0  # two posts a week
    counts = hourly(values)
    at = (START + pd.Timedelta(hours=len(values))).to_pydatetime()
    judged = assess(counts, at, 5)
    assert judged.dispersion > 0.09  # about 1 / (1 + 8 posts) on top of the counts' own
    assert judged.is_spike  # five complaints in one hour in such a village are still a spike
    # ... but less improbable than a Poisson count with the same expectation would make them.
    poisson = float(nb_tail(5, judged.expected, 1e-6))
    assert judged.p_value > 3 * poisson


def test_one_dominating_thread_counts_once() -> None:
    rng = np.random.default_rng(5)
    counts = hourly(rng.poisson(2.0, 24 * 7).astype(float))
    at = (START + pd.Timedelta(hours=24 * 7)).to_pydatetime()
    judged = assess(counts, at, 30)
    assert judged.is_spike
    discussion = discount_one_thread(judged, [27, 1, 1, 1])  # 90% in one thread: 4 voices
    assert discussion.observed == 4 and not discussion.is_spike
    many = discount_one_thread(judged, [12, 8, 5, 5])  # the largest thread holds 40%: unchanged
    assert many is judged
    assert discount_one_thread(judged, []) is judged


def test_series_keys_of_a_post() -> None:
    post = make_post(sector="ЖКХ", territory="centr", source="tg")
    assert series_keys(post) == [
        SeriesKey(None),
        SeriesKey("ЖКХ"),
        SeriesKey("ЖКХ", source="tg"),
        SeriesKey("ЖКХ", "centr"),
        SeriesKey("ЖКХ", "centr", "tg"),
    ]
    assert series_keys(make_post(sector=None, territory=None)) == [SeriesKey(None)]
    assert series_keys(make_post(sector="ЖКХ", territory=None, source="vk")) == [
        SeriesKey(None),
        SeriesKey("ЖКХ"),
        SeriesKey("ЖКХ", source="vk"),
    ]
    assert series_keys(make_post(is_official=True)) == []
    assert SeriesKey("ЖКХ", "centr", "tg").family == ("ЖКХ", "centr")
    assert [SeriesKey("ЖКХ", "centr").rank, SeriesKey("ЖКХ").rank, SeriesKey(None).rank] == [0, 1, 2]


def test_one_alert_per_episode_across_the_hierarchy() -> None:
    t = datetime(2026, 10, 26, 18, tzinfo=UTC)
    place = EpisodeMark("ЖКХ", "zav", start=t, hour=t)
    # The place's own series or a source of it, an hour later: the same episode.
    assert already_alerted(SeriesKey("ЖКХ", "zav"), t, t + timedelta(hours=1), [place])
    assert already_alerted(
        SeriesKey("ЖКХ", "zav", "tg"), t + timedelta(hours=1), t + timedelta(hours=2), [place]
    )
    # The episode start moved earlier because late posts made an earlier hour a spike: still the same.
    assert already_alerted(SeriesKey("ЖКХ", "zav"), t - timedelta(hours=2), t + timedelta(hours=1), [place])
    # A new episode after a gap longer than three hours is a new alert.
    later = t + timedelta(hours=5)
    assert not already_alerted(SeriesKey("ЖКХ", "zav"), later, later, [place])
    # The sector everywhere and the overall series fold into the place; another place does not.
    assert already_alerted(SeriesKey("ЖКХ"), t, t + timedelta(hours=1), [place])
    assert already_alerted(SeriesKey(None), t, t, [place])
    assert not already_alerted(SeriesKey("ЖКХ", "centr"), t, t, [place])
    assert not already_alerted(SeriesKey("Дороги"), t, t, [place])
    # A place is never folded into a sector-wide alert: the head must learn where.
    sector = EpisodeMark("ЖКХ", ALL, start=t, hour=t)
    assert not already_alerted(SeriesKey("ЖКХ", "zav"), t, t, [sector])
    assert already_alerted(SeriesKey("ЖКХ", source="vk"), t, t, [sector])
    assert not already_alerted(SeriesKey("Дороги", source="vk"), t, t, [sector])
    overall = EpisodeMark(None, ALL, start=t, hour=t)
    assert already_alerted(SeriesKey(None), t, t, [overall])
    assert not already_alerted(SeriesKey("ЖКХ"), t, t, [overall])
