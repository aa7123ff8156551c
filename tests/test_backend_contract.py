"""The backend contract: the same scorecard gives the same numbers on DuckDB and on Spark.

DuckDB is the reference. Each case runs one lazy expression on both backends, for one
as-of date and for several dates in one call, and compares metric frames (floats to
1e-9 relative) and score frames (scores to 2 decimals; tiers, segments, stages and
reason codes and texts exactly; impacts and sub-scores to 1e-6).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from ibis.backends import BaseBackend

from healthscore import Engine, ResolvedScorecard, load_scorecard_text
from tests._backends import (
    assert_same_metrics,
    assert_same_scores,
    demo_tables,
    duckdb_backend,
    release_spark_sockets,
    require_spark,
    spark_backend,
    spark_session,
)

pytestmark = [
    pytest.mark.spark,
    # pyspark 4.0's toPandas passes astype(copy=False), which pandas 3 deprecates.
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:DeprecationWarning:pyspark"),
    # pyspark leaves the socket it collects results through to the garbage collector.
    pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning"),
]

EXAMPLE = Path(__file__).resolve().parents[1] / "src" / "healthscore" / "examples" / "saas.yaml"
ONE_DATE = dt.date(2026, 6, 30)
MANY_DATES = [dt.date(2026, 3, 31), dt.date(2026, 5, 1), dt.date(2026, 6, 30)]

# Every metric kind and every measure kind, with the edge cases that differ between
# engines: integer / decimal-literal division, division by zero, nulls in `last` and
# `days_since` columns, count distinct, medians (replenishment), windows and offsets.
EVERY_KIND = """
name: every_kind
version: "1"
sources:
  accounts: {table: accounts}
  events: {table: events}
  invoices: {table: invoices}
  tickets: {table: tickets}
  surveys: {table: surveys}
metrics:
  logins_30d: {kind: count, table: events, where: "type == 'login'", window: 30d}
  events_all: {kind: count, table: events}
  value_30d: {kind: sum, table: events, column: value, window: 30d}
  amount_avg_90d: {kind: avg, table: invoices, column: amount, window: 90d}
  amount_min_90d: {kind: min, table: invoices, column: amount, window: 90d}
  amount_max_90d: {kind: max, table: invoices, column: amount, window: 90d}
  seats_min: {kind: min, table: accounts, column: seats}
  csat_min_90d: {kind: min, table: tickets, column: csat, window: 90d}
  users_30d: {kind: distinct, table: events, column: user_id, window: 30d}
  inviters:
    {kind: distinct, table: events, column: user_id, where: "type in ('login', 'invite_sent')"}
  last_amount: {kind: last, table: invoices, column: amount}
  last_csat: {kind: last, table: tickets, column: csat}
  last_nps: {kind: last, table: surveys, column: score, where: "kind == 'nps'", window: 90d}
  days_since_login: {kind: days_since, table: events, where: "type == 'login'"}
  days_since_closed: {kind: days_since, table: tickets, column: closed_at}
  days_since_first_close: {kind: days_since_first, table: tickets, column: closed_at}
  logins_change: {kind: change, metric: logins_30d, output: percent}
  logins_ratio: {kind: change, metric: logins_30d, output: ratio}
  value_change: {kind: change, metric: value_30d}
  logins_per_user: {kind: rate, metric: logins_30d, per: users_30d}
  logins_per_seat: {kind: rate, metric: logins_30d, per: seats}
  logins_tenure: {kind: tenure_scaled, metric: logins_30d}
  paid_cadence: {kind: replenishment, table: invoices, where: "status == 'paid'"}
  paid_cadence_180d:
    {kind: replenishment, table: invoices, where: "status == 'paid'", window: 180d}
  days_to_renewal: {kind: expr, expr: "days_until(renewal_date)"}
  tenure_days: {kind: expr, expr: "days_since(created_at)"}
  mixed: {kind: expr, expr: "logins_30d / 2.5 + users_30d * 0.5 - seats / 3"}
  by_zero:
    kind: expr
    expr: "coalesce(last_nps, 5) * max(logins_per_user, 0.1) / (events_all - events_all)"
  logged: {kind: expr, expr: "log1p(value_30d) + abs(-min(tenure_days, 365)) / 7"}
groups:
  usage:
    weight: 3
    measures:
      logins:
        kind: bands
        metric: logins_30d
        bands: [{min: 0, score: 0}, {min: 1, score: 40}, {min: 5, score: 70}, {min: 20, score: 100}]
      login_trend: {kind: linear, metric: logins_change, bad: -50, good: 10, missing: neutral}
      depth: {kind: percentile, metric: logins_per_user, within: segment}
      depth_all:
        {kind: percentile, metric: logins_per_seat, within: all, direction: lower_is_better}
      volume: {kind: log_z, metric: value_30d, within: segment}
      volume_all: {kind: log_z, metric: events_all, within: all, z_range: 1.5}
      own_baseline: {kind: baseline, metric: logins_30d, baseline: 90d}
      recency: {kind: linear, metric: days_since_login, bad: 30, good: 0, missing: worst}
  commercial:
    weight: 1
    measures:
      cadence: {kind: linear, metric: paid_cadence, bad: 2, good: 1}
      runway: {kind: linear, metric: days_to_renewal, bad: 0, good: 180}
      nps: {kind: linear, metric: last_nps, bad: 3, good: 9, reason: "latest NPS {value:.0f}"}
