"""Tests for the spike baseline, the hourly test, episodes and the generic series detector."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from risk.spikes import (
    GLOBAL_DIURNAL,
    SeriesError,
    assess,
    assess_baseline,
    assess_hours,
    detect_series,
    episode_start,
    expected_count,
    hourly_baseline,
    level_shift_hits,
    level_shifts,
    nb_tail,
    severity,
)

NAB = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nab-tweets"
START = pd.Timestamp("2026-01-05", tz="UTC")  # a Monday


def hourly(values: np.ndarray | list[float], start: pd.Timestamp = START) -> pd.Series:
    """Return an hourly UTC series starting at `start`."""
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="h", tz="UTC"), dtype=float)


def next_hour(series: pd.Series) -> datetime:
    """Return the hour after the last one of `series`."""
    last: pd.Timestamp = pd.DatetimeIndex(series.index)[-1]
    return (last + pd.Timedelta(hours=1)).to_pydatetime()


def poisson_history(rate: float, days: int = 28, seed: int = 1) -> pd.Series:
    """Return `days` of hourly Poisson counts with a constant rate."""
    rng = np.random.default_rng(seed)
    return hourly(rng.poisson(rate, 24 * days))


def test_global_diurnal_has_mean_one_and_quiet_nights() -> None:
    assert len(GLOBAL_DIURNAL) == 24
    assert sum(GLOBAL_DIURNAL) / 24 == pytest.approx(1.0)
    assert GLOBAL_DIURNAL[4] < 0.3 < 1.3 < GLOBAL_DIURNAL[20]


def test_expected_count_constant_rate_is_unbiased() -> None:
    history = poisson_history(5.0, days=35, seed=2)
    moments = history.index[24 * 28 :: 7]
    values = [expected_count(history[history.index < t], t.to_pydatetime()) for t in moments]
    assert np.mean(values) == pytest.approx(5.0, rel=0.06)


def test_expected_count_robust_to_one_past_burst() -> None:
    history = poisson_history(5.0)
    at = next_hour(history)
    base = expected_count(history, at)
    burst = history.copy()
    burst.iloc[-72] = 100.0  # the same hour of day three days ago, 20× normal
    assert expected_count(burst, at) < base * 1.2


def test_expected_count_follows_growth() -> None:
    rng = np.random.default_rng(3)
    history = hourly(np.concatenate([rng.poisson(5, 24 * 21), rng.poisson(10, 24 * 7)]))
    assert expected_count(history, next_hour(history)) > 8.0


def test_expected_count_sparse_village_stays_near_overall_rate() -> None:
    values = np.zeros(24 * 28)
    values[[30, 150, 200, 333, 400, 480, 555, 640]] = 1.0  # 8 posts in 4 weeks: 2 a week
    history = hourly(values)
    overall = 8 / len(values)
    # 18:00 Moscow (15:00 UTC): an evening hour, the global profile says about 1.35× the mean.
    at = datetime(2026, 2, 2, 15, tzinfo=UTC)
    e = expected_count(history, at)
    assert overall * 0.4 < e < overall * 3.0
    # Without zero rows (only the hours that had posts), the gaps are zero-filled: same answer.
    assert expected_count(history[history > 0], at) == pytest.approx(expected_count(history.iloc[30:], at))


def test_expected_count_learns_the_day_profile() -> None:
    rng = np.random.default_rng(4)
    index = pd.date_range(START, periods=24 * 28, freq="h", tz="UTC")
    local_hour = index.tz_convert("Europe/Moscow").hour
    history = pd.Series(
        np.where(local_hour == 20, rng.poisson(10, len(index)), rng.poisson(1, len(index))), index
    )
    at20 = datetime(2026, 2, 2, 17, tzinfo=UTC)  # 20:00 Moscow
    at04 = datetime(2026, 2, 2, 1, tzinfo=UTC)  # 04:00 Moscow
    high = expected_count(history[history.index < pd.Timestamp(at20)], at20)
    low = expected_count(history[history.index < pd.Timestamp(at04)], at04)
    assert high > 6.0
    assert low < 1.5


def test_expected_count_ignores_future_hours_and_takes_naive_as_utc() -> None:
    history = poisson_history(5.0)
    at = datetime(2026, 1, 30, 12, tzinfo=UTC)
    past = history[history.index < pd.Timestamp(at)]
    assert expected_count(history, at) == pytest.approx(expected_count(past, at))
    naive = past.copy()
    naive.index = pd.DatetimeIndex(naive.index).tz_localize(None)
    assert expected_count(naive, at) == pytest.approx(expected_count(past, at))


def test_expected_count_empty_history_is_near_zero() -> None:
    assert expected_count(pd.Series(dtype=float), datetime(2026, 1, 1, tzinfo=UTC)) < 1e-3


def test_assess_flags_a_clear_spike() -> None:
    history = poisson_history(2.0)
    at = next_hour(history) + timedelta(minutes=25)
    a = assess(history, at, 46)
    assert a.is_spike
    assert a.hour == next_hour(history)
    assert a.observed == 46
    assert 1.0 < a.expected < 4.0
    assert a.p_value < 1e-10
    assert a.ratio > 10
    assert 6 <= a.severity <= 9


def test_assess_normal_hour_and_thresholds() -> None:
    history = poisson_history(5.0)
    at = next_hour(history)
    assert not assess(history, at, 7).is_spike
    # A tiny history: 3 posts in a quiet hour are improbable, but below min_count.
    quiet = poisson_history(0.05)
    assert not assess(quiet, next_hour(quiet), 3).is_spike
    assert assess(quiet, next_hour(quiet), 3, min_count=3).is_spike
    # Less than a day of history: never a spike.
    short = poisson_history(1.0).iloc[:10]
    assert not assess(short, next_hour(short), 50).is_spike


def test_assess_p_value_decreases_with_observed() -> None:
    history = poisson_history(5.0)
    at = next_hour(history)
    ps = [assess(history, at, k).p_value for k in (3, 6, 10, 20, 40)]
    assert ps == sorted(ps, reverse=True)
    assert ps[0] > 0.5


def test_assess_severity_rises_with_reach_and_negativity() -> None:
    history = poisson_history(2.0)
    at = next_hour(history)
    plain = assess(history, at, 20).severity
    assert assess(history, at, 20, reach=100_000).severity == min(10, plain + 2)
    assert assess(history, at, 20, negative_share=1.0).severity == min(10, plain + 2)


def test_assess_hours_matches_assess_in_one_pass() -> None:
    history = poisson_history(3.0)
    start = next_hour(history)
    episode = [start + timedelta(hours=k) for k in range(4)]
    counts = pd.concat([history, hourly([2, 30, 45, 4], pd.Timestamp(start))])
    many = assess_hours(counts, [*episode, start - timedelta(days=40)])
    assert many[start - timedelta(days=40)].is_spike is False  # before the data: no history
    for hour in episode:
        one = assess(counts[counts.index < pd.Timestamp(hour)], hour, int(counts[pd.Timestamp(hour)]))
        got = many[hour]
        assert got.observed == one.observed
        assert got.expected == pytest.approx(one.expected, rel=0.05)
        assert got.is_spike == one.is_spike
    assert [many[h].is_spike for h in episode] == [False, True, True, False]
    assert assess_hours(counts, []) == {}


def test_severity_hand_values() -> None:
    assert severity(63, 3) == 7  # ratio 16 → 1 + 1.5·4
    assert severity(63, 3, reach=100_000) == 9
    assert severity(63, 3, reach=100_000, negative_share=1.0) == 10
    assert severity(1, 3) == 1
    assert severity(7, 3) == 2  # ratio 2 → 2.5 → 2 (banker's rounding)
    assert severity(63, 3, negative_share=0.3) == 7


def test_nb_tail_matches_poisson_when_dispersion_vanishes() -> None:
    for k, mu in [(5, 2.0), (1, 0.3), (20, 10.0)]:
        assert float(nb_tail(k, mu, 1e-7)) == pytest.approx(stats.poisson.sf(k - 1, mu), rel=1e-3)
    # Overdispersion makes a large count less surprising.
    assert float(nb_tail(20, 5.0, 0.5)) > float(nb_tail(20, 5.0, 0.01))


def test_episode_start() -> None:
    h = datetime(2026, 1, 5, 12, tzinfo=UTC)
    assert episode_start(h, []) == h
    assert episode_start(h, [h - timedelta(hours=2), h - timedelta(hours=4)]) == h - timedelta(hours=4)
    assert episode_start(h, [h - timedelta(hours=4)]) == h  # 4 h apart > gap 3 h: a new episode
    assert episode_start(h, [h - timedelta(hours=4)], gap_hours=4) == h - timedelta(hours=4)
    # Later hours and the hour itself are ignored; minutes are floored.
    assert episode_start(h + timedelta(minutes=30), [h, h + timedelta(hours=1)]) == h


def five_minute_frame(values: np.ndarray, start: str = "2015-03-01 00:00:00") -> pd.DataFrame:
    """Return a timestamp,value frame with a 5-minute step."""
    times = pd.date_range(start, periods=len(values), freq="5min")
    return pd.DataFrame({"timestamp": times.strftime("%Y-%m-%d %H:%M:%S"), "value": values})


def test_detect_series_finds_an_injected_burst_and_stays_quiet_on_noise() -> None:
    rng = np.random.default_rng(5)
    n = 288 * 10
    phase = np.arange(n) % 288
    rate = 20 + 15 * np.sin(2 * np.pi * phase / 288)
    values = rng.poisson(rate).astype(float)
    quiet = detect_series(five_minute_frame(values))
    assert quiet == []
    burst_at = 288 * 7 + 100
    values[burst_at : burst_at + 6] += 300
    alarms = detect_series(five_minute_frame(values))
    burst_time = pd.Timestamp("2015-03-01") + pd.Timedelta(minutes=5 * burst_at)
    hits = [a for a in alarms if abs(pd.Timestamp(a["timestamp"]) - burst_time) <= pd.Timedelta(minutes=30)]
    assert hits
    first = hits[0]
    # The test runs on the 3-hour sum: a 6-step burst of 15× shows within its first 20 minutes.
    assert burst_time <= pd.Timestamp(first["timestamp"]) <= burst_time + pd.Timedelta(minutes=20)
    assert first["observed"] >= 300
    assert first["severity"] >= 3
    assert set(first) == {
        "timestamp",
        "severity",
        "observed",
        "expected",
        "window_observed",
        "window_expected",
        "p_value",
        "episode_start",
        "detector",
    }
    assert first["detector"] == "burst"


def test_level_shift_hits_accumulates_a_sustained_excess_but_not_one_burst() -> None:
    rng = np.random.default_rng(8)
    noise = rng.normal(0.0, 1.0, 2000)
    assert len(level_shift_hits(noise)) == 0  # k = 0.5 sd a block drains pure noise
    burst = noise.copy()
    burst[1000:1003] = 40.0  # a short burst: each block adds at most the clip (2)
    assert len(level_shift_hits(burst)) == 0
    shifted = noise.copy()
    shifted[1000:1030] += 1.5  # a sustained excess of 1.5 sd: about 1 a block after k
    hits = level_shift_hits(shifted)
    assert len(hits) >= 1
    assert 1005 <= hits[0] <= 1025


def test_detect_series_catches_a_sustained_rise_the_window_test_misses() -> None:
    rng = np.random.default_rng(10)
    n = 288 * 21
    phase = np.arange(n) % 288
    rate = 60 * (1 + 0.6 * np.sin(2 * np.pi * phase / 288))
    values = rng.poisson(rate).astype(float)
    quiet = detect_series(five_minute_frame(values))
    assert not [a for a in quiet if a["detector"] == "level_shift"]
    start = 288 * 17 + 120  # day 17, 10:00: twelve hours at 1.3× the usual volume, no single burst
    values[start : start + 144] = rng.poisson(1.3 * rate[start : start + 144])
    alarms = detect_series(five_minute_frame(values))
    rise = pd.Timestamp("2015-03-01") + pd.Timedelta(minutes=5 * start)
    inside = [a for a in alarms if rise <= pd.Timestamp(a["timestamp"]) <= rise + pd.Timedelta(hours=12)]
    assert inside, "the 12-hour rise of 30 % was not detected"
    assert {a["detector"] for a in inside} == {"level_shift"}  # the 3-hour window test alone misses it
    assert len(alarms) == len(quiet) + len(inside)


def test_detect_series_daily_step() -> None:
    rng = np.random.default_rng(6)
    values = rng.poisson(50, 120).astype(float)
    values[100] = 400
    frame = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=120, freq="D"), "value": values})
    alarms = detect_series(frame)
    assert [a["timestamp"][:10] for a in alarms] == ["2024-04-10"]
    assert alarms[0]["observed"] == 400.0


def test_detect_series_skips_bad_rows() -> None:
    rng = np.random.default_rng(7)
    values = rng.poisson(30, 288 * 3).astype(object)
    values[5] = "oops"
    values[6] = -3
    frame = five_minute_frame(values)
    frame.loc[7, "timestamp"] = "not a time"
    assert isinstance(detect_series(frame), list)


def test_detect_series_errors() -> None:
    with pytest.raises(SeriesError, match="timestamp"):
        detect_series(pd.DataFrame({"time": [1], "value": [1]}))
    with pytest.raises(SeriesError, match="меньше трёх"):
        detect_series(pd.DataFrame({"timestamp": ["2024-01-01"], "value": [1]}))
    times = pd.to_datetime(["2024-01-01 00:00", "2024-01-01 00:05", "2024-01-01 00:10"]).append(
        pd.date_range("2024-01-01 00:17", periods=40, freq="7min")
    )
    with pytest.raises(SeriesError, match="неровный"):
        detect_series(pd.DataFrame({"timestamp": times, "value": 1.0}))


def _nab(name: str) -> tuple[pd.DataFrame, list[tuple[pd.Timestamp, pd.Timestamp]]]:
    """Return one NAB series and its labelled windows; fail under CI=true when the data is missing."""
    path = NAB / name
    if not path.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"NAB data missing: {path}")
        pytest.skip(f"NAB data missing: {path}")
    labels = json.loads((NAB / "windows.json").read_text(encoding="utf-8"))
    return pd.read_csv(path), [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in labels[name]]


def test_detect_series_finds_the_slow_amzn_rise() -> None:
    # AMZN, 1-2 April 2015: ~1.5x the usual volume for ten hours, no single burst (the window test alone
    # missed it); the level-shift CUSUM must find it inside the labelled window.
    df, windows = _nab("Twitter_volume_AMZN.csv")
    start, end = windows[2]
    alarms = [a for a in detect_series(df) if start <= pd.Timestamp(a["timestamp"]) <= end]
    assert alarms
    assert alarms[0]["detector"] == "level_shift"


def test_detect_series_on_real_twitter_volume() -> None:
    df, windows = _nab("Twitter_volume_FB.csv")
    alarms = [pd.Timestamp(a["timestamp"]) for a in detect_series(df)]
    for start, end in windows:
        assert any(start <= t <= end for t in alarms), (start, end)
    outside = sorted(t for t in alarms if not any(s <= t <= e for s, e in windows))
    episodes = sum(1 for i, t in enumerate(outside) if i == 0 or t - outside[i - 1] > pd.Timedelta(hours=1))
    days = (pd.to_datetime(df["timestamp"]).max() - pd.to_datetime(df["timestamp"]).min()).days
    assert episodes / days <= 0.15


def test_hourly_baseline_judges_as_assess_hours() -> None:
    history = poisson_history(4.0, days=20, seed=4)
    counts = pd.concat([history, hourly([3, 28, 40], pd.Timestamp(next_hour(history)))])
    hours = [t.to_pydatetime() for t in counts.index[-30:]]
    baseline = hourly_baseline(counts.to_numpy(), START.to_pydatetime())
    assert baseline.last == hours[-1]
    fast = assess_baseline(baseline, counts.to_numpy(), hours)
    slow = assess_hours(counts, hours)
    assert fast == slow
    assert [fast[h].is_spike for h in hours[-3:]] == [False, True, True]
    # Hours outside the baseline are left out.
    assert assess_baseline(baseline, counts.to_numpy(), [hours[-1] + timedelta(hours=1)]) == {}


def shaped(days: int, factor_from: int, factor: float, seed: int) -> np.ndarray:
    """Return hourly Poisson counts of 20 a day-shaped hour, × `factor` from hour `factor_from` on."""
    rng = np.random.default_rng(seed)
    rate = np.array([20.0 * GLOBAL_DIURNAL[(h + 3) % 24] for h in range(24 * days)])
    rate[factor_from:] *= factor
    return rng.poisson(rate).astype(float)


def test_level_shifts_catch_a_slow_rise_with_its_start_and_not_noise() -> None:
    start = 16 * 24
    for seed in (1, 2, 3):
        flat = shaped(18, start, 1.0, seed)
        assert level_shifts(hourly_baseline(flat, START.to_pydatetime()), flat) == []
        risen = shaped(18, start, 1.5, seed)
        shifts = level_shifts(hourly_baseline(risen, START.to_pydatetime()), risen)
        assert shifts, seed
        first = shifts[0]
        shift_start = START.to_pydatetime() + timedelta(hours=start)
        assert (
            shift_start - timedelta(hours=12) <= first.since <= first.hour < shift_start + timedelta(hours=36)
        )
        assert first.observed > 1.2 * first.expected and first.p_value < 0.05
        # The live hour alarms on its count so far: the same alarm as once the hour is complete.
        live = risen[: int((first.hour - START.to_pydatetime()) / timedelta(hours=1)) + 1]
        tentative = level_shifts(hourly_baseline(live, START.to_pydatetime()), live)
        assert tentative[-1].hour == first.hour
