"""Calendar of the simulated period and vectorized sampling of days and times of day.

Time is kept internally as integer days / milliseconds relative to the first day of
data, which keeps every array int64 and makes sort keys cheap.
"""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

DAY_MS: Final = 86_400_000
# Weekday >> weekend: B2B tools are used at work. Monday..Sunday.
WEEKDAY_WEIGHTS: Final = (1.0, 1.04, 1.02, 0.97, 0.85, 0.15, 0.10)
NEVER: Final = np.int64(1 << 40)  # "day" sentinel after any period (churn, addon start)

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def add_months(day: datetime.date, months: int) -> datetime.date:
    """Calendar month arithmetic, clamping the day (Jan 31 + 1 month = Feb 28/29)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return datetime.date(year, month + 1, min(day.day, last))


@dataclass(frozen=True)
class Timeline:
    """The simulated period, cut into calendar-month steps (first/last may be partial)."""

    start: datetime.date  # first day of data
    end_excl: datetime.date  # first day after the data
    bounds: I64  # step boundaries as day offsets: step m is [bounds[m], bounds[m+1])
    step_month: I64  # calendar month (1-12) of each step
    month_start: I64  # day offset of the 1st of the calendar month each step lies in
    day_cdf: F64  # cumulative weekday weight: day_cdf[d] = sum of weights of days < d

    @property
    def n_days(self) -> int:
        return int(self.bounds[-1])

    @property
    def n_steps(self) -> int:
        return len(self.bounds) - 1

    @property
    def epoch_day(self) -> int:
        """Days from 1970-01-01 to start, to turn offsets into Arrow dates/timestamps."""
        return (self.start - datetime.date(1970, 1, 1)).days

    def day_of(self, date: datetime.date) -> int:
        return (date - self.start).days


def build_timeline(end: datetime.date, months: int) -> Timeline:
    if months < 1:
        raise ValueError(f"months must be >= 1, got {months}")
    end_excl = end + datetime.timedelta(days=1)
    start = add_months(end_excl, -months)
    bounds = [0]
    cursor = datetime.date(start.year, start.month, 1)
    while True:
        cursor = add_months(cursor, 1)
        if cursor >= end_excl:
            break
        bounds.append((cursor - start).days)
    bounds.append((end_excl - start).days)
    firsts = [start + datetime.timedelta(days=b) for b in bounds[:-1]]
    month_start = [b - (day.day - 1) for b, day in zip(bounds, firsts, strict=False)]
    n_days = bounds[-1]
    weights = np.asarray(WEEKDAY_WEIGHTS)[(np.arange(n_days) + start.weekday()) % 7]
    day_cdf = np.concatenate([[0.0], np.cumsum(weights)])
    return Timeline(
        start=start,
        end_excl=end_excl,
        bounds=np.asarray(bounds, dtype=np.int64),
        step_month=np.asarray([day.month for day in firsts], dtype=np.int64),
        month_start=np.asarray(month_start, dtype=np.int64),
        day_cdf=day_cdf,
    )


def sample_days(rng: np.random.Generator, tl: Timeline, lo: I64, hi: I64) -> I64:
    """One weekday-weighted day in [lo, hi) per item (requires hi > lo), by inverse CDF."""
    cdf = tl.day_cdf
    u = cdf[lo] + rng.random(len(lo)) * (cdf[hi] - cdf[lo])
    days = np.searchsorted(cdf, u, side="right").astype(np.int64) - 1
    return np.clip(days, lo, hi - 1)


def sample_time_of_day(rng: np.random.Generator, n: int) -> I64:
    """Milliseconds into the day: a morning and an afternoon peak of office work."""
    morning = rng.random(n) < 0.55
    hours = np.where(morning, rng.normal(10.0, 1.6, n), rng.normal(14.8, 2.0, n))
    ms = (hours * 3_600_000).astype(np.int64)
    return np.clip(ms, 0, DAY_MS - 1)


def span_weight(tl: Timeline, lo: I64, hi: I64) -> F64:
    """Total weekday weight of the days in [lo, hi); 0 where the span is empty."""
    lo = np.clip(lo, 0, tl.n_days)
    hi = np.clip(hi, lo, tl.n_days)
    return np.asarray(tl.day_cdf[hi] - tl.day_cdf[lo], dtype=np.float64)
