"""Seeded, realistic B2B SaaS demo data whose churn has known, observable causes.

Why: a health score can only be shown to work on data where we know what drives churn.
Here churn is *caused* by signals a scorecard can see, so a backtest on this data
should recover them (and one that does not is broken).

Tables (see docs/demo-data.md): accounts, identities, events, subscriptions, invoices,
tickets, surveys, outcomes. Same config -> identical rows, in the same order.

The hidden churn process
------------------------
Time runs in calendar-month steps from ``start = end + 1 day - months`` to ``end``.
Each account has a latent log-engagement ``log_g`` that mean-reverts to 0 with normal
noise. Each month an account may enter a *declining* spell (2.2% / 1.6% / 1.0% a month
for smb / mid-market / enterprise, x1.5 after a poor onboarding; 35% of spells open with
a cliff of 0.7-1.5), losing 0.2-0.6 of ``log_g`` a month until it recovers (20% a
month). Engagement drives what is observed - active users and events, ticket volume,
severity and neglect, payment failures, NPS answers - but churn never looks at it: at
the end ``T`` of every month but the last, each live account churns with probability
``sigmoid(z)``, where ``z`` is computed only from rows stamped before ``T``::

    z = -5.7                                   intercept
      + 5.0 * usage_decline_30d       (L_prev - L_cur) / (L_prev + 3), clipped to [0, 1];
                                      L_cur = logins in [T-30d, T), L_prev in [T-60d, T-30d);
                                      0 until the account has 60 days of data
      + 1.0 * stale_severe_tickets    high/urgent tickets opened <= T-14d and not closed
                                      by T (capped at 3)
      + 1.2 * failed_payments_90d     invoices with status 'failed' in [T-90d, T) (cap 3)
      + 1.8 * detractor_nps           the account's latest NPS answer before T is <= 6
      + 1.3 * poor_onboarding         created inside the period, 30 days old at T, and no
                                      integration_connected event in its first 30 days
      - 0.4 if mid_market, - 1.0 if enterprise
      + N(0, 0.5) noise, fresh for every account and month

The coefficients are ``HIDDEN_CHURN_DRIVERS`` (noise sd: ``HAZARD_NOISE_SD``). Churn
is a monthly hazard, not tied to renewal dates. A churning account's churn date is a
uniform day in the month after ``T`` (lead time 0-31 days; a declining spell usually
shows in the data for months before). From that day (midnight) on the account has no
events, invoices, tickets or survey answers; all its subscriptions end that day;
tickets still open stay open (closed_at NULL); ``outcomes`` gets one ``churned`` row at
that time. With the defaults ~20% of accounts churn over 18 months, enterprise least.
The first two months churn less: the signals need 60 days of history to exist.

Scale: accounts are simulated in blocks with their own random stream and appended to
Parquet, so memory follows the block, not the data. For ``clustered=False`` events are
staged per month and each month is sorted by DuckDB (see ``_sinks``).
"""

from __future__ import annotations

import datetime
import pathlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa

from healthscore.demo._churn import HAZARD_NOISE_SD, HIDDEN_CHURN_DRIVERS
from healthscore.demo._population import Population, draw_population
from healthscore.demo._simulate import simulate_block
from healthscore.demo._sinks import MemorySink, ParquetSink
from healthscore.demo._tables import TABLES, Numbering, build_block
from healthscore.demo._timeline import DAY_MS, build_timeline

__all__ = [
    "HAZARD_NOISE_SD",
    "HIDDEN_CHURN_DRIVERS",
    "TABLES",
    "DemoConfig",
    "Progress",
    "generate_frames",
    "write_demo",
]

EVENTS_PER_BLOCK = 3_000_000  # peak RSS ~1 GB, whatever the total volume

Progress = Callable[[str, int, int], None]
"""progress(step_name, done, total): called after each chunk of work finishes."""


