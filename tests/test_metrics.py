"""The point-in-time metric engine: each metric kind by hand, and no leakage from the future."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthscore import Engine, load_scorecard_text
from tests.conftest import duckdb_with, toy_frames

CARD = """name: kinds
version: "1"
sources:
  accounts: {table: accounts}
  events: {table: events}
  invoices: {table: invoices}
metrics:
  logins_7d: {kind: count, table: events, where: "type == 'login'", window: 7d}
  logins_prev: {kind: change, metric: logins_7d, output: percent}
  logins_ratio: {kind: change, metric: logins_7d, output: ratio}
  value_sum_7d: {kind: sum, table: events, column: value, window: 7d}
  value_avg_7d: {kind: avg, table: events, column: value, window: 7d}
  value_min: {kind: min, table: events, column: value}
  value_max: {kind: max, table: events, column: value}
  users_7d: {kind: distinct, table: events, column: user_id, window: 7d}
  last_value: {kind: last, table: events, column: value}
  days_since_event: {kind: days_since, table: events}
  per_user: {kind: rate, metric: logins_7d, per: users_7d}
  per_seat: {kind: rate, metric: users_7d, per: seats}
  logins_scaled: {kind: tenure_scaled, metric: logins_7d}
  order_recency: {kind: replenishment, table: invoices, where: "status == 'paid'"}
  renewal_in: {kind: expr, expr: "days_until(renewal_date)"}
  utilization: {kind: expr, expr: "users_7d / seats * 100"}
groups:
  usage:
    measures:
      logins: {kind: linear, metric: logins_7d, bad: 0, good: 5}
      baseline: {kind: baseline, metric: logins_7d, baseline: 14d}
