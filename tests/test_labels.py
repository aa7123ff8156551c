"""Outcome labels by hand: eligible, censored, churned and churn_date for each outcome kind.

Every date is midnight and as_of means "known at 00:00 that day": a row stamped on the
as-of day itself is in the future. Each example is small enough to label in a comment.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthscore.compute._outcome_data import OutcomeData
from healthscore.evaluation._labels import LABEL_COLUMNS, label_observations
from healthscore.evaluation._summary import lead_time
from healthscore.spec._outcomes import OutcomeSpec

# (account, as_of) -> (eligible, censored, churned, churn_date or None)
Expected = dict[tuple[str, str], tuple[bool, bool, bool, str | None]]
BASE = pd.Timestamp("2026-01-01")


def day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def day_rows(days: dict[str, list[str]]) -> pd.DataFrame:
    """Rows of (account_id, day) in the OutcomeData shape, deliberately not sorted."""
    pairs = [(account, stamp) for account, stamps in days.items() for stamp in stamps]
    frame = pd.DataFrame(pairs, columns=["account_id", "day"])
    frame["day"] = pd.to_datetime(frame["day"]).astype("datetime64[us]")
    return _shuffled(frame)


def subscription_rows(subs: list[tuple[str, str, str | None]]) -> pd.DataFrame:
    frame = pd.DataFrame(subs, columns=["account_id", "start", "end"])
    for column in ("start", "end"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[us]")
    return _shuffled(frame)


def _shuffled(frame: pd.DataFrame) -> pd.DataFrame:
    order = np.random.default_rng(7).permutation(len(frame))
    return frame.iloc[order].reset_index(drop=True)


def label(
    expected: Expected, spec: OutcomeSpec, rows: pd.DataFrame, until: str
) -> list[tuple[bool, bool, bool, pd.Timestamp | None]]:
    """Labels for the expected keys, asked in a scrambled order with a scrambled index."""
    keys = list(expected)
    order = np.random.default_rng(3).permutation(len(keys))
    asked = [keys[i] for i in order]
    observations = pd.DataFrame(
        {
            "account_id": [account for account, _ in asked],
            "as_of": pd.to_datetime([as_of for _, as_of in asked]),
        },
        index=[100 - i for i in range(len(asked))],
    )
    labels = label_observations(observations, spec, OutcomeData(rows, day(until)))
    assert list(labels.columns) == list(LABEL_COLUMNS)
    assert len(labels) == len(asked)
    assert labels["churn_date"].dtype == "datetime64[us]"
    for column in ("eligible", "censored", "churned"):
        assert labels[column].dtype == bool
    dates = [None if pd.isna(stamp) else stamp for stamp in pd.DatetimeIndex(labels["churn_date"])]
    flags = zip(labels["eligible"], labels["censored"], labels["churned"], strict=True)
    got = {
        key: (bool(eligible), bool(censored), bool(churned), when)
        for key, (eligible, censored, churned), when in zip(asked, flags, dates, strict=True)
    }
    return [got[key] for key in keys]


def check(expected: Expected, spec: OutcomeSpec, rows: pd.DataFrame, until: str) -> None:
    want = [
        (eligible, censored, churned, None if when is None else day(when))
        for eligible, censored, churned, when in expected.values()
    ]
    got = label(expected, spec, rows, until)
    for key, one, other in zip(expected, got, want, strict=True):
        assert one == other, key


# -- subscription_end -------------------------------------------------------------------

SUBSCRIPTION = OutcomeSpec(
    kind="subscription_end", horizon_days=30, table="subscriptions", grace_days=7
)
SUBSCRIPTIONS = [
    # a: one subscription ending Mar 1 and nothing after: churn Mar 1.
    ("a", "2026-01-01", "2026-03-01"),
    # b: ends Mar 1, restarts Mar 8 = end + grace (inclusive): not churn; still running.
    ("b", "2026-01-01", "2026-03-01"),
    ("b", "2026-03-08", None),
    # c: ends Mar 1, restarts Mar 9 = end + grace + 1 day: churn Mar 1.
    ("c", "2026-01-01", "2026-03-01"),
    ("c", "2026-03-09", None),
    # d: overlapping: the inner one's end (Mar 1) is covered by the outer one (start
    # Jan 1 <= Mar 8, end Apr 1 > Mar 1); the outer one's end Apr 1 is a churn.
    ("d", "2026-01-01", "2026-04-01"),
    ("d", "2026-02-01", "2026-03-01"),
    # f: two subscriptions ending the same day: neither covers the other: churn Mar 1.
    ("f", "2026-01-01", "2026-03-01"),
    ("f", "2026-02-01", "2026-03-01"),
    # e: no subscriptions at all.
]
# Data until Apr 8: censored when as_of + 30 + 7 > Apr 8, that is as_of after Mar 2.
SUBSCRIPTION_EXPECTED: Expected = {
    # Starts Jan 1: not running "before" Jan 1. First churn Mar 1 >= Jan 31: no churn.
    ("a", "2026-01-01"): (False, False, False, None),
    ("a", "2026-02-01"): (True, False, True, "2026-03-01"),
    # Churn exactly at as_of + horizon (Jan 30 + 30 = Mar 1) does not count.
    ("a", "2026-01-30"): (True, False, False, None),
    ("a", "2026-01-31"): (True, False, True, "2026-03-01"),
    # Churn exactly at as_of counts; a subscription ending on as_of is still running.
    # Mar 1 + 37 = Apr 7 <= Apr 8: known.
    ("a", "2026-03-01"): (True, False, True, "2026-03-01"),
    # Ended before as_of: not eligible; no churn on or after Mar 2. Apr 8: the boundary.
    ("a", "2026-03-02"): (False, False, False, None),
    ("b", "2026-02-15"): (True, False, False, None),
    # In the gap between subscriptions nothing runs: ineligible (and censored).
    ("b", "2026-03-05"): (False, True, False, None),
    ("b", "2026-03-08"): (False, True, False, None),
    ("b", "2026-03-09"): (True, True, False, None),
    ("c", "2026-02-15"): (True, False, True, "2026-03-01"),
    ("c", "2026-03-10"): (True, True, False, None),
    ("d", "2026-02-15"): (True, False, False, None),
    # Mar 2 + 30 = Apr 1: the outer end is exactly at as_of + horizon: not counted.
    ("d", "2026-03-02"): (True, False, False, None),
    # Censored, and the outer end (Apr 1) is not settled: a restart up to Apr 8 would
    # cover it, and the data ends on Apr 7. Not reported as churn.
    ("d", "2026-03-03"): (True, True, False, None),
    ("d", "2026-04-01"): (True, True, False, None),
    ("d", "2026-04-02"): (False, True, False, None),
    ("f", "2026-02-20"): (True, False, True, "2026-03-01"),
    ("e", "2026-02-01"): (False, False, False, None),
}


def test_subscription_end_by_hand() -> None:
    rows = subscription_rows(SUBSCRIPTIONS)
    check(SUBSCRIPTION_EXPECTED, SUBSCRIPTION, rows, "2026-04-08")


def test_subscription_end_row_order_does_not_matter() -> None:
    rows = subscription_rows(SUBSCRIPTIONS)
    reversed_rows = rows.iloc[::-1].reset_index(drop=True)
    first = label(SUBSCRIPTION_EXPECTED, SUBSCRIPTION, rows, "2026-04-08")
    second = label(SUBSCRIPTION_EXPECTED, SUBSCRIPTION, reversed_rows, "2026-04-08")
    assert first == second


def test_subscription_end_without_grace() -> None:
    spec = dataclasses.replace(SUBSCRIPTION, grace_days=0)
    rows = subscription_rows(
        [
            # a restarts the day its subscription ends: covered even with no grace.
            ("a", "2026-01-01", "2026-03-01"),
            ("a", "2026-03-01", None),
            # b restarts a day later: churn Mar 1.
            ("b", "2026-01-01", "2026-03-01"),
            ("b", "2026-03-02", None),
        ]
    )
    # Censored when as_of + 30 > Apr 1: after Mar 2.
    expected: Expected = {
        ("a", "2026-02-15"): (True, False, False, None),
        ("b", "2026-02-15"): (True, False, True, "2026-03-01"),
        ("b", "2026-03-02"): (False, False, False, None),
        ("b", "2026-03-03"): (True, True, False, None),
    }
    check(expected, spec, rows, "2026-04-01")


# -- inactivity -------------------------------------------------------------------------

INACTIVITY = OutcomeSpec(kind="inactivity", horizon_days=20, table="events", inactive_days=10)
ACTIVITY = {
    # Gaps: Jan 1 -> 5 (4), 5 -> 15 (10: not more than 10), 15 -> Feb 1 (17: churn on
    # Jan 15 + 10 = Jan 25), then nothing after Feb 1: churn on Feb 11.
    "a": ["2026-01-15", "2026-01-01", "2026-02-01", "2026-01-05"],
    # One day of activity: churn on Jan 20.
    "b": ["2026-01-10"],
    # c: no activity at all.
}
# Data until Feb 21: censored when as_of + 20 > Feb 21, that is as_of after Feb 1.
INACTIVITY_EXPECTED: Expected = {
    # Nothing before Jan 1 (the row on Jan 1 is in the future): not eligible.
    ("a", "2026-01-01"): (False, False, False, None),
    # Last active Jan 1, Jan 11 >= Jan 5: eligible. Churn Jan 25 = Jan 5 + 20: not counted.
    ("a", "2026-01-05"): (True, False, False, None),
    ("a", "2026-01-10"): (True, False, True, "2026-01-25"),
    # Last active Jan 15 + 10 = Jan 25 >= Jan 25: eligible, and churns exactly at as_of.
    ("a", "2026-01-25"): (True, False, True, "2026-01-25"),
    # Jan 25 < Jan 26: already churned, not eligible; the next churn (Feb 11) is labelled.
    ("a", "2026-01-26"): (False, False, True, "2026-02-11"),
    # Activity on the as-of day is in the future: last active is still Jan 15. Boundary
    # of censoring: Feb 1 + 20 = Feb 21.
    ("a", "2026-02-01"): (False, False, True, "2026-02-11"),
    ("a", "2026-02-02"): (True, True, True, "2026-02-11"),
    ("b", "2026-01-10"): (False, False, True, "2026-01-20"),
    ("b", "2026-01-15"): (True, False, True, "2026-01-20"),
    ("b", "2026-01-20"): (True, False, True, "2026-01-20"),
    ("b", "2026-01-21"): (False, False, False, None),
    ("c", "2026-01-15"): (False, False, False, None),
}


def test_inactivity_by_hand() -> None:
    check(INACTIVITY_EXPECTED, INACTIVITY, day_rows(ACTIVITY), "2026-02-21")


def test_inactivity_silence_running_past_the_data_is_not_churn_yet() -> None:
    # Active every day of Jan to Mar; the data ends Mar 31 (until Apr 1). The silence
    # after Mar 31 would reach 10 days on Apr 10, but the data has not seen it.
    rows = day_rows({"a": [str(d.date()) for d in pd.date_range("2026-01-01", "2026-03-31")]})
    expected: Expected = {
        ("a", "2026-03-01"): (True, False, False, None),
        # Censored (Mar 20 + 20 > Apr 1): unknown, and never a churn on Apr 10.
        ("a", "2026-03-20"): (True, True, False, None),
        ("a", "2026-03-31"): (True, True, False, None),
    }
    check(expected, INACTIVITY, rows, "2026-04-01")
    # So the lead time, which reads every eligible observation, finds no churner.
    observations = pd.DataFrame(
        {"account_id": "a", "as_of": pd.to_datetime(["2026-03-01", "2026-03-20"])}
    )
    labels = label_observations(observations, INACTIVITY, OutcomeData(rows, day("2026-04-01")))
    frame = pd.concat([observations, labels], axis=1).assign(tier="red")
    assert lead_time(frame, "red").churners == 0


def test_inactivity_gap_of_exactly_the_limit_is_not_churn() -> None:
    # Active every 10 days with days=10: no churn until Feb 10 + 10 = Feb 20.
    rows = day_rows({"a": ["2026-01-01", "2026-01-11", "2026-01-21", "2026-01-31", "2026-02-10"]})
    expected: Expected = {
        # Last active Jan 1 + 10 = Jan 11 >= Jan 11: eligible; active again on Jan 11.
        ("a", "2026-01-11"): (True, False, False, None),
        ("a", "2026-01-02"): (True, False, False, None),
    }
    check(expected, INACTIVITY, rows, "2026-03-01")


# -- non_repurchase, fixed holdout ------------------------------------------------------

HOLDOUT = OutcomeSpec(kind="non_repurchase", horizon_days=30, table="orders")
ORDERS = {
    "a": ["2026-03-20", "2026-01-01", "2026-02-15"],
    "b": ["2026-01-10"],
    # c: no orders.
}
# Data until May 1: censored when as_of + 30 > May 1, that is after Apr 1. A holdout has
# no churn day: churn_date stays empty.
HOLDOUT_EXPECTED: Expected = {
    # No order before Jan 1; the order on Jan 1 falls in [Jan 1, Jan 31): retained.
    ("a", "2026-01-01"): (False, False, False, None),
    # [Jan 16, Feb 15) holds no order: Feb 15 is as_of + horizon, not inside.
    ("a", "2026-01-16"): (True, False, True, None),
    ("a", "2026-01-17"): (True, False, False, None),
    # An order exactly on the as-of day counts as a repurchase.
    ("a", "2026-03-20"): (True, False, False, None),
    ("a", "2026-04-01"): (True, False, True, None),
    # Censored: the data ends before May 2, so the absence of an order is not shown.
    ("a", "2026-04-02"): (True, True, False, None),
    ("b", "2026-01-10"): (False, False, False, None),
    ("b", "2026-01-11"): (True, False, True, None),
    ("c", "2026-01-11"): (False, False, True, None),
}


def test_non_repurchase_holdout_by_hand() -> None:
    check(HOLDOUT_EXPECTED, HOLDOUT, day_rows(ORDERS), "2026-05-01")


# -- non_repurchase against the customer's cadence --------------------------------------

CADENCE = OutcomeSpec(
    kind="non_repurchase", horizon_days=30, table="orders", multiple=1.5, fallback_days=20
)
CADENCE_ORDERS = {
    # Deadlines: Jan 1 (first order: 20 days) -> Jan 21; Jan 11 (median gap 10 x 1.5 =
    # 15) -> Jan 26; Jan 21 (median of 10, 10: 15) -> Feb 5, next order Feb 20 is later:
    # churn Feb 5; Feb 20 (median of 10, 10, 30 = 10: 15) -> Mar 7, no next order: churn.
    "a": ["2026-02-20", "2026-01-21", "2026-01-11", "2026-01-01"],
    # Jan 1 -> Jan 21; Jan 8 (median 7 x 1.5 = 10.5, rounded up to 11) -> Jan 19;
    # Jan 18 (median of 7, 10 = 8.5 x 1.5 = 12.75 -> 13) -> Jan 31: churn Jan 31.
    "b": ["2026-01-01", "2026-01-08", "2026-01-18"],
    # A single order: the fallback, Jan 5 + 20 = Jan 25: churn.
    "c": ["2026-01-05"],
    # d: no orders.
    # e: Jan 1 -> Jan 21 and the next order comes exactly then: on time, no lapse. Jan 21
    # (median 20 x 1.5 = 30) -> Feb 20, no next order: churn Feb 20.
    "e": ["2026-01-21", "2026-01-01"],
}
# Data until Mar 10: censored when as_of + 30 > Mar 10, that is after Feb 8.
CADENCE_EXPECTED: Expected = {
    ("a", "2026-01-01"): (False, False, False, None),
    # Last order Jan 1, deadline Jan 21. First churn Feb 5 = Jan 6 + 30: not counted.
    ("a", "2026-01-06"): (True, False, False, None),
    ("a", "2026-01-15"): (True, False, True, "2026-02-05"),
    # Deadline Feb 5 >= Feb 5: still eligible, and the lapse on the as-of day counts.
    ("a", "2026-02-05"): (True, False, True, "2026-02-05"),
    # Past the deadline: lapsed, not eligible; the next lapse (Mar 7) is labelled.
    ("a", "2026-02-06"): (False, False, True, "2026-03-07"),
    ("a", "2026-02-08"): (False, False, True, "2026-03-07"),
    # Censored, but the lapse on Mar 7 is inside the data (until Mar 10): reported.
    ("a", "2026-02-09"): (False, True, True, "2026-03-07"),
    ("a", "2026-02-21"): (True, True, True, "2026-03-07"),
    ("b", "2026-01-19"): (True, False, True, "2026-01-31"),
    ("b", "2026-01-09"): (True, False, True, "2026-01-31"),
    ("c", "2026-01-06"): (True, False, True, "2026-01-25"),
    ("c", "2026-01-26"): (False, False, False, None),
    ("d", "2026-01-06"): (False, False, False, None),
    # First churn Feb 20 is after Jan 10 + 30 = Feb 9.
    ("e", "2026-01-10"): (True, False, False, None),
    ("e", "2026-01-22"): (True, False, True, "2026-02-20"),
}


def test_non_repurchase_cadence_by_hand() -> None:
    check(CADENCE_EXPECTED, CADENCE, day_rows(CADENCE_ORDERS), "2026-03-10")


def test_non_repurchase_cadence_without_fallback() -> None:
    spec = dataclasses.replace(CADENCE, fallback_days=None)
    # Without a fallback a first order has no deadline: customers whose last order is
    # their first are never eligible, and c never lapses. Later deadlines are unchanged.
    expected: Expected = {
        ("a", "2026-01-06"): (False, False, False, None),
        ("a", "2026-01-15"): (True, False, True, "2026-02-05"),
        ("b", "2026-01-05"): (False, False, True, "2026-01-31"),
        ("b", "2026-01-09"): (True, False, True, "2026-01-31"),
        ("c", "2026-01-06"): (False, False, False, None),
    }
    check(expected, spec, day_rows(CADENCE_ORDERS), "2026-03-10")


def test_non_repurchase_cadence_whole_allowance_is_not_rounded_up() -> None:
    # Orders every 50 days, multiple 1.1: the allowance is 55 days exactly, though
    # 1.1 * 50 is 55.00000000000001 in floating point; rounding that up gave 56.
    spec = OutcomeSpec(
        kind="non_repurchase", horizon_days=60, table="orders", multiple=1.1, fallback_days=60
    )
    rows = day_rows({"a": ["2026-01-01", "2026-02-20", "2026-04-11"]})
    # Last order Apr 11 (day 100): deadline day 155 = Jun 5, which is the churn date.
    expected: Expected = {
        ("a", "2026-04-16"): (True, False, True, "2026-06-05"),
        ("a", "2026-06-05"): (True, False, True, "2026-06-05"),
        ("a", "2026-06-06"): (False, False, False, None),
    }
    check(expected, spec, rows, "2026-09-01")


# -- table ------------------------------------------------------------------------------

TABLE = OutcomeSpec(kind="table", horizon_days=30, table="outcomes", kinds=("churned",))
OUTCOMES = {"a": ["2026-02-10"], "b": ["2026-03-01", "2026-01-20"]}
# Data until Apr 1: censored when as_of + 30 > Apr 1, that is after Mar 2.
TABLE_ONCE_EXPECTED: Expected = {
    ("a", "2026-01-11"): (True, False, False, None),
    ("a", "2026-01-15"): (True, False, True, "2026-02-10"),
    # The row on the as-of day is in the future: still eligible, churned at as_of.
    ("a", "2026-02-10"): (True, False, True, "2026-02-10"),
    ("a", "2026-02-11"): (False, False, False, None),
    # b churned on Jan 20: never observed again, although a second row comes Mar 1.
    ("b", "2026-01-01"): (True, False, True, "2026-01-20"),
    ("b", "2026-02-01"): (False, False, True, "2026-03-01"),
    ("b", "2026-03-02"): (False, False, False, None),
    ("b", "2026-03-03"): (False, True, False, None),
    ("c", "2026-02-01"): (True, False, False, None),
}


def test_table_once_by_hand() -> None:
    check(TABLE_ONCE_EXPECTED, TABLE, day_rows(OUTCOMES), "2026-04-01")


def test_table_repeatable_keeps_everyone_eligible() -> None:
    spec = dataclasses.replace(TABLE, once=False)
    expected = {
        key: (True, censored, churned, when)
        for key, (_, censored, churned, when) in TABLE_ONCE_EXPECTED.items()
    }
    check(expected, spec, day_rows(OUTCOMES), "2026-04-01")


# -- shapes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "rows"),
    [
        (SUBSCRIPTION, subscription_rows([("z", "2026-01-01", None)])),
        (INACTIVITY, day_rows({"z": ["2026-01-01"]})),
        (HOLDOUT, day_rows({"z": ["2026-01-01"]})),
        (CADENCE, day_rows({"z": ["2026-01-01", "2026-01-05"]})),
        (TABLE, day_rows({"z": ["2026-01-01"]})),
    ],
    ids=["subscription_end", "inactivity", "holdout", "cadence", "table"],
)
def test_accounts_without_rows_and_empty_inputs(spec: OutcomeSpec, rows: pd.DataFrame) -> None:
    until = day("2026-06-01")
    observations = pd.DataFrame(
        {"account_id": ["x", "y"], "as_of": pd.to_datetime(["2026-02-01", "2026-05-20"])}
    )
    labels = label_observations(observations, spec, OutcomeData(rows, until))
    # Only a table outcome (no churn row yet) observes accounts it has no rows for.
    assert labels["eligible"].tolist() == [spec is TABLE] * 2
    assert labels["censored"].tolist() == [False, True]
    # No rows at all (with the right columns and types) labels the same way.
    empty = OutcomeData(rows.iloc[0:0], until)
    again = label_observations(observations, spec, empty)
    pd.testing.assert_frame_equal(again, labels)
    # No observations: an empty frame with the label columns.
    none = label_observations(observations.iloc[0:0], spec, OutcomeData(rows, until))
    assert list(none.columns) == list(LABEL_COLUMNS) and len(none) == 0


# -- properties -------------------------------------------------------------------------


def _offsets(days: list[int]) -> list[pd.Timestamp]:
    return [BASE + pd.Timedelta(days=d) for d in days]


def observed(accounts: list[str], as_of: list[int]) -> pd.DataFrame:
    """Every account at every date (days after BASE)."""
    pairs = [(account, stamp) for stamp in _offsets(as_of) for account in accounts]
    return pd.DataFrame(pairs, columns=["account_id", "as_of"])


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    active=st.lists(st.lists(st.integers(0, 120), max_size=8), min_size=1, max_size=3),
    extra=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 40)), min_size=1, max_size=6),
    as_of=st.lists(st.integers(0, 130), min_size=1, max_size=4),
    inactive=st.integers(1, 20),
    horizon=st.integers(1, 40),
    until=st.integers(0, 200),
)
def test_inactivity_ignores_rows_after_the_horizon(
    active: list[list[int]],
    extra: list[tuple[int, int]],
    as_of: list[int],
    inactive: int,
    horizon: int,
    until: int,
) -> None:
    """Activity stamped on or after as_of + horizon never changes a label at as_of.

    The extra rows come after the latest observation date + horizon, so after every
    observation's; each example observes every account (and one with no rows) at each date.
    """
    spec = OutcomeSpec(
        kind="inactivity", horizon_days=horizon, table="events", inactive_days=inactive
    )
    accounts = [f"a{i}" for i in range(len(active))]
    base = pd.DataFrame(
        [(accounts[i], stamp) for i, days in enumerate(active) for stamp in _offsets(days)],
        columns=["account_id", "day"],
    )
    late = pd.DataFrame(
        [
            (accounts[i % len(accounts)], BASE + pd.Timedelta(days=max(as_of) + horizon + d))
            for i, d in extra
        ],
        columns=["account_id", "day"],
    )
    rows = [
        frame.astype({"account_id": "str", "day": "datetime64[us]"}).drop_duplicates()
        for frame in (base, pd.concat([base, late]))
    ]
    observations = observed([*accounts, "none"], as_of)
    data_until = BASE + pd.Timedelta(days=until)
    before, after = (
        label_observations(observations, spec, OutcomeData(r.reset_index(drop=True), data_until))
        for r in rows
    )
    pd.testing.assert_frame_equal(before, after)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    subs=st.lists(
        st.tuples(st.integers(0, 1), st.integers(0, 100), st.none() | st.integers(0, 60)),
        max_size=6,
    ),
    extra=st.lists(
        st.tuples(st.integers(0, 1), st.integers(0, 30), st.none() | st.integers(0, 30)),
        min_size=1,
        max_size=3,
    ),
    as_of=st.lists(st.integers(0, 120), min_size=1, max_size=4),
    grace=st.integers(0, 10),
    horizon=st.integers(1, 40),
)
def test_subscription_end_ignores_subscriptions_starting_after_horizon_and_grace(
    subs: list[tuple[int, int, int | None]],
    extra: list[tuple[int, int, int | None]],
    as_of: list[int],
    grace: int,
    horizon: int,
) -> None:
    """A subscription starting on or after as_of + horizon + grace changes no label."""
    spec = OutcomeSpec(
        kind="subscription_end", horizon_days=horizon, table="subscriptions", grace_days=grace
    )

    def frame(items: list[tuple[int, int, int | None]], shift: int) -> pd.DataFrame:
        return pd.DataFrame(
            [
                (
                    f"a{account}",
                    BASE + pd.Timedelta(days=shift + start),
                    None if length is None else BASE + pd.Timedelta(days=shift + start + length),
                )
                for account, start, length in items
            ],
            columns=["account_id", "start", "end"],
        ).astype({"account_id": "str", "start": "datetime64[us]", "end": "datetime64[us]"})

    base = frame(subs, 0)
    more = pd.concat([base, frame(extra, max(as_of) + horizon + grace)]).reset_index(drop=True)
    observations = observed(["a0", "a1", "none"], as_of)
    until = BASE + pd.Timedelta(days=400)
    before = label_observations(observations, spec, OutcomeData(base, until))
    after = label_observations(observations, spec, OutcomeData(more, until))
    pd.testing.assert_frame_equal(before, after)