@dataclass(frozen=True)
class DemoConfig:
    """What to generate. Every field takes part in the result; same config, same data."""

    n_accounts: int = 2000
    months: int = 18
    end: datetime.date = datetime.date(2026, 6, 30)  # last day of data
    seed: int = 7
    # Mean events per active user on a full weekday (weekend days count ~0.1), for an
    # account of 20 users. The default gives ~1.45M events for 2000 accounts x 18
    # months; 1M accounts with 0.0276 give ~97M.
    events_per_user_day: float = 0.2
    clustered: bool = True  # events sorted by (account_id, ts); else by ts
    block_accounts: int = 25_000  # accounts simulated together; bounds memory

    def __post_init__(self) -> None:
        if self.n_accounts < 1 or self.months < 1 or self.block_accounts < 1:
            raise ValueError("n_accounts, months and block_accounts must be >= 1")
        if self.block_accounts >= 1 << 21:
            raise ValueError("block_accounts must be < 2**21 (event sort key layout)")
        if self.events_per_user_day < 0:
            raise ValueError("events_per_user_day must be >= 0")


class _Sink(Protocol):
    def write(self, name: str, table: pa.Table) -> None: ...


def _generate(config: DemoConfig, sink: _Sink, progress: Progress | None) -> None:
    tl = build_timeline(config.end, config.months)
    population = draw_population(
        np.random.default_rng(np.random.SeedSequence([config.seed, 0])), config.n_accounts, tl
    )
    numbering = Numbering(
        account_width=max(6, len(str(config.n_accounts))),
        user_width=max(7, len(str(population.n_users_total))),
    )
    for index, (lo, hi) in enumerate(_blocks(population, config, tl.n_days)):
        rng = np.random.default_rng(np.random.SeedSequence([config.seed, 1, index]))
        block = population.take(lo, hi)
        result = simulate_block(rng, tl, block, config.events_per_user_day)
        tables = build_block(
            block, lo, result, tl, numbering, rng, events_by_time=not config.clustered
        )
        for name, table in tables.items():
            sink.write(name, table)
        if progress is not None:
            progress("accounts", hi, config.n_accounts)


def _blocks(population: Population, config: DemoConfig, n_days: int) -> list[tuple[int, int]]:
    """Cut accounts into blocks of at most block_accounts and ~EVENTS_PER_BLOCK events.

    Bounding the expected events (not just accounts) keeps peak memory flat whatever
    events_per_user_day is; the cut depends only on the config, so it is seeded too.
    """
    p = population
    load = p.n_users * p.active_frac * p.intensity * p.user_scale * config.events_per_user_day
    # 0.5: weekends, late sign-ups, churn and declines; close to the measured volume.
    cumulative = np.cumsum(load * n_days * 0.5)
    blocks, lo = [], 0
    while lo < config.n_accounts:
        base = cumulative[lo - 1] if lo else 0.0
        by_load = int(np.searchsorted(cumulative, base + EVENTS_PER_BLOCK, side="right"))
        hi = min(lo + config.block_accounts, max(by_load, lo + 1))
        blocks.append((lo, hi))
        lo = hi
    return blocks


def write_demo(
    directory: pathlib.Path,
    config: DemoConfig = DemoConfig(),
    progress: Progress | None = None,
) -> dict[str, pathlib.Path]:
    """Write one Parquet file per table into directory; return {table_name: path}."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {name: directory / f"{name}.parquet" for name in TABLES}
    buckets = None
    if not config.clustered:
        tl = build_timeline(config.end, config.months)
        buckets = (tl.epoch_day + tl.bounds[:-1]) * DAY_MS * 1000
    sink = ParquetSink(paths, buckets)

    def on_month(done: int, total: int) -> None:
        if progress is not None:
            progress("sorting events by time", done, total)

    try:
        _generate(config, sink, progress)
        sink.close()
        if not config.clustered:
            sink.sort_staged_events(on_month)
    finally:
        sink.close()
        sink.discard_staging()
    return paths


def generate_frames(config: DemoConfig) -> dict[str, pd.DataFrame]:
    """Small-data convenience: same data as write_demo, in memory (for tests)."""
    sink = MemorySink()
    _generate(config, sink, None)
    frames = {}
    for name, parts in sink.parts.items():
        table = pa.concat_tables(parts)
        if name == "events" and not config.clustered:
            table = table.sort_by([("ts", "ascending"), ("event_id", "ascending")])
        frames[name] = table.to_pandas()
    return frames
