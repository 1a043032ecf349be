"""Volume spikes: a seasonal, robust baseline of counts and a negative-binomial tail test.

The baseline is one online pass over a regular count series (one-step-ahead, never looking ahead):

    expected = level × diurnal(hour of day) × weekly(day of week)

- level: an exponentially weighted mean of the deseasonalised counts (half-life 3 days, so recent growth
  counts more), shrunk toward a long-run level (half-life 28 days) when the series is sparse — with
  `SPARSE_PRIOR_COUNTS` or fewer posts in its memory the short level is mostly noise;
- diurnal and weekly factors: decayed ratios of observed to expected counts per phase (half-life 14
  days), shrunk toward a prior profile (a typical Russian social-media day for hourly post counts, flat for
  an arbitrary series) with a prior weight of `PROFILE_PRIOR_COUNTS` expected posts per phase;
- robustness: every observation enters the statistics capped at expected + 3 standard deviations + 1,
  so one past burst barely moves the baseline;
- dispersion: the negative-binomial φ (variance = μ + φ·μ²) by the method of moments over decayed sums
  (half-life 14 days), shrunk toward φ = 0.1 when there is little data;
- warm-up: the level starts as the running mean of what was seen (never the hours being judged), and
  each test adds the baseline's own uncertainty to φ (`baseline_uncertainty`: 1/(1 + posts the level
  rests on), plus up to 0.3 while the day profile is younger than a week).

Series keys (`series_keys`), episode marks and `already_alerted` decide which of the many series of one
burst speaks for it (see docs/detection.md); `discount_one_thread` counts a dominating thread once.

`assess` tests one hour of a product series (post counts per hour); `detect_series` tests any
`timestamp,value` series with a fixed step, on the sum of the last three hours (or one step when the
step is longer), which separates real bursts from the heavy-tailed five-minute noise of social media;
beside it a one-sided CUSUM of clipped hourly z-scores (`level_shift_hits`) catches slow rises and level
shifts that no single window shows (bench/spikes.py on the five NAB Twitter series: 16 of 16 labelled
windows, 0.084 false-alarm episodes per day, median delay 0 min after the labelled point); the live path
runs the same CUSUM on hourly post counts (`hourly_baseline`, `level_shifts`). The constants
below were chosen on those five series from a broad plateau (half-lives of 3–7 days and caps of 2–5 sd
give the same recall; CUSUM intervals h of 10–14), not tuned per series.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NotRequired, TypedDict
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from scipy import stats

from index.models import Post, as_utc

#: Half-life of the level, in days (recent growth counts more).
LEVEL_HALF_LIFE_DAYS = 3.0
#: Half-life of the long-run level a sparse series is shrunk toward, in days.
LONG_LEVEL_HALF_LIFE_DAYS = 28.0
#: Half-life of the diurnal and weekly profiles, in days.
PROFILE_HALF_LIFE_DAYS = 14.0
#: Half-life of the dispersion estimate, in days.
DISPERSION_HALF_LIFE_DAYS = 14.0
#: Prior weight of the profile, in expected posts per phase.
PROFILE_PRIOR_COUNTS = 5.0
#: Posts in the level's memory at which the short and the long-run level weigh the same.
SPARSE_PRIOR_COUNTS = 10.0
#: Observations enter the statistics capped at expected + CAP_SD standard deviations + 1.
CAP_SD = 3.0
#: Prior dispersion φ and its weight (in units of Σ expected²).
PRIOR_DISPERSION = 0.1
PRIOR_DISPERSION_WEIGHT = 10.0
#: Largest dispersion φ the estimate may reach.
MAX_DISPERSION = 5.0
#: Smallest dispersion φ used in a test: the baseline itself is uncertain by about √φ (10%), which matters
#: for large clean counts where the sampling noise alone would make a 10% error look significant.
MIN_DISPERSION = 0.01
#: The window `detect_series` sums before testing, in hours.
DETECT_WINDOW_HOURS = 3.0
#: Default tail probability below which `detect_series` alarms.
DETECT_P_VALUE = 1e-3
#: Each term of the window dispersion estimate is clipped at this multiple of expected².
WINDOW_DISPERSION_CLIP = 5.0
#: Hours a product series needs before its spikes are trusted (warm-up), in hours. Until the level rests on
#: many posts its own uncertainty widens the test (see `_fit`), so a short warm-up is safe.
MIN_HISTORY_HOURS = 12
#: Observations during warm-up enter the level uncapped (the expectation is not known yet).
WARMUP_UNCAPPED_STEPS = 3
#: The dispersion a day profile learnt from no data adds, and the days after which it adds nothing.
YOUNG_PROFILE_DISPERSION = 0.3
PROFILE_MATURE_DAYS = 7.0
#: The level-shift test (a one-sided CUSUM, see `level_shift_hits`): the block it standardises, in hours;
#: the clip of each block's z (one burst hour adds at most this much); the reference value k (the
#: smallest sustained excess it is built to catch, in standard deviations) and the decision interval h.
LEVEL_SHIFT_BLOCK_HOURS = 1.0
LEVEL_SHIFT_CLIP_Z = 2.0
LEVEL_SHIFT_K = 0.5
LEVEL_SHIFT_H = 12.0
#: Days before the level-shift test starts: a week profile learnt from one week biases the baseline of each
#: weekday by its own noise, which a CUSUM would add up; from the second week on each weekday is averaged.
LEVEL_SHIFT_WARMUP_DAYS = 14.0
#: One thread holding at least this share of an hour's messages is a discussion, not many voices.
SINGLE_THREAD_SHARE = 0.6

#: A typical day of Russian social-media posting by local hour (raw weights, normalised below): quiet at
#: night, evening peak. An approximation used only as a prior; each series replaces it with its own profile.
_DIURNAL_WEIGHTS = (
    *(0.9, 0.55, 0.35, 0.25, 0.2, 0.2, 0.3, 0.55, 0.85, 1.05, 1.15, 1.2),
    *(1.25, 1.25, 1.25, 1.25, 1.25, 1.3, 1.35, 1.45, 1.55, 1.55, 1.4, 1.15),
)
#: The same profile with mean 1 (index = local hour).
GLOBAL_DIURNAL: tuple[float, ...] = tuple(24 * w / sum(_DIURNAL_WEIGHTS) for w in _DIURNAL_WEIGHTS)


@dataclass(frozen=True)
class SpikeAssessment:
    """The test of one hour: observed against expected, its tail probability and severity."""

    hour: datetime  # UTC start of the hour
    observed: int
    expected: float
    p_value: float  # P(count ≥ observed) under the baseline
    is_spike: bool
    severity: int  # 1..10
    dispersion: float = MIN_DISPERSION  # the test's φ (counts' own plus the baseline's uncertainty)
    history_hours: int = 0  # hours of the series before this one

    @property
    def ratio(self) -> float:
        """Return how many times the observed count exceeds the expected one."""
        return self.observed / max(self.expected, 0.1)


class SeriesAlarm(TypedDict):
    """One alarm of `detect_series` (JSON-ready)."""

    timestamp: str  # ISO time of the step
    severity: int
    observed: float  # the step's value
    expected: float  # the step's baseline
    window_observed: float  # the sum the test was run on (the last DETECT_WINDOW_HOURS)
    window_expected: float
    p_value: float
    episode_start: str  # ISO time of the first alarm of this episode
    detector: NotRequired[str]  # "burst" (the window tail test) or "level_shift" (the CUSUM)


@dataclass
class _Fit:
    """The result of one baseline pass: one-step-ahead expectation and dispersion per step."""

    expected: np.ndarray
    dispersion: np.ndarray
    uncertainty: np.ndarray  # the baseline's own dispersion before each step (see baseline_uncertainty)


def _half_life_rate(half_life_steps: float) -> float:
    """Return the EWMA update weight for a half-life given in steps."""
    return float(1.0 - 0.5 ** (1.0 / max(half_life_steps, 1e-9)))


def _fit(
    values: np.ndarray,
    day_phase: np.ndarray,
    week_phase: np.ndarray,
    *,
    steps_per_day: float,
    diurnal_prior: Sequence[float],
) -> _Fit:
    """Run the baseline over `values` (NaN = not observed) and return expectations before each step.

    Causal from the first step: while the series is young the level is the running mean of what was
    seen (an EWMA whose weight is at least 1/n), so no value ever shapes its own expectation.
    """
    n = len(values)
    n_day = len(diurnal_prior)
    n_week = int(week_phase.max()) + 1 if n else 1
    a_level = _half_life_rate(LEVEL_HALF_LIFE_DAYS * steps_per_day)
    a_long = _half_life_rate(LONG_LEVEL_HALF_LIFE_DAYS * steps_per_day)
    keep_disp = 1.0 - _half_life_rate(DISPERSION_HALF_LIFE_DAYS * steps_per_day)
    keep_prof = 1.0 - _half_life_rate(PROFILE_HALF_LIFE_DAYS * steps_per_day)
    prior_day = [PROFILE_PRIOR_COUNTS * p for p in diurnal_prior]

    level = long_level = 1e-6
    seen = 0  # observed steps so far
    support = 0.0
    # Profile sums are stored decayed to a common reference step: the value at step i is the stored
    # value times `scale` = keep_prof ** (i - reference); a new term is added divided by `scale`.
    day_num = [0.0] * n_day
    day_den = [0.0] * n_day
    week_num = [0.0] * n_week
    week_den = [0.0] * n_week
    scale = 1.0
    disp_num = disp_den = 0.0

    expected = np.empty(n)
    dispersion = np.empty(n)
    uncertainty = np.empty(n)
    factors: list[float] = [1.0] * n_day
    current_phase = -1
    for i in range(n):
        h = int(day_phase[i])
        w = int(week_phase[i])
        if h < current_phase or current_phase < 0:  # refresh the normalised day profile once a day
            raw = [
                (day_num[k] * scale + prior_day[k]) / (day_den[k] * scale + PROFILE_PRIOR_COUNTS)
                for k in range(n_day)
            ]
            mean = sum(raw) / n_day
            factors = [r / mean for r in raw]
        current_phase = h
        f = factors[h]
        g = (week_num[w] * scale + PROFILE_PRIOR_COUNTS) / (week_den[w] * scale + PROFILE_PRIOR_COUNTS)
        memory = level / a_level  # posts in the short level's memory
        weight = memory / (memory + SPARSE_PRIOR_COUNTS)
        base = weight * level + (1.0 - weight) * long_level
        e = max(base * f * g, 1e-6)
        phi = min(
            max(
                (disp_num + PRIOR_DISPERSION * PRIOR_DISPERSION_WEIGHT)
                / (disp_den + PRIOR_DISPERSION_WEIGHT),
                0.0,
            ),
            MAX_DISPERSION,
        )
        expected[i] = e
        dispersion[i] = phi
        uncertainty[i] = baseline_uncertainty(support, seen / steps_per_day)
        y = values[i]
        if not math.isnan(y):
            if seen < WARMUP_UNCAPPED_STEPS:
                capped = y
            else:
                capped = min(y, e + CAP_SD * math.sqrt(e + phi * e * e) + 1.0)
            seen += 1
            deseason = capped / (f * g)
            level = max(level + max(a_level, 1.0 / seen) * (deseason - level), 1e-6)
            long_level = max(long_level + max(a_long, 1.0 / seen) * (deseason - long_level), 1e-6)
            support = support * (1.0 - a_long) + capped
            day_num[h] += capped / scale
            day_den[h] += base * g / scale
            week_num[w] += capped / scale
            week_den[w] += base * f / scale
            if seen > 1:
                disp_num = disp_num * keep_disp + ((capped - e) ** 2 - e)
                disp_den = disp_den * keep_disp + e * e
        scale *= keep_prof
        if scale < 1e-100:  # rebase the stored sums before the scale underflows
            day_num = [v * scale for v in day_num]
            day_den = [v * scale for v in day_den]
            week_num = [v * scale for v in week_num]
            week_den = [v * scale for v in week_den]
            scale = 1.0
    return _Fit(expected=expected, dispersion=dispersion, uncertainty=uncertainty)


def baseline_uncertainty(support: float, days: float) -> float:
    """Return the baseline's own dispersion φ: from the posts it rests on and from a young day profile.

    A level estimated from `support` posts is uncertain (a Gamma posterior of the rate has relative
    variance 1/support), which makes the predictive count negative binomial with φ larger by about
    1/support: a sparse series (a village with two posts a week) is tested more cautiously. A day and
    week profile learnt from fewer than PROFILE_MATURE_DAYS days of data is also unsure: it adds up to
    YOUNG_PROFILE_DISPERSION, falling linearly to 0 as the days accumulate.
    """
    young = YOUNG_PROFILE_DISPERSION * max(0.0, 1.0 - days / PROFILE_MATURE_DAYS)
    return 1.0 / (1.0 + max(support, 0.0)) + young


def nb_tail(
    observed: np.ndarray | float, expected: np.ndarray | float, dispersion: np.ndarray | float
) -> np.ndarray:
    """Return P(X ≥ observed) for X negative binomial with mean `expected`, variance μ + φ·μ²."""
    mu = np.maximum(np.asarray(expected, dtype=float), 1e-9)
    phi = np.maximum(np.asarray(dispersion, dtype=float), 1e-6)
    r = 1.0 / phi
    k = np.ceil(np.asarray(observed, dtype=float)) - 1.0
    return np.asarray(stats.nbinom.sf(k, r, r / (r + mu)), dtype=float)


def severity(observed: float, expected: float, *, reach: int = 0, negative_share: float = 0.0) -> int:
    """Return a 1..10 severity from the size against normal, the reach and the share of negative posts.

    Size: 1 + 1.5·log2(ratio) (×2 → 2.5, ×4 → 4, ×8 → 5.5, ×22 → 7.7, ×64 → 10); reach adds one point per
    decade above 1,000 (at most 2); negativity adds up to 2 points between 30% and 100% negative.
    """
    ratio = (observed + 1.0) / (expected + 1.0)
    score = 1.0 + 1.5 * math.log2(max(ratio, 1.0))
    if reach > 0:
        score += min(2.0, max(0.0, math.log10(reach) - 3.0))
    score += 2.0 * max(0.0, negative_share - 0.3) / 0.7
    return int(min(10, max(1, round(score))))


def _hour_start(moment: datetime) -> datetime:
    """Return the UTC start of the hour of `moment`."""
    return as_utc(moment).replace(minute=0, second=0, microsecond=0)


def _hourly(history: pd.Series, until: datetime) -> pd.Series:
    """Return `history` as a zero-filled hourly UTC series of the hours before `until`."""
    if history.empty:
        return pd.Series(dtype=float)
    index = pd.DatetimeIndex(history.index)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    series = pd.Series(np.asarray(history.to_numpy(), dtype=float), index=index.floor("h"))
    series = series[series.index < pd.Timestamp(until)]
    if series.empty:
        return series
    series = series.groupby(level=0).sum()
    full = pd.date_range(series.index.min(), pd.Timestamp(until) - pd.Timedelta(hours=1), freq="h", tz="UTC")
    return series.reindex(full, fill_value=0.0)


def _hourly_fit(counts: pd.Series, last: datetime, tz: str) -> tuple[pd.DatetimeIndex, _Fit]:
    """Fit the baseline over zero-filled hourly `counts` from their first hour up to the hour `last`.

    Expectations are one-step-ahead, so the expectation of an hour never uses its own count.
    """
    end = pd.Timestamp(last)
    series = _hourly(counts, last + timedelta(hours=1))
    index = pd.date_range(series.index.min() if len(series) else end, end, freq="h", tz="UTC")
    values = series.reindex(index, fill_value=0.0).to_numpy(dtype=float) if len(series) else np.zeros(1)
    local = index.tz_convert(ZoneInfo(tz))
    fit = _fit(
        values,
        np.asarray(local.hour),
        np.asarray(local.day_of_week),
        steps_per_day=24.0,
        diurnal_prior=GLOBAL_DIURNAL,
    )
    return index, fit


@dataclass(frozen=True)
class HourlyBaseline:
    """One baseline pass over an hourly count series, hour `first` to hour `last`: each hour's test terms.

    The expectation and φ of an hour rest only on the hours before it, so a baseline fitted up to the hour
    being counted stays valid while that hour's own count grows (the live hour): refit it when an earlier
    hour changes or a new hour starts. `shift` carries the level-shift CUSUM over the hours before `last`.
    """

    first: datetime  # UTC start of the first hour
    expected: np.ndarray  # one-step-ahead expectation per hour, first .. last
    phi: (
        np.ndarray
    )  # the test's dispersion φ per hour (the counts' own, at least MIN_DISPERSION, + baseline's)
    shift_total: float  # the CUSUM after the hours before `last` (0 during LEVEL_SHIFT_WARMUP_DAYS)
    shift_hits: tuple[int, ...]  # positions before `last` where the CUSUM crossed LEVEL_SHIFT_H

    @property
    def last(self) -> datetime:
        """Return the UTC start of the last hour (the one the baseline was fitted up to)."""
        return self.first + timedelta(hours=len(self.expected) - 1)


def hourly_baseline(counts: np.ndarray, first: datetime, *, tz: str = "Europe/Moscow") -> HourlyBaseline:
    """Fit the baseline over hourly `counts` starting at the hour `first` (zero-filled; the last one is
    the hour being judged: its own count shapes nothing but nothing here reads it)."""
    start = pd.Timestamp(_hour_start(first))
    index = pd.date_range(start, periods=max(len(counts), 1), freq="h")
    values = np.asarray(counts, dtype=float) if len(counts) else np.zeros(1)
    local = index.tz_convert(ZoneInfo(tz))
    fit = _fit(
        values,
        np.asarray(local.hour),
        np.asarray(local.day_of_week),
        steps_per_day=24.0,
        diurnal_prior=GLOBAL_DIURNAL,
    )
    phi = np.maximum(fit.dispersion, MIN_DISPERSION) + fit.uncertainty
    warm = int(max(24, LEVEL_SHIFT_WARMUP_DAYS * 24))
    z = _shift_z(values[warm:-1], fit.expected[warm:-1], phi[warm:-1])
    hits, total = _cusum(z)
    return HourlyBaseline(
        first=start.to_pydatetime(),
        expected=fit.expected,
        phi=phi,
        shift_total=total,
        shift_hits=tuple(int(h) + warm for h in hits),
    )


def assess_baseline(
    baseline: HourlyBaseline,
    counts: np.ndarray,
    hours: Sequence[datetime],
    *,
    min_count: int = 5,
    p_value: float = 1e-4,
) -> dict[datetime, SpikeAssessment]:
    """Return the assessment of each of `hours` (from `baseline.first` to its last) with `counts` observed.

    `counts` are the hourly counts from `baseline.first` (as fitted, the last hour's may have grown since).
    The same test as `assess_hours`; hours outside the baseline are left out.
    """
    first = baseline.first
    wanted = sorted({_hour_start(h) for h in hours})
    positions = [int((h - first) // timedelta(hours=1)) for h in wanted]
    kept = [(h, i) for h, i in zip(wanted, positions, strict=True) if 0 <= i < len(baseline.expected)]
    if not kept:
        return {}
    at = np.asarray([i for _, i in kept])
    observed = np.asarray(counts, dtype=float)[at] if len(counts) else np.zeros(len(at))
    return _judged(
        [h for h, _ in kept],
        [i for _, i in kept],
        observed,
        baseline.expected[at],
        baseline.phi[at],
        min_count=min_count,
        p_value=p_value,
    )


def _judged(
    hours: Sequence[datetime],
    histories: Sequence[int],
    observed: np.ndarray,
    expected: np.ndarray,
    phi: np.ndarray,
    *,
    min_count: int,
    p_value: float,
) -> dict[datetime, SpikeAssessment]:
    """Return each hour's assessment from its observed and expected counts, dispersion and history (hours)."""
    tails = nb_tail(observed, expected, phi)
    out: dict[datetime, SpikeAssessment] = {}
    for j, (hour, history) in enumerate(zip(hours, histories, strict=True)):
        n, e, p = int(observed[j]), float(expected[j]), float(tails[j])
        out[hour] = SpikeAssessment(
            hour=hour,
            observed=n,
            expected=e,
            p_value=p,
            is_spike=n >= min_count and n > e and p < p_value and history >= MIN_HISTORY_HOURS,
            severity=severity(n, e),
            dispersion=float(phi[j]),
            history_hours=history,
        )
    return out


@dataclass(frozen=True)
class LevelShift:
    """A level-shift alarm of an hourly series: the hour, and the excess since the CUSUM began to rise."""

    hour: datetime  # UTC start of the hour the CUSUM crossed LEVEL_SHIFT_H
    since: datetime  # UTC start of the first hour of the rise (the CUSUM left 0)
    observed: float  # posts in [since, hour]
    expected: float
    p_value: float  # P(sum ≥ observed) under the baseline (negative binomial of the sum)


def level_shifts(baseline: HourlyBaseline, counts: np.ndarray, *, min_count: int = 5) -> list[LevelShift]:
    """Return the level-shift alarms of an hourly series, the last hour judged on its count so far.

    The CUSUM of `detect_series` (`level_shift_hits`) on each hour's clipped z-score: the hours before the
    last are fixed in `baseline`; the last (live) hour alarms once its count so far makes the sum cross.
    An alarm needs at least `min_count` posts in its hour.
    """
    values = np.asarray(counts, dtype=float)
    last = len(baseline.expected) - 1
    hits = list(baseline.shift_hits)
    warm = int(max(24, LEVEL_SHIFT_WARMUP_DAYS * 24))
    if last >= warm and len(values) > last:
        z = _shift_z(values[last:], baseline.expected[last:], baseline.phi[last:])
        clipped = float(np.clip(np.nan_to_num(z), -LEVEL_SHIFT_CLIP_Z, LEVEL_SHIFT_CLIP_Z)[0])
        if max(0.0, baseline.shift_total + clipped - LEVEL_SHIFT_K) > LEVEL_SHIFT_H:
            hits.append(last)
    if not hits:
        return []
    z = np.clip(
        np.nan_to_num(
            _shift_z(
                values[warm : hits[-1] + 1],
                baseline.expected[warm : hits[-1] + 1],
                baseline.phi[warm : hits[-1] + 1],
            )
        ),
        -LEVEL_SHIFT_CLIP_Z,
        LEVEL_SHIFT_CLIP_Z,
    )
    out: list[LevelShift] = []
    total, begin = 0.0, warm  # the CUSUM and the first hour of its current rise
    for position in range(warm, hits[-1] + 1):
        total = max(0.0, total + float(z[position - warm]) - LEVEL_SHIFT_K)
        if total <= 0.0:
            begin = position + 1
        if total <= LEVEL_SHIFT_H and position != hits[-1]:
            continue
        if values[position] >= min_count:
            obs = float(values[begin : position + 1].sum())
            exp = float(baseline.expected[begin : position + 1].sum())
            # A sum of n hours varies by Σφe² around Σe: its own φ is about φ/n, but never below the
            # baseline's own uncertainty, which every hour of the sum shares.
            part_e = baseline.expected[begin : position + 1]
            phi = max(
                float(np.sum(baseline.phi[begin : position + 1] * part_e**2) / max(exp, 1e-9) ** 2),
                MIN_DISPERSION,
            )
            out.append(
                LevelShift(
                    hour=baseline.first + timedelta(hours=position),
                    since=baseline.first + timedelta(hours=begin),
                    observed=obs,
                    expected=exp,
                    p_value=float(nb_tail(obs, exp, phi)),
                )
            )
        total, begin = 0.0, position + 1
    return out


def _shift_z(observed: np.ndarray, expected: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Return each hour's z-score against its baseline (negative binomial standard deviation)."""
    return np.asarray((observed - expected) / np.sqrt(expected + phi * expected**2), dtype=float)


def expected_count(history: pd.Series, at: datetime, *, tz: str = "Europe/Moscow") -> float:
    """Return the expected number of posts in the hour of `at` from the hourly counts before it.

    `history` is indexed by hour starts (aware UTC; naive taken as UTC); missing hours count as zero and
    hours at or after `at` are ignored. `tz` sets the local day and week the profiles follow.
    """
    hour = _hour_start(at)
    _, fit = _hourly_fit(_hourly(history, hour), hour, tz)
    return float(fit.expected[-1])


def judge(
    hour: datetime,
    observed: int,
    expected: float,
    dispersion: float,
    history_hours: int,
    *,
    min_count: int,
    p_value: float,
    reach: int = 0,
    negative_share: float = 0.0,
) -> SpikeAssessment:
    """Return the assessment of one hour from its expectation and the test's dispersion φ."""
    p = float(nb_tail(observed, expected, max(dispersion, MIN_DISPERSION)))
    is_spike = (
        observed >= min_count and observed > expected and p < p_value and history_hours >= MIN_HISTORY_HOURS
    )
    return SpikeAssessment(
        hour=hour,
        observed=int(observed),
        expected=expected,
        p_value=p,
        is_spike=is_spike,
        severity=severity(observed, expected, reach=reach, negative_share=negative_share),
        dispersion=max(dispersion, MIN_DISPERSION),
        history_hours=history_hours,
    )


def assess(
    history: pd.Series,
    at: datetime,
    observed: int,
    *,
    min_count: int = 5,
    p_value: float = 1e-4,
    reach: int = 0,
    negative_share: float = 0.0,
    tz: str = "Europe/Moscow",
) -> SpikeAssessment:
    """Return whether `observed` posts in the hour of `at` are a spike against the hourly `history`.

    A spike needs at least `min_count` posts, more than expected, a tail probability below `p_value`
    and at least MIN_HISTORY_HOURS hours of history (hours at or after `at` in `history` are ignored).
    """
    hour = _hour_start(at)
    past = _hourly(history, hour)
    _, fit = _hourly_fit(past, hour, tz)
    return judge(
        hour,
        observed,
        float(fit.expected[-1]),
        max(float(fit.dispersion[-1]), MIN_DISPERSION) + float(fit.uncertainty[-1]),
        len(past),
        min_count=min_count,
        p_value=p_value,
        reach=reach,
        negative_share=negative_share,
    )


def assess_hours(
    counts: pd.Series,
    hours: Sequence[datetime],
    *,
    min_count: int = 5,
    p_value: float = 1e-4,
    tz: str = "Europe/Moscow",
) -> dict[datetime, SpikeAssessment]:
    """Return the assessment of each hour in `hours` from one pass over the hourly `counts`.

    The same test as `assess` for every hour (each judged only on the hours before it, its observed count
    read from `counts`), but one baseline pass for all of them — use it to look back over an episode.
    Severity here ignores reach and negativity.
    """
    wanted = sorted({_hour_start(h) for h in hours})
    if not wanted:
        return {}
    index, fit = _hourly_fit(counts, wanted[-1], tz)
    at = index.get_indexer(pd.DatetimeIndex(wanted))
    found = at >= 0
    positions = np.where(found, at, 0)  # an hour before the first count has no history
    observed_by_hour = _hourly(counts, wanted[-1] + timedelta(hours=1))
    observed = (
        observed_by_hour.reindex(pd.DatetimeIndex(wanted), fill_value=0.0).to_numpy(dtype=float)
        if len(observed_by_hour)
        else np.zeros(len(wanted))
    )
    phi = np.maximum(fit.dispersion[positions], MIN_DISPERSION) + fit.uncertainty[positions]
    histories = [int(positions[j]) if found[j] else 0 for j in range(len(wanted))]
    return _judged(
        wanted, histories, observed, fit.expected[positions], phi, min_count=min_count, p_value=p_value
    )


def discount_one_thread(
    assessment: SpikeAssessment,
    thread_sizes: Sequence[int],
    *,
    min_count: int = 5,
    p_value: float = 1e-4,
) -> SpikeAssessment:
    """Return the hour re-judged with its busiest thread counted as one message when it dominates.

    A spike is many people raising something; one post drawing a long comment thread is a discussion
    (the conflict and резонанс detectors watch those). When one thread holds at least
    SINGLE_THREAD_SHARE of the hour's messages, the hour is tested again on the other messages plus one.
    `thread_sizes` are the hour's message counts per thread (a post with no thread is its own).
    """
    total = sum(thread_sizes)
    top = max(thread_sizes, default=0)
    if total <= 0 or top < SINGLE_THREAD_SHARE * total:
        return assessment
    observed = max(assessment.observed - top + 1, 0)
    return judge(
        assessment.hour,
        observed,
        assessment.expected,
        assessment.dispersion,
        assessment.history_hours,
        min_count=min_count,
        p_value=p_value,
    )


def episode_start(hour: datetime, previous_spike_hours: Sequence[datetime], gap_hours: int = 3) -> datetime:
    """Return the UTC start of the spike episode `hour` belongs to.

    The episode goes back through the earlier spike hours as long as each is within `gap_hours` of the
    next one; with no such hour, `hour` starts a new episode.
    """
    start = _hour_start(hour)
    earlier = sorted({_hour_start(h) for h in previous_spike_hours if _hour_start(h) < start}, reverse=True)
    gap = timedelta(hours=gap_hours)
    for h in earlier:
        if start - h > gap:
            break
        start = h
    return start


class SeriesError(ValueError):
    """The series cannot be analysed (message in Russian)."""


def _regular(df: pd.DataFrame) -> tuple[pd.Series, pd.Timedelta]:
    """Return the values on a regular time grid (NaN where missing) and the step."""
    if "timestamp" not in df.columns or "value" not in df.columns:
        raise SeriesError("нужны столбцы timestamp и value")
    times = pd.to_datetime(df["timestamp"], errors="coerce")
    values = pd.to_numeric(df["value"], errors="coerce")
    ok = times.notna() & values.notna() & (values >= 0)
    series = pd.Series(values[ok].to_numpy(dtype=float), index=pd.DatetimeIndex(times[ok]))
    series = series.groupby(level=0).sum().sort_index()
    if len(series) < 3:
        raise SeriesError("в ряду меньше трёх пригодных точек")
    step = pd.Timedelta(pd.Series(series.index).diff().dropna().median())
    if step <= pd.Timedelta(0):
        raise SeriesError("не удаётся определить шаг ряда")
    grid = pd.date_range(series.index.min(), series.index.max(), freq=step)
    on_grid = series.reindex(grid)
    off_grid = len(series) - int(on_grid.notna().sum())
    if off_grid > 0.05 * len(series):
        raise SeriesError(f"шаг ряда неровный: {off_grid} точек не ложатся на шаг {step}")
    return on_grid, step


def detect_series(
    df: pd.DataFrame, *, p_value: float | None = None, min_count: float = 5.0
) -> list[SeriesAlarm]:
    """Return the alarms of a `timestamp,value` series with a fixed step of any size.

    Values must be non-negative (counts or volumes); rows with a bad time or value are ignored. Each step
    is tested on the sum of the last DETECT_WINDOW_HOURS (one step when the step is longer) against its
    expectation; an alarm needs a tail probability below `p_value`, a window sum of at least `min_count`
    and the step itself above its baseline. No alarm is raised during the warm-up (one day, and at least
    14 steps). Raises SeriesError when the series is unusable.
    """
    series, step = _regular(df)
    steps_per_day = pd.Timedelta(days=1) / step
    n_day = int(min(24, max(1, math.floor(steps_per_day)))) if steps_per_day >= 2 else 1
    index = pd.DatetimeIndex(series.index)
    day_phase = (
        np.floor((index.hour + index.minute / 60.0) * n_day / 24.0).astype(int)
        if n_day > 1
        else np.zeros(len(index), dtype=int)
    )
    week_phase = (
        np.asarray(index.day_of_week) if step < pd.Timedelta(days=7) else np.zeros(len(index), dtype=int)
    )
    values = series.to_numpy(dtype=float)
    fit = _fit(values, day_phase, week_phase, steps_per_day=steps_per_day, diurnal_prior=[1.0] * n_day)

    window = max(1, round(pd.Timedelta(hours=DETECT_WINDOW_HOURS) / step))
    observed = np.nan_to_num(values)
    win_obs, win_exp, win_phi = _window_sums(observed, fit, window, steps_per_day)
    tail = nb_tail(win_obs, win_exp, win_phi)
    warm = max(math.ceil(steps_per_day), 14)
    bursts = (
        (tail < (DETECT_P_VALUE if p_value is None else p_value))
        & (win_obs >= min_count)
        & (observed > fit.expected)
        & ~np.isnan(values)
    )
    bursts[:warm] = False
    block = max(1, round(pd.Timedelta(hours=LEVEL_SHIFT_BLOCK_HOURS) / step))
    block_obs, block_exp, block_phi = _window_sums(observed, fit, block, steps_per_day)
    ends = np.arange(block - 1, len(values), block)
    ends = ends[ends >= max(warm, LEVEL_SHIFT_WARMUP_DAYS * steps_per_day)]
    z = (block_obs[ends] - block_exp[ends]) / np.sqrt(
        block_exp[ends] + block_phi[ends] * block_exp[ends] ** 2
    )
    shifts = np.zeros(len(values), dtype=bool)
    shifts[ends[level_shift_hits(z)]] = True
    shifts &= (block_obs >= min_count) & ~np.isnan(values)
    hits = bursts | shifts

    alarms: list[SeriesAlarm] = []
    episode: pd.Timestamp | None = None
    last: pd.Timestamp | None = None
    gap = max(step, pd.Timedelta(hours=1))
    for i in np.flatnonzero(hits):
        ts = pd.Timestamp(index[int(i)])
        if last is None or episode is None or ts - last > gap:
            episode = ts
        last = ts
        alarms.append(
            SeriesAlarm(
                timestamp=ts.isoformat(),
                severity=max(
                    severity(float(win_obs[i]), float(win_exp[i])),
                    severity(float(values[i]), float(fit.expected[i])),
                ),
                observed=float(values[i]),
                expected=round(float(fit.expected[i]), 3),
                window_observed=float(win_obs[i]),
                window_expected=round(float(win_exp[i]), 3),
                p_value=float(tail[i]),
                episode_start=episode.isoformat(),
                detector="burst" if bursts[i] else "level_shift",
            )
        )
    return alarms


def _window_sums(
    observed: np.ndarray, fit: _Fit, window: int, steps_per_day: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the rolling sums of `window` steps (observed, expected) and the test's dispersion φ of them.

    φ of the sums is their own method-of-moments estimate (decayed, each term clipped at
    WINDOW_DISPERSION_CLIP × expected², known only `window` steps later) plus the baseline's uncertainty.
    """
    win_obs = pd.Series(observed).rolling(window, min_periods=1).sum().to_numpy()
    win_exp = pd.Series(fit.expected).rolling(window, min_periods=1).sum().to_numpy()
    if window == 1:
        win_phi = fit.dispersion
    else:
        num = np.minimum((win_obs - win_exp) ** 2 - win_exp, WINDOW_DISPERSION_CLIP * win_exp**2)
        keep = 1.0 - _half_life_rate(DISPERSION_HALF_LIFE_DAYS * steps_per_day)
        num_s = pd.Series(num).ewm(alpha=1.0 - keep, adjust=False).mean().shift(window)
        den_s = pd.Series(win_exp**2).ewm(alpha=1.0 - keep, adjust=False).mean().shift(window)
        weight = PRIOR_DISPERSION_WEIGHT * (1.0 - keep)  # the prior's share in the EWMA's scale
        win_phi = np.clip(
            ((num_s + PRIOR_DISPERSION * weight) / (den_s + weight)).fillna(PRIOR_DISPERSION).to_numpy(),
            0.0,
            MAX_DISPERSION,
        )
    return win_obs, win_exp, np.maximum(win_phi, MIN_DISPERSION) + fit.uncertainty


def level_shift_hits(
    z: np.ndarray,
    *,
    k: float = LEVEL_SHIFT_K,
    h: float = LEVEL_SHIFT_H,
    clip: float = LEVEL_SHIFT_CLIP_Z,
) -> np.ndarray:
    """Return the positions where a one-sided CUSUM of the clipped z-scores `z` crosses `h`.

    S = max(0, S + min(max(z, -clip), clip) − k); an alarm when S > h, after which S restarts at 0. The
    clip makes it robust: one burst (the window test's job) adds at most `clip`, so only a sustained
    excess of more than k standard deviations a block — a slow ramp or a level shift — accumulates.
    """
    return _cusum(z, k=k, h=h, clip=clip)[0]


def _cusum(
    z: np.ndarray,
    *,
    k: float = LEVEL_SHIFT_K,
    h: float = LEVEL_SHIFT_H,
    clip: float = LEVEL_SHIFT_CLIP_Z,
) -> tuple[np.ndarray, float]:
    """Return the positions where the CUSUM of `level_shift_hits` crosses `h`, and its final value."""
    total = 0.0
    out: list[int] = []
    for j, value in enumerate(np.clip(np.nan_to_num(np.asarray(z, dtype=float)), -clip, clip)):
        total = max(0.0, total + float(value) - k)
        if total > h:
            out.append(j)
            total = 0.0
    return np.asarray(out, dtype=int), total


# Series keys and episodes across the hierarchy ----------------------------------------------------

#: The key part standing for "every territory".
ALL = "*"
#: Gap between spike hours that still counts as the same episode, in hours.
EPISODE_GAP_HOURS = 3


@dataclass(frozen=True, order=True)
class SeriesKey:
    """A post-count series: sector (None: every sector) × territory (ALL: every one) × source (None: all)."""

    sector: str | None
    territory: str = ALL
    source: str | None = None

    @property
    def family(self) -> tuple[str | None, str]:
        """Return (sector, territory): a place's series and its per-source series make one episode."""
        return (self.sector, self.territory)

    @property
    def rank(self) -> int:
        """Return the family's rank: 0 a sector in a territory, 1 a sector everywhere, 2 everything."""
        if self.sector is None:
            return 2
        return 1 if self.territory == ALL else 0


def series_keys(post: Post) -> list[SeriesKey]:
    """Return every series a citizen's post counts in: overall, sector, sector × territory, each per source.

    The pages' own posts start no series (they are counted, but never make a spike by themselves).
    """
    if post.is_official:
        return []
    keys = [SeriesKey(None)]
    if post.sector:
        keys += [SeriesKey(post.sector), SeriesKey(post.sector, source=post.source)]
        if post.territory:
            keys += [
                SeriesKey(post.sector, post.territory),
                SeriesKey(post.sector, post.territory, post.source),
            ]
    return keys


@dataclass(frozen=True)
class EpisodeMark:
    """An episode already alerted: its family, its first spike hour and the hour it was alerted for."""

    sector: str | None
    territory: str
    start: datetime
    hour: datetime


def _folds_into(mark: EpisodeMark, key: SeriesKey) -> bool:
    """Return whether an alert of `mark`'s family stands for an episode of `key`'s family.

    A family folds into itself; a sector-wide episode folds into an alerted place of the same sector
    (the place's alert already tells the head where); the overall series folds into any sector's episode.
    A place is never folded into a wider series: the head must learn where it happens.
    """
    if (mark.sector, mark.territory) == key.family:
        return True
    if key.rank == 0:
        return False
    if key.rank == 1:
        return mark.sector == key.sector and mark.territory != ALL
    return mark.sector is not None


def already_alerted(
    key: SeriesKey,
    start: datetime,
    hour: datetime,
    marks: Sequence[EpisodeMark],
    gap_hours: int = EPISODE_GAP_HOURS,
) -> bool:
    """Return whether an alerted episode in `marks` already stands for `key`'s episode [start, hour].

    The episodes must touch: the mark's start at most `gap_hours` after `hour`, and this episode's start
    at most `gap_hours` after the hour the mark was alerted for (episodes grow as posts arrive late).
    """
    gap = timedelta(hours=gap_hours)
    first, last = as_utc(start), as_utc(hour)
    return any(
        _folds_into(m, key) and as_utc(m.start) - gap <= last and first <= as_utc(m.hour) + gap for m in marks
    )
