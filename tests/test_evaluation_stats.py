"""Backtest statistics on hand examples: AUC, lift, tiers, calibration, cohorts, lead time."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthscore.evaluation._result import Calibration, CohortRow, TierRow
from healthscore.evaluation._stats import (
    LIFT_SHARES,
    auc,
    auc_interval,
    calibration,
    cohorts,
    histogram,
    lift_curve,
    tier_order_failures,
    tier_rows,
    top_decile_lift,
)
from healthscore.evaluation._summary import lead_time


def flags(*values: int) -> np.ndarray:
    return np.array(values, dtype=bool)


def scores(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)


# -- AUC --------------------------------------------------------------------------------


def test_auc_counts_pairs_with_ties_as_half() -> None:
    # Churners score 10, 20, 30; non-churners 20, 30, 40, 50 (lower = riskier). Of the
    # 3 x 4 = 12 pairs, the churner scores lower in: 10 -> all 4; 20 -> 3 and a tie
    # (3.5); 30 -> 2 and a tie (2.5). AUC = (4 + 3.5 + 2.5) / 12 = 10 / 12.
    churned = flags(1, 0, 1, 0, 1, 0, 0)
    score = scores(10, 20, 20, 30, 30, 40, 50)
    assert auc(churned, score) == pytest.approx(10 / 12)
    # Ranking is by order alone, and perfectly inverted scores give 1 - AUC.
    assert auc(churned, score * 3 + 7) == pytest.approx(10 / 12)
    assert auc(churned, -score) == pytest.approx(2 / 12)


def test_auc_is_none_with_one_class() -> None:
    assert auc(flags(1, 1, 1), scores(1, 2, 3)) is None
    assert auc(flags(0, 0), scores(1, 2)) is None
    assert auc_interval(flags(0, 0, 0), scores(1, 2, 3)) is None


def test_auc_interval_is_seeded_and_contains_the_auc() -> None:
    rng = np.random.default_rng(5)
    churned = rng.random(300) < 0.3
    score = rng.normal(60, 15, 300) - 12 * churned
    value = auc(churned, score)
    assert value is not None and 0.6 < value < 0.9
    interval = auc_interval(churned, score)
    assert interval is not None
    assert interval.low <= value <= interval.high
    assert interval.high - interval.low < 0.25
    # Same seed (0 by default), same interval, call after call.
    assert auc_interval(churned, score, seed=0) == interval
    other = auc_interval(churned, score, resamples=50, seed=1)
    assert other is not None and other.low <= value <= other.high


# -- lift -------------------------------------------------------------------------------

# Ten observations, lowest score (riskiest) first: a churner alone at 5, a block of four
# at 10 holding two churners, a block of five at 50 holding one. Four churners in all.
LIFT_CHURNED = flags(1, 1, 1, 0, 0, 1, 0, 0, 0, 0)
LIFT_SCORE = scores(5, 10, 10, 10, 10, 50, 50, 50, 50, 50)


def test_lift_curve_by_hand_with_ties() -> None:
    curve = lift_curve(LIFT_CHURNED, LIFT_SCORE)
    assert [point.share for point in curve] == list(LIFT_SHARES)
    by_share = {point.share: point for point in curve}
    # 10%: the one row at 5, a churner: 1 of 4 captured, lift 0.25 / 0.1 = 2.5.
    assert by_share[0.1].captured == 0.25 and by_share[0.1].lift == 2.5
    # 30%: that row and 2 of the 4 tied at 10, in expectation 2 x 2/4 = 1 churner: 2 of 4.
    assert by_share[0.3].captured == 0.5 and by_share[0.3].lift == pytest.approx(1.6667)
    # 50%: the first five rows exactly: 3 of 4.
    assert by_share[0.5].captured == 0.75 and by_share[0.5].lift == 1.5
    # 70%: plus 2 of the 5 tied at 50, in expectation 2/5 of a churner: 3.4 of 4.
    assert by_share[0.7].captured == 0.85 and by_share[0.7].lift == pytest.approx(1.2143)
    assert by_share[1.0].captured == 1.0 and by_share[1.0].lift == 1.0
    assert top_decile_lift(curve) == 2.5
    # Captured never falls.
    captured = [point.captured for point in curve]
    assert captured == sorted(captured)


def test_lift_curve_is_the_average_over_tie_orders() -> None:
    # Brute force: every order of the rows inside each block of equal scores.
    blocks = [LIFT_CHURNED[np.equal(LIFT_SCORE, value)] for value in np.unique(LIFT_SCORE)]
    orders = [list(set(itertools.permutations(block.tolist()))) for block in blocks]
    totals = np.zeros(len(LIFT_CHURNED))
    count = 0
    for parts in itertools.product(*orders):
        ranked = np.concatenate(parts).astype(np.float64)
        totals += np.cumsum(ranked)
        count += 1
    expected = totals / count / LIFT_CHURNED.sum()
    by_share = {point.share: point.captured for point in lift_curve(LIFT_CHURNED, LIFT_SCORE)}
    for rows in range(1, 11):
        assert by_share[round(rows / 10, 2)] == pytest.approx(expected[rows - 1], abs=1e-4)


def test_lift_curve_ignores_input_order() -> None:
    order = np.random.default_rng(2).permutation(len(LIFT_SCORE))
    assert lift_curve(LIFT_CHURNED[order], LIFT_SCORE[order]) == lift_curve(
        LIFT_CHURNED, LIFT_SCORE
    )


def test_lift_curve_empty_cases() -> None:
    assert lift_curve(flags(), scores()) == []
    assert lift_curve(flags(0, 0), scores(1, 2)) == []
    assert top_decile_lift([]) is None
    # A constant score ranks nothing: lift 1 everywhere.
    curve = lift_curve(flags(1, 0, 0, 1), scores(5, 5, 5, 5))
    assert {point.lift for point in curve} == {1.0}


# -- tiers ------------------------------------------------------------------------------

WORST_FIRST = ["red", "yellow", "green"]


def tiers_of(*groups: tuple[str, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(tier, observations, churned) -> the tier and churn arrays."""
    names: list[str] = []
    churned: list[bool] = []
    for name, total, hits in groups:
        names += [name] * total
        churned += [True] * hits + [False] * (total - hits)
    return np.array(names, dtype=object), np.array(churned, dtype=bool)