"""
AS_OF = dt.date(2026, 3, 15)


def frames() -> dict[str, pd.DataFrame]:
    ts = pd.Timestamp
    accounts = pd.DataFrame(
        {
            "account_id": ["a", "b", "young", "late"],
            "seats": [10, 4, 2, 5],
            "created_at": [ts("2025-01-01"), ts("2025-06-01"), ts("2026-03-12"), ts("2026-03-20")],
            "renewal_date": [
                dt.date(2026, 4, 14),
                dt.date(2027, 1, 1),
                dt.date(2027, 3, 12),
                dt.date(2027, 3, 20),
            ],
        }
    )
    events = pd.DataFrame(
        [
            # a: this week 3 logins by 2 users; the week before, 1 login; one event after as_of.
            ("a", "u1", ts("2026-03-14 10:00"), "login", 1.0),
            ("a", "u2", ts("2026-03-13 09:00"), "login", 3.0),
            ("a", "u1", ts("2026-03-09 00:00"), "login", 2.0),
            ("a", "u1", ts("2026-03-05 12:00"), "login", 5.0),
            ("a", "u3", ts("2026-03-01 08:00"), "export", 7.0),
            ("a", "u1", ts("2026-03-15 00:00"), "login", 100.0),  # exactly as_of: the future
            ("young", "u9", ts("2026-03-13 00:00"), "login", 1.0),
        ],
        columns=["account_id", "user_id", "ts", "type", "value"],
    )
    events.insert(0, "event_id", range(len(events)))
    invoices = pd.DataFrame(
        [
            ("a", ts("2026-01-01"), "paid"),
            ("a", ts("2026-01-11"), "paid"),
            ("a", ts("2026-01-31"), "paid"),
            ("a", ts("2026-02-10"), "failed"),
            ("a", ts("2026-03-02"), "paid"),
            ("b", ts("2026-03-01"), "paid"),
        ],
        columns=["account_id", "ts", "status"],
    )
    invoices["amount"] = 10.0
    return {"accounts": accounts, "events": events, "invoices": invoices}


@pytest.fixture(scope="module")
def metrics() -> pd.DataFrame:
    engine = Engine(load_scorecard_text(CARD), duckdb_with(frames()))
    return engine.metrics(AS_OF).set_index("account_id")


def test_accounts_created_after_as_of_are_not_scored(metrics: pd.DataFrame) -> None:
    assert sorted(metrics.index) == ["a", "b", "young"]


def test_aggregates_by_hand(metrics: pd.DataFrame) -> None:
    a = metrics.loc["a"]
    assert a.logins_7d == 3  # 03-09, 03-13, 03-14; not 03-15 (as_of itself)
    assert a.value_sum_7d == 6.0
    assert a.value_avg_7d == 2.0
    assert (a.value_min, a.value_max) == (1.0, 7.0)
    assert a.users_7d == 2
    assert a.last_value == 1.0
    assert a.days_since_event == pytest.approx(14 / 24)  # 03-14 10:00 -> 03-15 00:00


def test_empty_windows(metrics: pd.DataFrame) -> None:
    b = metrics.loc["b"]
    assert b.logins_7d == 0 and b.value_sum_7d == 0 and b.users_7d == 0  # counts are real zeros
    assert pd.isna(b.value_avg_7d) and pd.isna(b.last_value) and pd.isna(b.days_since_event)
    assert pd.isna(b.per_user)  # 0 / 0 is no data, not an error


def test_change_rate_and_expressions(metrics: pd.DataFrame) -> None:
    a = metrics.loc["a"]
    assert a.logins_prev == pytest.approx(200.0)  # 3 against 1 (03-05) the week before
    assert a.logins_ratio == pytest.approx(3.0)
    assert a.per_user == pytest.approx(1.5)
    assert a.per_seat == pytest.approx(0.2)
    assert a.utilization == pytest.approx(20.0)
    assert a.renewal_in == pytest.approx(30.0)


def test_tenure_scaling_for_young_accounts(metrics: pd.DataFrame) -> None:
    # 1 login in 3 days of life scales to 7/3 over the 7-day window; old accounts unscaled.
    assert metrics.loc["young", "logins_scaled"] == pytest.approx(7 / 3)
    assert metrics.loc["a", "logins_scaled"] == pytest.approx(3.0)


def test_replenishment_against_own_typical_interval(metrics: pd.DataFrame) -> None:
    # Paid gaps: 10, 20, 30 days -> median 20; 13 days since the last paid invoice.
    assert metrics.loc["a", "order_recency"] == pytest.approx(13 / 20)
    assert pd.isna(metrics.loc["b", "order_recency"])  # one invoice: no interval yet


def test_replenishment_counts_purchase_days_not_rows() -> None:
    data = frames()
    # A second paid invoice the same day as one of a's, and three on one day for b.
    same_day = pd.DataFrame(
        [
            ("a", pd.Timestamp("2026-01-11 05:00"), "paid"),
            ("b", pd.Timestamp("2026-03-01 01:00"), "paid"),
            ("b", pd.Timestamp("2026-03-01 02:00"), "paid"),
        ],
        columns=["account_id", "ts", "status"],
    ).assign(amount=10.0)
    data["invoices"] = pd.concat([data["invoices"], same_day], ignore_index=True)
    engine = Engine(load_scorecard_text(CARD), duckdb_with(data))
    recency = engine.metrics(AS_OF).set_index("account_id")["order_recency"]
    assert recency["a"] == pytest.approx(13 / 20)  # still gaps of 10, 20, 30 days
    assert pd.isna(recency["b"])  # still one purchase day: no interval yet


def test_baseline_ratio(metrics: pd.DataFrame) -> None:
    # 3 logins this week against 1 login in the 14 days before: 3 / (1 * 7/14) = 6.
    assert metrics.loc["a", "_logins_7d__vs_14d_baseline"] == pytest.approx(6.0)


def test_many_dates_equal_one_date_at_a_time() -> None:
    engine = Engine(load_scorecard_text(CARD), duckdb_with(frames()))
    days = [dt.date(2026, 3, 1), dt.date(2026, 3, 10), AS_OF]
    together = engine.metrics(days)
    for day in days:
        alone = engine.metrics(day)
        part = together[together.as_of == pd.Timestamp(day)].reset_index(drop=True)
        pd.testing.assert_frame_equal(part, alone, check_dtype=False)


def test_one_account_only() -> None:
    engine = Engine(load_scorecard_text(CARD), duckdb_with(frames()))
    assert engine.metrics(AS_OF, accounts=["a"]).account_id.tolist() == ["a"]


future_rows = st.lists(
    st.tuples(
        st.sampled_from(["a000", "a001", "a002", "a003"]),
        st.integers(0, 400 * 86400),  # seconds at or after as_of
        st.sampled_from(["login", "feature_used", "integration_connected", "invite_sent"]),
        st.floats(0, 1000),
        st.sampled_from(["paid", "failed"]),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(future_rows)
def test_rows_stamped_at_or_after_as_of_never_change_a_metric(rows: list[tuple]) -> None:
    from tests.conftest import EXAMPLE

    base = toy_frames(seed=3, accounts=4, events=300)
    as_of = pd.Timestamp("2026-04-01")
    before = Engine(EXAMPLE, duckdb_with(base)).metrics(as_of.date())
    grown = {name: frame.copy() for name, frame in base.items()}
    extra_events = pd.DataFrame(
        {
            "event_id": range(10_000, 10_000 + len(rows)),
            "account_id": [r[0] for r in rows],
            "user_id": "u_future",
            "ts": [as_of + pd.Timedelta(seconds=r[1]) for r in rows],
            "type": [r[2] for r in rows],
            "value": [r[3] for r in rows],
        }
    )
    extra_invoices = pd.DataFrame(
        {
            "invoice_id": range(10_000, 10_000 + len(rows)),
            "account_id": [r[0] for r in rows],
            "ts": [as_of + pd.Timedelta(seconds=r[1]) for r in rows],
            "amount": 1.0,
            "status": [r[4] for r in rows],
        }
    )
    grown["events"] = pd.concat([grown["events"], extra_events], ignore_index=True)
    grown["invoices"] = pd.concat([grown["invoices"], extra_invoices], ignore_index=True)
    after = Engine(EXAMPLE, duckdb_with(grown)).metrics(as_of.date())
    pd.testing.assert_frame_equal(before, after)


def test_later_dates_on_a_row_were_not_known_yet() -> None:
    card = load_scorecard_text("""name: t
