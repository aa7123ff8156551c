"""Control groups, recovery labels and lift: did the play help?"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthscore.playbooks._control import control_group, control_mask
from healthscore.playbooks._lift import (
    LiftReport,
    LiftRow,
    Outcome,
    Verdict,
    newcombe_interval,
    playbook_lift,
    wilson_interval,
)
from healthscore.playbooks._recovery import recovered

IDS = [f"acct-{i:05d}" for i in range(20_000)]


def within_binomial(count: int, n: int, p: float) -> bool:
    """Within 4 standard deviations of n * p: a deterministic hash, so no flakiness."""
    return abs(count - n * p) <= 4 * math.sqrt(n * p * (1 - p))


# -- control groups -----------------------------------------------------------------------


def test_control_group_follows_the_documented_hash() -> None:
    digest = hashlib.sha256(b"rescue_call\x00acme").digest()
    place = int.from_bytes(digest[:8], "big") / 2**64 * 100
    assert control_group("rescue_call", "acme", math.nextafter(place, math.inf))
    assert not control_group("rescue_call", "acme", place)


def test_control_group_is_stable_and_agrees_with_the_mask() -> None:
    first = [control_group("rescue_call", i, 20) for i in IDS[:2000]]
    again = [control_group("rescue_call", i, 20) for i in IDS[:2000]]
    assert first == again
    assert control_mask("rescue_call", IDS[:2000], 20).tolist() == first
    series = pd.Series(IDS[:2000], index=range(5000, 7000))
    assert control_mask("rescue_call", series, 20).tolist() == first


def test_holdout_0_never_and_100_always() -> None:
    assert not control_mask("rescue_call", IDS, 0).any()
    assert control_mask("rescue_call", IDS, 100).all()
    assert control_mask("rescue_call", [], 20).shape == (0,)


@pytest.mark.parametrize("percent", [1, 10, 20, 50, 87.5])
def test_held_out_share_is_close_to_the_percent(percent: float) -> None:
    held = int(control_mask("rescue_call", IDS, percent).sum())
    assert within_binomial(held, len(IDS), percent / 100)


def test_playbooks_split_independently() -> None:
    first = control_mask("rescue_call", IDS, 20)
    second = control_mask("renewal_nudge", IDS, 20)
    assert (first != second).any()
    # Independent splits: held out by both about 20% x 20% = 4% of the time, and the
    # second playbook holds out 20% of the first one's control group, not all or none.
    assert within_binomial(int((first & second).sum()), len(IDS), 0.04)
    assert within_binomial(int(second[first].sum()), int(first.sum()), 0.20)


@settings(max_examples=200, deadline=None)
@given(
    playbook=st.text(max_size=20),
    account=st.text(max_size=20),
    percents=st.lists(st.floats(0, 100), min_size=2, max_size=2).map(sorted),
)
def test_raising_the_percent_only_moves_accounts_into_control(
    playbook: str, account: str, percents: list[float]
) -> None:
    low, high = percents
    if control_group(playbook, account, low):
        assert control_group(playbook, account, high)


@settings(max_examples=50, deadline=None)
@given(low=st.floats(0, 100), high=st.floats(0, 100))
def test_the_mask_is_monotone_in_the_percent(low: float, high: float) -> None:
    low, high = min(low, high), max(low, high)
    smaller = control_mask("rescue_call", IDS[:500], low)
    larger = control_mask("rescue_call", IDS[:500], high)
    assert not (smaller & ~larger).any()


@pytest.mark.parametrize("percent", [-1, 100.5, math.nan, math.inf])
def test_holdout_outside_0_100_is_refused(percent: float) -> None:
    message = "The 'holdout_percent' of playbook 'rescue_call' must be a number in the range"
    with pytest.raises(ValueError, match=message):
        control_group("rescue_call", "acme", percent)
    with pytest.raises(ValueError, match=message):
        control_mask("rescue_call", ["acme"], percent)


def test_missing_account_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="Got 1 missing instead"):
        control_mask("rescue_call", pd.Series(["acme", None]), 20)


# -- recovery -----------------------------------------------------------------------------

TIER_ORDER = ["green", "yellow", "red"]  # best first
JAN_1 = dt.date(2026, 1, 1)
FEB_15 = dt.date(2026, 2, 15)
DATA_UNTIL = dt.date(2026, 3, 1)


def day(month: int, day_: int) -> dt.date:
    return dt.date(2026, month, day_)


def test_recovered_reads_a_better_tier_inside_the_horizon() -> None:
    rows = [
        # (label, account, triggered_at, tier, expected)
        ("better tier inside the window", "a1", JAN_1, "red", True),
        ("the trigger day and after the horizon do not count", "a2", JAN_1, "red", False),
        ("the horizon's last day counts", "a3", JAN_1, "yellow", True),
        ("a worse tier is no recovery", "a4", JAN_1, "yellow", False),
        ("window past the data, nothing seen yet: censored", "a5", FEB_15, "red", pd.NA),
        # Counting early recoveries of open windows would bias the rate up: unknown too.
        ("window past the data, recovery already seen: still censored", "a6", FEB_15, "red", pd.NA),
        ("no history at all", "a7", JAN_1, "red", False),
        ("best tier: nowhere better to go, not censored", "a8", FEB_15, "green", False),
        ("window ends on data_until: settled", "a9", day(1, 30), "red", False),
        ("same account, a later trigger: its own window", "a1", day(1, 15), "red", False),
    ]
    history = pd.DataFrame(
        [
            ("a1", day(1, 15), "yellow"),
            ("a2", JAN_1, "yellow"),
            ("a2", day(1, 10), "red"),
            ("a2", day(2, 5), "yellow"),
            ("a3", day(1, 31), "green"),
            ("a4", day(1, 10), "red"),
            ("a5", day(2, 20), "red"),
            ("a6", day(2, 25), "yellow"),
            ("a8", day(2, 20), "green"),
            ("a9", day(1, 30), "green"),
        ],
        columns=["account_id", "as_of", "tier"],
    )
    assignments = pd.DataFrame(
        [row[1:4] for row in rows],
        columns=["account_id", "triggered_at", "tier"],
        index=[f"row{i}" for i in range(len(rows))],
    )
    result = recovered(assignments, history, TIER_ORDER, 30, DATA_UNTIL)
    assert str(result.dtype) == "boolean"
    assert list(result.index) == list(assignments.index)
    for (label, *_, expected), got in zip(rows, result, strict=True):
        assert (got is pd.NA) if expected is pd.NA else (got is not pd.NA and got == expected), (
            label
        )


def test_recovered_refuses_unknown_tiers_and_missing_columns() -> None:
    assignments = pd.DataFrame({"account_id": ["a"], "triggered_at": [JAN_1], "tier": ["red"]})
    history = pd.DataFrame({"account_id": ["a"], "as_of": [JAN_1], "tier": ["purple"]})
    with pytest.raises(
        ValueError, match=r"must be one of: 'green', 'yellow', 'red'\. Got 'purple'"
    ):
        recovered(assignments, history, TIER_ORDER, 30, DATA_UNTIL)
    with pytest.raises(ValueError, match=r"'as_of' not found in history\. Columns in history"):
        recovered(assignments, history.drop(columns="as_of"), TIER_ORDER, 30, DATA_UNTIL)


# -- Newcombe's interval ------------------------------------------------------------------


# Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10 (score interval
# without continuity correction): (events_a, n_a, events_b, n_b) -> (low, high).
NEWCOMBE_TABLE_II = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
    ((10, 10, 0, 10), (0.6075, 1.0000)),
]


@pytest.mark.parametrize(("counts", "published"), NEWCOMBE_TABLE_II)
def test_newcombe_matches_the_published_examples(
    counts: tuple[int, int, int, int], published: tuple[float, float]
) -> None:
    low, high = newcombe_interval(*counts)
    assert (round(low, 4), round(high, 4)) == published


def test_newcombe_worked_example_in_full() -> None:
    # 56/70 - 48/80 = 0.8 - 0.6: the difference is 0.2000 (not 0.175).
    report = playbook_lift(lift_frame(treated=(56, 70), control=(48, 80)))
    row = report.rows[0]
    assert (row.treated_rate, row.control_rate) == (0.8, 0.6)
    assert row.difference == pytest.approx(0.2)
    assert (round(row.low or 0, 4), round(row.high or 0, 4)) == (0.0524, 0.3339)


def test_wilson_reaches_0_and_1_exactly_at_the_edges() -> None:
    assert wilson_interval(0, 25)[0] == 0.0
    assert wilson_interval(25, 25)[1] == 1.0
    assert 0 < wilson_interval(0, 25)[1] < 1 and 0 < wilson_interval(25, 25)[0] < 1
    with pytest.raises(ValueError, match="Got events=3, n=0 instead"):
        wilson_interval(3, 0)


def test_a_wider_confidence_gives_a_wider_interval() -> None:
    narrow = newcombe_interval(30, 100, 20, 100, confidence=0.8)
    wide = newcombe_interval(30, 100, 20, 100, confidence=0.99)
    assert wide[0] < narrow[0] < 0.1 < narrow[1] < wide[1]


def test_newcombe_keeps_its_coverage() -> None:
    # Seeded draws at sizes like a real control group: about 95% of intervals cover.
    generator = np.random.default_rng(7)
    for p_a, n_a, p_b, n_b in [(0.05, 800, 0.05, 200), (0.2, 2000, 0.3, 500)]:
        draws = zip(
            generator.binomial(n_a, p_a, 3000), generator.binomial(n_b, p_b, 3000), strict=True
        )
        intervals = [newcombe_interval(int(a), n_a, int(b), n_b) for a, b in draws]
        covered = sum(low <= p_a - p_b <= high for low, high in intervals)
        assert within_binomial(covered, 3000, 0.95)


counts = st.integers(1, 400).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))


@settings(max_examples=300, deadline=None)
@given(a=counts, b=counts, confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_the_interval_contains_the_difference_and_mirrors_on_swap(
    a: tuple[int, int], b: tuple[int, int], confidence: float
) -> None:
    difference = a[0] / a[1] - b[0] / b[1]
    low, high = newcombe_interval(*a, *b, confidence=confidence)
    assert -1 <= low <= difference <= high <= 1
    swapped_low, swapped_high = newcombe_interval(*b, *a, confidence=confidence)
    assert swapped_low == pytest.approx(-high, abs=1e-12)
    assert swapped_high == pytest.approx(-low, abs=1e-12)


# -- the lift report ----------------------------------------------------------------------


def lift_frame(
    treated: tuple[int, int],
    control: tuple[int, int],
    *,
    column: str = "churned",
    censored: tuple[int, int] = (0, 0),
    tier: str = "red",
    playbook: str = "rescue_call",
) -> pd.DataFrame:
    """(events, n) per group on `column`; `censored` extra NA rows per group."""
    parts = []
    for group, (events, n), extra in zip(
        ("treated", "control"), (treated, control), censored, strict=True
    ):
        values = [True] * events + [False] * (n - events) + [pd.NA] * extra
        parts.append(pd.DataFrame({"group": group, column: pd.array(values, dtype="boolean")}))
    frame = pd.concat(parts, ignore_index=True)
    other = "recovered" if column == "churned" else "churned"
    frame[other] = pd.array([pd.NA] * len(frame), dtype="boolean")
    frame["playbook"] = playbook
    frame["account_id"] = [f"{playbook}-{i}" for i in range(len(frame))]
    frame["tier"] = tier
    return frame


def only(report: LiftReport, outcome: Outcome, tier: str = "all") -> LiftRow:
    (row,) = [r for r in report.rows if r.outcome == outcome and r.tier == tier]
    return row


def test_censored_outcomes_are_left_out_of_the_counts() -> None:
    frame = lift_frame(treated=(10, 40), control=(12, 30), censored=(7, 3))
    row = only(playbook_lift(frame), Outcome.CHURN)
    assert (row.treated_n, row.treated_events, row.control_n, row.control_events) == (
        40,
        10,
        30,
        12,
    )
    assert row.treated_rate == 0.25 and row.control_rate == 0.4
    # Every recovery is censored: no counts, no numbers, no verdict.
    recovery = only(playbook_lift(frame), Outcome.RECOVERY)
    assert (recovery.treated_n, recovery.control_n) == (0, 0)
    assert recovery.treated_rate is None and recovery.difference is None
    assert recovery.low is None and recovery.high is None
    assert recovery.verdict == Verdict.TOO_FEW


def test_rates_of_0_and_1_give_finite_intervals() -> None:
    nobody = only(playbook_lift(lift_frame(treated=(0, 50), control=(0, 30))), Outcome.CHURN)
    assert nobody.difference == 0 and nobody.low is not None and nobody.high is not None
    assert nobody.low < 0 < nobody.high
    assert nobody.verdict == Verdict.NO_CLEAR_EFFECT
    everybody = only(playbook_lift(lift_frame(treated=(50, 50), control=(0, 30))), Outcome.CHURN)
    assert everybody.difference == 1 and everybody.high == 1.0
    assert everybody.verdict == Verdict.RAISES_CHURN


def test_an_empty_group_gives_none_not_nan() -> None:
    frame = lift_frame(treated=(10, 40), control=(0, 0))
    report = playbook_lift(frame)
    row = only(report, Outcome.CHURN)
    assert (row.control_n, row.control_rate, row.difference, row.low, row.high) == (
        0,
        None,
        None,
        None,
        None,
    )
    assert row.treated_rate == 0.25 and row.verdict == Verdict.TOO_FEW
    text = report.model_dump_json()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text)["rows"][0]["control_rate"] is None
    assert LiftReport.model_validate_json(text) == report


@pytest.mark.parametrize(
    ("smaller", "verdict"), [(19, Verdict.TOO_FEW), (20, Verdict.LOWERS_CHURN)]
)
def test_a_group_under_min_group_gets_no_verdict(smaller: int, verdict: Verdict) -> None:
    # Treated churn 0% against control 80%: a clear effect once both groups have 20.
    frame = lift_frame(treated=(0, 200), control=(int(smaller * 0.8), smaller))
    row = only(playbook_lift(frame), Outcome.CHURN)
    assert row.high is not None and row.high < 0
    assert row.verdict == verdict
    assert only(playbook_lift(frame, min_group=5), Outcome.CHURN).verdict == Verdict.LOWERS_CHURN


@pytest.mark.parametrize(
    ("treated", "control", "verdict"),
    [
        ((60, 100), (20, 100), Verdict.HELPS_RECOVERY),
        ((20, 100), (60, 100), Verdict.HURTS_RECOVERY),
        ((30, 100), (32, 100), Verdict.NO_CLEAR_EFFECT),
    ],
)
def test_recovery_verdicts_point_the_right_way(
    treated: tuple[int, int], control: tuple[int, int], verdict: Verdict
) -> None:
    frame = lift_frame(treated=treated, control=control, column="recovered")
    assert only(playbook_lift(frame), Outcome.RECOVERY).verdict == verdict


@settings(max_examples=60, deadline=None)
@given(
    a=st.tuples(st.integers(0, 30), st.integers(0, 30)).filter(lambda t: sum(t) > 0),
    b=st.tuples(st.integers(0, 30), st.integers(0, 30)),
)
def test_swapping_the_groups_negates_the_difference_in_the_report(
    a: tuple[int, int], b: tuple[int, int]
) -> None:
    treated, control = (a[0], a[0] + a[1]), (b[0], b[0] + b[1])
    frame = lift_frame(treated=treated, control=control)
    swapped = frame.assign(group=frame["group"].map({"treated": "control", "control": "treated"}))
    row = only(playbook_lift(frame), Outcome.CHURN)
    mirror = only(playbook_lift(swapped), Outcome.CHURN)
    assert (row.treated_n, row.control_n) == (mirror.control_n, mirror.treated_n)
    if row.difference is None:
        assert mirror.difference is None and mirror.low is None
        return
    assert row.low is not None and row.high is not None
    assert mirror.difference == pytest.approx(-row.difference, abs=1e-12)
    assert mirror.low == pytest.approx(-row.high, abs=1e-12)
    assert mirror.high == pytest.approx(-row.low, abs=1e-12)


def test_rows_come_per_playbook_then_all_then_tiers_in_order() -> None:
    frame = pd.concat(
        [
            lift_frame(treated=(5, 30), control=(5, 30), tier="yellow", playbook="nudge"),
            lift_frame(treated=(9, 30), control=(3, 30), tier="red", playbook="call"),
            lift_frame(treated=(1, 30), control=(2, 30), tier="yellow", playbook="call"),
        ],
        ignore_index=True,
    )
    frame["account_id"] = [f"acct{i}" for i in range(len(frame))]
    frame["tier"] = pd.Categorical(frame["tier"], categories=["red", "yellow", "green"])
    report = playbook_lift(frame)
    assert [(r.playbook, r.tier, r.outcome.value) for r in report.rows] == [
        ("nudge", "all", "churn"),
        ("nudge", "all", "recovery"),
        ("nudge", "yellow", "churn"),
        ("nudge", "yellow", "recovery"),
        ("call", "all", "churn"),
        ("call", "all", "recovery"),
        ("call", "red", "churn"),
        ("call", "red", "recovery"),
        ("call", "yellow", "churn"),
        ("call", "yellow", "recovery"),
    ]
    call_all = report.rows[4]
    assert (call_all.treated_n, call_all.treated_events) == (60, 10)
    table = report.to_frame()
    assert list(table.columns) == list(LiftRow.model_fields)
    assert len(table) == 10 and table["difference"].dtype == np.float64
    assert table.loc[1, "verdict"] == "too few accounts to tell"
    assert math.isnan(table.loc[1, "difference"])


def test_bad_input_is_reported_all_at_once() -> None:
    frame = lift_frame(treated=(1, 3), control=(1, 3))
    with pytest.raises(ValueError, match=r"'group' not found in the assignments\. Columns in"):
        playbook_lift(frame.drop(columns="group"))
    broken = frame.assign(
        group=["treated", "treated", "holdout", "control", "control", "control"],
        churned=["yes", True, False, True, False, False],
    )
    broken.loc[1, "account_id"] = broken.loc[0, "account_id"]
    with pytest.raises(ValueError, match="repeated") as caught:
        playbook_lift(broken)
    message = str(caught.value)
    assert "must be one of: 'treated', 'control'. Got 'holdout' instead." in message
    assert "Got 1 repeated row(s). Suggestion: keep each account's first trigger" in message
    assert "The 'churned' column must hold True, False or NA. Got values such as 'yes'" in message
    with pytest.raises(ValueError, match="must not hold 'all'"):
        playbook_lift(frame.assign(tier="all"))
    with pytest.raises(ValueError, match="The 'min_group' of lift must be an integer >= 1"):
        playbook_lift(frame, min_group=0)
    with pytest.raises(ValueError, match=r"The 'confidence' of an interval .* Got 95 instead"):
        playbook_lift(frame, confidence=95)


# -- a planted effect ---------------------------------------------------------------------

TIERS = ("red", "yellow", "green")
TIER_SHARE = (0.5, 0.3, 0.2)
CONTROL_CHURN = {"red": 0.30, "yellow": 0.15, "green": 0.05}
EFFECT = {"red": -0.10, "yellow": 0.0, "green": 0.0}
# Tiers are drawn independently of the hash split, so "all" expects the weighted effect.
PLANTED = {**EFFECT, "all": sum(s * EFFECT[t] for t, s in zip(TIERS, TIER_SHARE, strict=True))}


def planted_assignments(seed: int, accounts: int = 6000) -> pd.DataFrame:
    """Triggered accounts, 20% held out by the real hash, treatment cutting red churn."""
    generator = np.random.default_rng(seed)
    ids = [f"s{seed}-{i:05d}" for i in range(accounts)]
    tier = pd.Series(generator.choice(TIERS, accounts, p=TIER_SHARE))
    held_out = control_mask("rescue_call", ids, 20)
    rate = tier.map(CONTROL_CHURN).to_numpy() + np.where(held_out, 0.0, tier.map(EFFECT).to_numpy())
    churned = pd.array(generator.random(accounts) < rate, dtype="boolean")
    churned[generator.random(accounts) < 0.1] = pd.NA  # censored at random
    return pd.DataFrame(
        {
            "playbook": "rescue_call",
            "account_id": ids,
            "tier": tier,
            "group": np.where(held_out, "control", "treated"),
            "churned": churned,
            "recovered": pd.array([pd.NA] * accounts, dtype="boolean"),
        }
    )


# Three fixed seeds, the first three tried, not picked. Each seed checks four 95%
# intervals, so chance alone makes some seeds miss somewhere: an offline run of 2,000
# seeds saw each interval miss 4-5% of the time, the red verdict fail 0.05% of the time
# and 15% of seeds miss at least once. A failure on a new seed is not by itself a bug;
# a change that breaks one of these three needs a look.
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_planted_effect_is_found_and_nothing_else(seed: int) -> None:
    frame = planted_assignments(seed)
    report = playbook_lift(frame)
    held = (frame["group"] == "control").mean()
    assert 0.18 < held < 0.22
    churn = {row.tier: row for row in report.rows if row.outcome == Outcome.CHURN}
    assert set(churn) == {"all", *TIERS}
    for tier, row in churn.items():
        assert row.low is not None and row.high is not None
        assert row.low <= PLANTED[tier] <= row.high, tier
    assert churn["red"].verdict == Verdict.LOWERS_CHURN
    assert churn["yellow"].verdict == Verdict.NO_CLEAR_EFFECT
    assert churn["green"].verdict == Verdict.NO_CLEAR_EFFECT
    # Recovery was never observed: censored everywhere, so no claim.
    assert all(
        row.verdict == Verdict.TOO_FEW for row in report.rows if row.outcome == Outcome.RECOVERY
    )