def test_tier_rows_count_by_hand() -> None:
    names, churned = tiers_of(("green", 4, 0), ("red", 4, 3), ("yellow", 2, 1))
    rows = tier_rows(names, churned, WORST_FIRST)
    assert rows == [
        TierRow(tier="red", observations=4, churned=3, churn_rate=0.75),
        TierRow(tier="yellow", observations=2, churned=1, churn_rate=0.5),
        TierRow(tier="green", observations=4, churned=0, churn_rate=0.0),
    ]
    assert tier_order_failures(rows) == 0


@pytest.mark.parametrize(
    ("groups", "failures"),
    [
        # 0.75 > 0.5 > 0: in order.
        ((("red", 4, 3), ("yellow", 2, 1), ("green", 4, 0)), 0),
        # 0.25 < 0.5: one inversion (yellow above red), then 0.5 > 0.
        ((("red", 4, 1), ("yellow", 2, 1), ("green", 4, 0)), 1),
        # Equal rates do not fall: a failure too.
        ((("red", 4, 2), ("yellow", 2, 1), ("green", 4, 0)), 1),
        # Yellow is empty: red 0.5 is compared with green 0.25 directly.
        ((("red", 4, 2), ("green", 4, 1)), 0),
        # ... and green above red is caught across the empty tier.
        ((("red", 4, 1), ("green", 4, 2)), 1),
        # Both pairs inverted.
        ((("red", 4, 0), ("yellow", 4, 1), ("green", 4, 2)), 2),
    ],
)
def test_tier_order_failures(groups: tuple[tuple[str, int, int], ...], failures: int) -> None:
    names, churned = tiers_of(*groups)
    rows = tier_rows(names, churned, WORST_FIRST)
    assert tier_order_failures(rows) == failures
    if not any(name == "yellow" for name, _, _ in groups):
        assert rows[1] == TierRow(tier="yellow", observations=0, churned=0, churn_rate=None)


# -- calibration and histogram ----------------------------------------------------------