version: "1"
sources: {accounts: {table: accounts}, tickets: {table: tickets}}
metrics:
  open_now: {kind: count, table: tickets, where: "is_null(closed_at)"}
  since_close: {kind: days_since, table: tickets, column: closed_at}
groups: {g: {measures: {m: {kind: linear, metric: open_now, bad: 3, good: 0}}}}
""")
    ts = pd.Timestamp
    data = {
        "accounts": pd.DataFrame({"account_id": ["a"], "created_at": [ts("2025-01-01")]}),
        "tickets": pd.DataFrame(
            {
                "ticket_id": [1, 2],
                "account_id": ["a", "a"],
                "opened_at": [ts("2026-01-01"), ts("2026-02-01")],
                "closed_at": [ts("2026-01-05"), ts("2026-03-10")],
            }
        ),
    }
    metrics = Engine(card, duckdb_with(data)).metrics([dt.date(2026, 3, 1), dt.date(2026, 4, 1)])
    # On March 1st the second ticket was still open; it closed on March 10th.
    assert metrics.open_now.tolist() == [1.0, 0.0]
    assert metrics.since_close.tolist() == [55.0, 22.0]


def test_baseline_of_an_average_is_not_scaled() -> None:
    text = CARD.replace(
        "baseline: {kind: baseline, metric: logins_7d, baseline: 14d}",
        "baseline: {kind: baseline, metric: value_avg_7d, baseline: 14d}",
    )
    metrics = Engine(load_scorecard_text(text), duckdb_with(frames())).metrics(AS_OF)
    a = metrics.set_index("account_id").loc["a"]
    # This week's average value 2.0 against 6.0 (5.0 on 03-05, 7.0 on 03-01) before it.
    assert a["_value_avg_7d__vs_14d_baseline"] == pytest.approx(2.0 / 6.0)
