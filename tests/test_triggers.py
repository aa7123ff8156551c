"""Playbook triggers: each fires once, when its condition starts to hold."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthscore.playbooks._triggers import FIRED_COLUMNS, TriggerKind, fire, kind_of
from healthscore.spec._playbook_types import (
    ChurnAbove,
    EnterTier,
    GateFired,
    LeaveTier,
    MeasureBad,
    PlaybookConditions,
    PlaybookSpec,
    RenewalWithin,
    ScoreDrop,
    Trigger,
)

AS_OF = pd.Timestamp("2026-06-01")
TIERS = ("green", "yellow", "red")
NO_HISTORY = pd.DataFrame({"account_id": [], "as_of": [], "score": []})


def account(
    account_id: str, tier: str = "green", score: float = 80.0, **extra: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "account_id": account_id,
        "as_of": AS_OF,
        "score": score,
        "tier": tier,
        "segment": "smb",
        "stage": "live",
        "gates": [],
    }
    return row | extra


def run(*rows: dict[str, Any], as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows))
    if as_of is not None:
        frame["as_of"] = as_of
    return frame


def history(*rows: tuple[str, int, float]) -> pd.DataFrame:
    """Rows as (account_id, days before AS_OF, score)."""
    return pd.DataFrame(
        {
            "account_id": [r[0] for r in rows],
            "as_of": [AS_OF - pd.Timedelta(days=r[1]) for r in rows],
            "score": [r[2] for r in rows],
        }
    )


def playbook(
    trigger: Trigger, name: str = "p", conditions: PlaybookConditions | None = None
) -> PlaybookSpec:
    return PlaybookSpec(
        name=name,
        label=name.title(),
        trigger=trigger,
        conditions=conditions or PlaybookConditions(),
        cooldown_days=7,
        holdout_percent=0.0,
        actions=(),
    )


def fired(
    trigger: Trigger,
    current: pd.DataFrame,
    previous: pd.DataFrame | None,
    past: pd.DataFrame = NO_HISTORY,
) -> dict[str, str]:
    """Fired account -> why, for one playbook."""
    result = fire([playbook(trigger)], current, previous, past, TIERS)
    assert list(result.columns) == list(FIRED_COLUMNS)
    assert set(result["trigger"]) <= {kind_of(trigger).value}
    return dict(zip(result["account_id"], result["why"], strict=True))


# ---------------------------------------------------------------- tiers


def test_enter_tier_fires_on_the_run_the_account_enters() -> None:
    previous = run(account("moved", "yellow"), account("stayed", "red"), account("never"))
    current = run(
        account("moved", "red"), account("stayed", "red"), account("never"), account("new", "red")
    )
    assert fired(EnterTier("red"), current, previous) == {
        "moved": "entered red (was yellow)",
        "new": "entered red (not in the previous run)",
    }


def test_leave_tier_needs_a_previous_row_in_that_tier() -> None:
    previous = run(account("left"), account("stayed"), account("other", "yellow"), account("gone"))
    current = run(
        account("left", "yellow"),
        account("stayed"),
        account("other", "red"),
        account("new", "yellow"),
    )
    assert fired(LeaveTier("green"), current, previous) == {"left": "left green for yellow"}


def test_without_a_previous_run_entering_fires_and_leaving_cannot() -> None:
    current = run(account("a", "red"), account("b", "green"))
    result = fire(
        [playbook(EnterTier("red"), "enter"), playbook(LeaveTier("green"), "leave")],
        current,
        None,
        NO_HISTORY,
        TIERS,
    )
    assert result["playbook"].tolist() == ["enter"]
    assert result["why"].tolist() == ["entered red (no previous run)"]
    assert result["previous_tier"].tolist() == [None]


def test_previous_tier_is_reported_and_none_for_new_accounts() -> None:
    previous = run(account("a", "yellow"))
    current = run(account("a", "red"), account("b", "red"))
    result = fire([playbook(EnterTier("red"))], current, previous, NO_HISTORY, TIERS)
    assert result.set_index("account_id")["previous_tier"].to_dict() == {"a": "yellow", "b": None}


# ---------------------------------------------------------------- score drops


def test_drop_fires_once_and_not_again_while_still_low() -> None:
    drop = ScoreDrop(points=15.0, days=30)
    past = history(("a", 14, 72.0), ("a", 7, 70.0))
    first = fired(drop, run(account("a", score=54.0)), run(account("a", score=70.0)), past)
    assert first == {"a": "score fell 18.0 points in 30 days (from 72.0 to 54.0)"}
    later = pd.concat([past, history(("a", 0, 54.0))], ignore_index=True)
    next_run = run(account("a", score=53.0), as_of=AS_OF + pd.Timedelta(days=7))
    assert fired(drop, next_run, run(account("a", score=54.0)), later) == {}


def test_drop_only_reads_history_inside_the_window() -> None:
    drop = ScoreDrop(points=15.0, days=30)
    past = history(
        ("old_peak", 40, 95.0),  # before the window
        ("old_peak", 10, 60.0),
        ("same_day", 0, 100.0),  # the current run itself does not count
        ("edge", 30, 75.0),  # the window's first day counts
    )
    current = run(
        account("old_peak", score=55.0),
        account("same_day", score=50.0),
        account("edge", score=60.0),
    )
    assert fired(drop, current, None, past) == {
        "edge": "score fell 15.0 points in 30 days (from 75.0 to 60.0)"
    }


def test_drop_does_not_fire_without_history_or_when_previous_was_already_low() -> None:
    drop = ScoreDrop(points=10.0, days=30)
    past = history(("low", 5, 80.0), ("rising", 5, 80.0))
    current = run(account("low", score=65.0), account("rising", score=75.0), account("new"))
    previous = run(account("low", score=68.0), account("rising", score=60.0))
    assert fired(drop, current, previous, past) == {}
    assert fired(drop, current, previous, pd.DataFrame()) == {}


def test_drop_accepts_dates_as_well_as_timestamps() -> None:
    current = run(account("a", score=50.0), as_of=AS_OF.date())
    past = pd.DataFrame(
        {"account_id": ["a"], "as_of": [AS_OF.date() - dt.timedelta(days=3)], "score": [70.0]}
    )
    assert list(fired(ScoreDrop(points=20.0, days=7), current, None, past)) == ["a"]


# ---------------------------------------------------------------- signals


def test_gate_fires_when_it_starts_to_fire() -> None:
    previous = run(
        account("starts"),
        account("still", gates=["no_recent_logins"]),
        account("stops", gates=["no_recent_logins"]),
        account("never", gates=["other"]),
    )
    current = run(
        account("starts", gates=["other", "no_recent_logins"]),
        account("still", gates=["no_recent_logins"]),
        account("stops"),
        account("never", gates=["other"]),
        account("new", gates=np.array(["no_recent_logins"])),
    )
    assert fired(GateFired("no_recent_logins"), current, previous) == {
        "starts": "gate no_recent_logins fired",
        "new": "gate no_recent_logins fired",
    }


def test_churn_probability_above_is_strict_and_ignores_missing_values() -> None:
    previous = run(
        account("rises", churn_probability=0.20),
        account("still", churn_probability=0.50),
        account("at", churn_probability=0.10),
        account("unknown", churn_probability=0.10),
    )
    current = run(
        account("rises", churn_probability=0.46),
        account("still", churn_probability=0.55),
        account("at", churn_probability=0.40),
        account("unknown", churn_probability=np.nan),
    )
    assert fired(ChurnAbove(0.4), current, previous) == {
        "rises": "churn probability 0.46 is above 0.40"
    }


def test_a_trigger_whose_column_is_missing_never_fires() -> None:
    current = run(account("a", "red"))
    for trigger in (ChurnAbove(0.1), MeasureBad("usage.logins"), RenewalWithin(30, "renewal")):
        assert fired(trigger, current, None) == {}


def test_renewal_within_needs_a_tier_below_the_best() -> None:
    previous = run(
        account("enters", "yellow", renewal=35.0),
        account("best", renewal=35.0),
        account("already", "red", renewal=25.0),
        account("past", "yellow", renewal=5.0),
        account("worsens", renewal=10.0),
    )
    current = run(
        account("enters", "yellow", renewal=21.0),
        account("best", renewal=21.0),
        account("already", "red", renewal=20.0),
        account("past", "yellow", renewal=-3.0),
        account("worsens", "yellow", renewal=9.5),
        account("unknown", "red", renewal=np.nan),
    )
    assert fired(RenewalWithin(days=30, metric="renewal"), current, previous) == {
        "enters": "renewal in 21 days while yellow",
        "worsens": "renewal in 9.5 days while yellow",
    }


def test_measure_bad_fires_when_the_sub_score_falls_to_the_threshold() -> None:
    column = "measure.usage.logins"
    previous = run(
        account("falls", **{column: 40.0}),
        account("still", **{column: 0.0}),
        account("unknown", **{column: 40.0}),
    )
    current = run(
        account("falls", **{column: 0.0}),
        account("still", **{column: 0.0}),
        account("unknown", **{column: np.nan}),
        account("fine", **{column: 50.0}),
    )
    assert fired(MeasureBad("usage.logins"), current, previous) == {
        "falls": "measure usage.logins sub-score 0.0 is at or below 0.0"
    }
    assert set(fired(MeasureBad("usage.logins", at=45.0), current, None)) == {"falls", "still"}


# ---------------------------------------------------------------- conditions


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        (PlaybookConditions(), {"a", "b", "c"}),
        (PlaybookConditions(segments=("enterprise",)), {"b"}),
        (PlaybookConditions(stages=("onboarding", "live")), {"a", "c"}),
        (PlaybookConditions(value_tiers=("high",)), {"a"}),
        (PlaybookConditions(owners=("ann", "bo")), {"a", "b"}),
        (PlaybookConditions(segments=("smb",), owners=("bo",)), set()),
    ],
)
def test_conditions_filter_the_current_row(
    conditions: PlaybookConditions, expected: set[str]
) -> None:
    current = run(
        account("a", "red", owner="ann", value_tier="high"),
        account("b", "red", segment="enterprise", stage="renewal", owner="bo", value_tier=None),
        account("c", "red", stage="onboarding", owner=None, value_tier="low"),
    )
    previous = run(account("a", segment="enterprise"), account("b"), account("c"))
    result = fire(
        [playbook(EnterTier("red"), conditions=conditions)], current, previous, NO_HISTORY, TIERS
    )
    assert set(result["account_id"]) == expected


def test_a_condition_on_a_missing_column_makes_no_account_eligible() -> None:
    current = run(account("a", "red"))
    for conditions in (
        PlaybookConditions(value_tiers=("high",)),
        PlaybookConditions(owners=("ann",)),
    ):
        result = fire(
            [playbook(EnterTier("red"), conditions=conditions)], current, None, NO_HISTORY, TIERS
        )
        assert result.empty


# ---------------------------------------------------------------- the result


def test_several_playbooks_fire_side_by_side() -> None:
    previous = run(account("a", "yellow", score=70.0), account("b", score=85.0))
    current = run(
        account("a", "red", score=40.0, owner="ann", gates=["no_recent_logins"]),
        account("b", "yellow", score=70.0, owner=None),
    )
    playbooks = [
        playbook(EnterTier("red"), "save"),
        playbook(LeaveTier("green"), "check_in"),
        playbook(GateFired("no_recent_logins"), "nudge"),
        playbook(EnterTier("green"), "celebrate"),
    ]
    result = fire(playbooks, current, previous, NO_HISTORY, TIERS)
    assert result[["playbook", "account_id", "trigger"]].values.tolist() == [
        ["save", "a", "enter_tier"],
        ["check_in", "b", "leave_tier"],
        ["nudge", "a", "gate"],
    ]
    first = result.iloc[0]
    assert (first["as_of"], first["score"], first["tier"], first["previous_tier"]) == (
        AS_OF,
        40.0,
        "red",
        "yellow",
    )
    assert (first["segment"], first["stage"], first["owner"], first["value_tier"]) == (
        "smb",
        "live",
        "ann",
        None,
    )
    assert result.iloc[1]["owner"] is None


def test_an_empty_result_keeps_its_columns() -> None:
    current = run(account("a"))
    result = fire([playbook(EnterTier("red"))], current, current, NO_HISTORY, TIERS)
    assert result.empty and list(result.columns) == list(FIRED_COLUMNS)
    assert list(fire([], current, None, NO_HISTORY, TIERS).columns) == list(FIRED_COLUMNS)


def test_kinds_have_stable_names() -> None:
    assert [kind.value for kind in TriggerKind] == [
        "enter_tier",
        "leave_tier",
        "drop",
        "gate",
        "churn_probability_above",
        "renewal_within",
        "measure_bad",
    ]


def test_repeated_accounts_are_refused() -> None:
    current = run(account("a"), account("a"))
    with pytest.raises(ValueError, match=r"one row per account\. Got several rows for a"):
        fire([playbook(EnterTier("red"))], current, None, NO_HISTORY, TIERS)


# ---------------------------------------------------------------- properties

EVERY_TRIGGER: list[Trigger] = [
    EnterTier("red"),
    EnterTier("green"),
    LeaveTier("green"),
    LeaveTier("yellow"),
    ScoreDrop(points=10.0, days=30),
    ScoreDrop(points=0.0, days=60),
    GateFired("g1"),
    ChurnAbove(0.5),
    RenewalWithin(days=60, metric="renewal"),
    MeasureBad("usage.logins", at=20.0),
]
maybe = st.one_of(st.none(), st.floats(0.0, 100.0))


@st.composite
def runs(draw: st.DrawFn, ids: list[str]) -> pd.DataFrame:
    chosen = draw(st.lists(st.sampled_from(ids), unique=True))
    rows = [
        account(
            account_id,
            draw(st.sampled_from(TIERS)),
            draw(st.floats(0.0, 100.0)),
            gates=draw(st.lists(st.sampled_from(["g1", "g2"]), unique=True)),
            churn_probability=np.nan if (c := draw(maybe)) is None else c / 100,
            renewal=np.nan if (r := draw(maybe)) is None else r - 10,
            owner=draw(st.sampled_from([None, "ann"])),
            **{"measure.usage.logins": np.nan if (m := draw(maybe)) is None else m},
        )
        for account_id in chosen
    ]
    if not rows:
        return run(account("only"))
    return run(*rows)


@st.composite
def pasts(draw: st.DrawFn, ids: list[str]) -> pd.DataFrame:
    rows = draw(
        st.lists(st.tuples(st.sampled_from(ids), st.integers(0, 60), st.floats(0.0, 100.0)))
    )
    return history(*rows) if rows else NO_HISTORY


IDS = [f"a{i}" for i in range(8)]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(current=runs(IDS), previous=runs(IDS), past=pasts(IDS))
def test_transitions_fire_once_and_only_for_current_accounts(
    current: pd.DataFrame, previous: pd.DataFrame, past: pd.DataFrame
) -> None:
    playbooks = [playbook(trigger, f"p{i}") for i, trigger in enumerate(EVERY_TRIGGER)]
    assert fire(playbooks, current, current, past, TIERS).empty
    result = fire(playbooks, current, previous, past, TIERS)
    assert set(result["account_id"]) <= set(current["account_id"])
    assert not result.duplicated(["playbook", "account_id"]).any()