gates:
  quiet:
    when: "days_since_login >= 30 or is_null(days_since_login)"
    cap: 35
    reason: "no login for 30 days"
  paying:
    when: "amount_max_90d > 5000 and not is_null(last_amount)"
    floor: 20
    reason: "large invoices"
segments:
  big: {when: "segment == 'enterprise'"}
  rest: {}
stages:
  young: {when: "tenure_days < 120"}
  older: {}
"""

CARDS = {
    # One failed payment fires the example's gate here, so the toy data exercises gates.
    "example": lambda: load_scorecard_text(
        EXAMPLE.read_text().replace(
            'when: "failed_payments_90d >= 2"', 'when: "failed_payments_90d >= 1"'
        ),
        str(EXAMPLE),
    ),
    "every_kind": lambda: load_scorecard_text(EVERY_KIND),
}
DATES = {"one_date": ONE_DATE, "many_dates": MANY_DATES}
Dates = dt.date | Sequence[dt.date]


@pytest.fixture(scope="session")
def tables() -> dict[str, pa.Table]:
    return demo_tables()


@pytest.fixture(scope="session")
def duckdb_con(tables: dict[str, pa.Table]) -> Iterator[BaseBackend]:
    con = duckdb_backend(tables)
    yield con
    con.disconnect()


@pytest.fixture(scope="session")
def spark_con(
    tables: dict[str, pa.Table], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BaseBackend]:
    require_spark()
    session = spark_session(tmp_path_factory.mktemp("spark-warehouse"))
    try:
        yield spark_backend(session, tables)
    finally:
        session.stop()
        release_spark_sockets()


@pytest.fixture(scope="module")
def scorecards() -> dict[str, ResolvedScorecard]:
    return {name: load() for name, load in CARDS.items()}


def _engines(
    card: ResolvedScorecard, duckdb_con: BaseBackend, spark_con: BaseBackend
) -> tuple[Engine, Engine]:
    return Engine(card, duckdb_con), Engine(card, spark_con)


@pytest.mark.parametrize("dates", DATES.values(), ids=DATES.keys())
@pytest.mark.parametrize("card", CARDS.keys())
def test_metric_frames_agree(
    card: str,
    dates: Dates,
    scorecards: dict[str, ResolvedScorecard],
    duckdb_con: BaseBackend,
    spark_con: BaseBackend,
) -> None:
    reference, spark = _engines(scorecards[card], duckdb_con, spark_con)
    expected = reference.metrics(dates)
    actual = spark.metrics(dates)
    _assert_not_trivial(expected, scorecards[card], dates)
    assert_same_metrics(expected, actual)


@pytest.mark.parametrize("dates", DATES.values(), ids=DATES.keys())
@pytest.mark.parametrize("card", CARDS.keys())
def test_score_frames_agree(
    card: str,
    dates: Dates,
    scorecards: dict[str, ResolvedScorecard],
    duckdb_con: BaseBackend,
    spark_con: BaseBackend,
) -> None:
    reference, spark = _engines(scorecards[card], duckdb_con, spark_con)
    expected = reference.score(dates)
    actual = spark.score(dates)
    # Both segments, both stages, several tiers and a gate take part in the comparison.
    assert expected.segment.nunique() == 2 and expected.stage.nunique() == 2
    assert expected.tier.nunique() >= 2
    assert any(r["code"].startswith("gate.") for rs in expected.reasons for r in rs)
    assert_same_scores(expected, actual)


def _assert_not_trivial(frame: pd.DataFrame, card: ResolvedScorecard, dates: Dates) -> None:
    """Each metric varies across accounts, so agreement is evidence (by_zero is all null)."""
    count = 1 if isinstance(dates, dt.date) else len(dates)
    assert frame.as_of.nunique() == count
    flat = [s.name for s in card.metrics if frame[s.name].nunique() < 2 and s.name != "by_zero"]
    assert not flat, f"metrics with fewer than 2 distinct values: {flat}"
    if "by_zero" in frame:
        assert frame.by_zero.isna().all()


def test_backtests_agree(
    scorecards: dict[str, ResolvedScorecard],
    duckdb_con: BaseBackend,
    spark_con: BaseBackend,
) -> None:
    """Evidence runs where the data lives: the same backtest on DuckDB and on Spark."""
    reference, spark = _engines(scorecards["example"], duckdb_con, spark_con)
    expected = reference.backtest("2026-02-01", "2026-05-01", "1mo", horizon="30d")
    actual = spark.backtest("2026-02-01", "2026-05-01", "1mo", horizon="30d")
    assert expected.observations > 0 and expected.churned > 0
    assert actual.model_dump() == expected.model_dump()