def test_calibration_bands_by_hand() -> None:
    score = scores(5, 15, 15, 25, 55, 65, 95, 100, 0, 9.99)
    churned = flags(1, 1, 0, 1, 0, 0, 0, 0, 1, 0)
    result = calibration(churned, score)
    counts = {(band.low, band.high): (band.observations, band.churned) for band in result.bands}
    assert counts == {
        (0.0, 10.0): (3, 2),  # 0, 5, 9.99
        (10.0, 20.0): (2, 1),
        (20.0, 30.0): (1, 1),
        (30.0, 40.0): (0, 0),
        (40.0, 50.0): (0, 0),
        (50.0, 60.0): (1, 0),
        (60.0, 70.0): (1, 0),
        (70.0, 80.0): (0, 0),
        (80.0, 90.0): (0, 0),
        (90.0, 100.0): (2, 0),  # 100 belongs to the top band
    }
    for band in result.bands:
        if band.observations:
            assert band.churn_rate == pytest.approx(band.churned / band.observations, abs=1e-6)
            assert band.predicted is not None and 0.0 <= band.predicted <= 1.0
        else:
            assert band.churn_rate is None and band.predicted is None
    assert result.scores == sorted(result.scores)
    probabilities = result.probabilities
    assert all(0.0 <= p <= 1.0 for p in probabilities)
    assert all(later <= earlier for earlier, later in itertools.pairwise(probabilities))
    fitted = result.churn_probability(np.sort(score))
    assert np.all(np.diff(fitted) <= 1e-12)


def test_calibration_isotonic_fit_by_hand() -> None:
    # Churn at 10 and 30, none at 20 and 40. Falling with score: 10 -> 1; 20 and 30
    # violate the order and pool to 0.5; 40 -> 0.
    result = calibration(flags(1, 0, 1, 0), scores(10, 20, 30, 40))
    assert result.churn_probability(scores(10, 20, 30, 40)).tolist() == [1.0, 0.5, 0.5, 0.0]
    # Between points it interpolates; outside them it holds the end values.
    assert result.churn_probability(scores(15, 25, 35)).tolist() == [0.75, 0.5, 0.25]
    assert result.churn_probability(scores(0, 100)).tolist() == [1.0, 0.0]
    assert result.churn_probability(25.0) == pytest.approx(0.5)
    assert [band.predicted for band in result.bands if band.observations] == [1.0, 0.5, 0.5, 0.0]


def test_calibration_of_nothing() -> None:
    result = calibration(flags(), scores())
    assert result == Calibration(bands=[], scores=[], probabilities=[])
    assert np.isnan(result.churn_probability(scores(50))).all()


def test_histogram_bands() -> None:
    assert histogram(scores(0, 9.99, 10, 55, 100, 99.5)) == [2, 1, 0, 0, 0, 1, 0, 0, 0, 2]


# -- cohorts ----------------------------------------------------------------------------


def assert_partition(values: np.ndarray, rows: list[CohortRow]) -> None:
    """Each present value falls in exactly one listed bin; the bins' counts add up."""
    present = values[~np.isnan(values)]
    bins: list[tuple[float, float, int]] = []
    for row in rows:
        if row.label != "missing":
            assert row.low is not None and row.high is not None
            bins.append((row.low, row.high, row.observations))
    # Right-closed bins, the lowest also holding its low edge.
    for value in present:
        homes = [
            index
            for index, (low, high, _) in enumerate(bins)
            if low < value <= high or (index == 0 and value == low)
        ]
        assert len(homes) == 1, value
    for index, (low, high, count) in enumerate(bins):
        inside = (present > low) & (present <= high)
        if index == 0:
            inside |= present == low
        assert count == int(inside.sum())
    assert sum(count for _, _, count in bins) == len(present)
    assert [low for low, _, _ in bins] == sorted(low for low, _, _ in bins)


def test_cohorts_deciles_without_ties() -> None:
    values = np.arange(1, 101, dtype=np.float64)
    churned = values <= 20  # the lowest fifth churned
    rows = cohorts(values, churned)
    assert len(rows) == 10
    assert [row.observations for row in rows] == [10] * 10
    assert [row.churn_rate for row in rows] == [1.0, 1.0] + [0.0] * 8
    assert rows[0].low == 1.0 and rows[-1].high == 100.0
    assert_partition(values, rows)


def test_cohorts_with_ties_and_missing_values() -> None:
    # 60 zeros then 1..30, and 10 missing: the quantiles repeat, so fewer bins.
    values = np.concatenate([np.zeros(60), np.arange(1, 31), np.full(10, np.nan)])
    churned = np.zeros(len(values), dtype=bool)
    churned[:30] = True  # half the zeros churned
    churned[-5:] = True  # half the missing churned
    rows = cohorts(values, churned)
    assert rows[-1].label == "missing"
    assert rows[-1].observations == 10 and rows[-1].churn_rate == 0.5
    assert rows[-1].low is None and rows[-1].high is None
    binned = rows[:-1]
    assert 1 < len(binned) < 10
    assert all(row.label != "missing" for row in binned)
    # The 10% ... 60% quantiles are all 0 and the 70% one is 3.3: the zeros share the
    # first bin, with 1, 2 and 3 (30 churners of 63).
    assert binned[0].low == 0.0 and binned[0].high == pytest.approx(3.3)
    assert binned[0].observations == 63 and binned[0].churn_rate == round(30 / 63, 6)
    assert sum(row.observations for row in rows) == len(values)
    assert_partition(values, rows)


def test_cohorts_of_few_distinct_values_get_one_cohort_each() -> None:
    # Failed payments: mostly 0. Quantile bins would merge the zeros with 1 and 2.
    values = np.array([0.0] * 8 + [1.0, 2.0, np.nan])
    rows = cohorts(values, flags(0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0))
    assert [(row.label, row.observations) for row in rows] == [
        ("0", 8),
        ("1", 1),
        ("2", 1),
        ("missing", 1),
    ]
    assert [row.churn_rate for row in rows] == [0.125, 1.0, 1.0, 0.0]


def test_cohorts_constant_and_all_missing() -> None:
    rows = cohorts(np.full(5, 3.0), flags(1, 0, 0, 0, 0))
    assert len(rows) == 1
    assert (rows[0].low, rows[0].high, rows[0].observations) == (3.0, 3.0, 5)
    assert rows[0].churn_rate == 0.2 and rows[0].label == "3"
    rows = cohorts(np.full(3, np.nan), flags(1, 0, 0))
    assert [(row.label, row.observations) for row in rows] == [("missing", 3)]


def test_cohorts_random_values_partition() -> None:
    rng = np.random.default_rng(11)
    values = np.round(rng.exponential(3.0, 500), 1)
    values[rng.random(500) < 0.1] = np.nan
    churned = rng.random(500) < 0.2
    rows = cohorts(values, churned)
    assert sum(row.observations for row in rows) == 500
    assert_partition(values, rows)


# -- lead time --------------------------------------------------------------------------


def lead_frame() -> pd.DataFrame:
    monthly = pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01"])
    rows: list[tuple[str, pd.Timestamp, str, bool, bool, pd.Timestamp | None]] = []
    # a: red on Mar 1 and Apr 1 (yellow before, red once earlier), churns Apr 15; only the
    # Apr 1 observation is within the 30-day horizon. Lead time: Mar 1 -> Apr 15 = 45 days.
    for as_of, tier in zip(monthly, ["red", "yellow", "red", "red"], strict=True):
        churned = as_of == monthly[-1]
        rows.append(("a", as_of, tier, True, churned, pd.Timestamp("2026-04-15")))
    # b: never red, churns Mar 10 (observed Mar 1): never flagged. Its Apr 1 observation
    # (after the churn, red, ineligible) must not count.
    for as_of, tier in zip(monthly, ["green", "yellow", "green", "red"], strict=True):
        churned = as_of == monthly[2]
        rows.append(("b", as_of, tier, as_of < monthly[3], churned, pd.Timestamp("2026-03-10")))
    # c: red on every date but never churns: not a churner at all.
    for as_of in monthly:
        rows.append(("c", as_of, "red", True, False, None))
    # d: red throughout, churns Apr 20: all four count, from Jan 1 = 109 days.
    for as_of in monthly:
        churned = as_of == monthly[-1]
        rows.append(("d", as_of, "red", True, churned, pd.Timestamp("2026-04-20")))
    # e: red only on Apr 1, the day it churns (known at 00:00 that day): 0 days ahead.
    for as_of, tier in zip(monthly, ["green", "green", "yellow", "red"], strict=True):
        churned = as_of == monthly[-1]
        rows.append(("e", as_of, tier, True, churned, pd.Timestamp("2026-04-01")))
    # f: churns twice (a repeatable outcome): Jan 20, seen from red on Jan 1, and Mar 15,
    # seen from green on Mar 1. The first churn counts: Jan 1 -> Jan 20 = 19 days.
    for as_of, tier, when in zip(
        monthly,
        ["red", "yellow", "green", "green"],
        [pd.Timestamp("2026-01-20"), None, pd.Timestamp("2026-03-15"), None],
        strict=True,
    ):
        rows.append(("f", as_of, tier, True, when is not None, when))
    frame = pd.DataFrame(
        rows, columns=["account_id", "as_of", "tier", "eligible", "churned", "churn_date"]
    )
    frame.loc[~frame["churned"], "churn_date"] = pd.NaT
    frame["churn_date"] = frame["churn_date"].astype("datetime64[us]")
    # Shuffled: the order of the frame does not matter.
    return frame.sample(frac=1.0, random_state=4).reset_index(drop=True)


def test_lead_time_by_hand() -> None:
    result = lead_time(lead_frame(), "red")
    # Churners a, b, d, e, f; b was never flagged.
    assert result.churners == 5
    assert result.flagged == 4
    assert result.days == [0, 19, 45, 109]
    assert result.median_days == 32.0
    assert result.never_flagged_share == 0.2


def test_lead_time_without_churn() -> None:
    frame = lead_frame()
    frame["churned"] = False
    frame["churn_date"] = pd.NaT
    frame["churn_date"] = frame["churn_date"].astype("datetime64[us]")
    result = lead_time(frame, "red")
    assert (result.churners, result.flagged, result.days) == (0, 0, [])
    assert result.never_flagged_share is None and result.median_days is None


def test_auc_interval_by_account_resamples_whole_accounts() -> None:
    rng = np.random.default_rng(5)
    churned = rng.random(300) < 0.2
    score = np.where(churned, 40.0, 60.0) + rng.normal(0, 15, 300)
    # One id per observation: the same resamples as the ungrouped bootstrap.
    assert auc_interval(churned, score, np.arange(300)) == auc_interval(churned, score)
    # Each account seen 10 times with the same outcome and score: far less evidence than
    # 300 independent observations, so a wider interval.
    accounts = np.repeat(np.arange(30), 10)
    repeated_churn, repeated_score = churned[accounts * 10], score[accounts * 10]
    naive = auc_interval(repeated_churn, repeated_score)
    grouped = auc_interval(repeated_churn, repeated_score, accounts)
    assert naive is not None and grouped is not None
    assert grouped.high - grouped.low > 2 * (naive.high - naive.low)


@settings(derandomize=True, max_examples=60)
@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(min_value=0, max_value=6)), min_size=2, max_size=60
    )
)
def test_auc_by_counting_equals_scikit_learn(pairs: list[tuple[bool, int]]) -> None:
    from sklearn.metrics import roc_auc_score

    churned = np.array([c for c, _ in pairs], dtype=bool)
    score = np.array([float(s) for _, s in pairs])
    value = auc(churned, score)
    if churned.all() or not churned.any():
        assert value is None
    else:
        assert value == pytest.approx(roc_auc_score(churned, -score), abs=1e-12)


@given(
    st.lists(
        st.one_of(st.sampled_from([0.0, 12.5, 50.0, 99.99]), st.floats(-1e6, 1e6), st.just(np.nan)),
        min_size=1,
        max_size=60,
    )
)
def test_dense_rank_numbers_values_as_numpy_unique_does(values: list[float]) -> None:
    from healthscore.evaluation._stats import dense_rank

    array = np.array(values, dtype=np.float64)
    expected_values, expected_inverse = np.unique(array, return_inverse=True)
    distinct, inverse = dense_rank(array)
    np.testing.assert_array_equal(distinct, expected_values)  # NaN last, once
    np.testing.assert_array_equal(inverse, expected_inverse.ravel())
