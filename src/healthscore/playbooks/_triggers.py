"""Which playbooks fire for which accounts: triggers evaluated on two consecutive runs.

A trigger fires when its condition starts to hold, so an account that stays red is
acted on once, when it turns red, not on every run. Each condition is one boolean mask
over the current run joined to the previous one; an account missing from the previous
run did not hold there (except for `LeaveTier`, which needs a previous tier to leave).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import assert_never

import numpy as np
import pandas as pd

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

__all__ = ["FIRED_COLUMNS", "TriggerKind", "fire", "kind_of"]


class TriggerKind(StrEnum):
    ENTER_TIER = "enter_tier"
    LEAVE_TIER = "leave_tier"
    DROP = "drop"
    GATE = "gate"
    CHURN_PROBABILITY_ABOVE = "churn_probability_above"
    RENEWAL_WITHIN = "renewal_within"
    MEASURE_BAD = "measure_bad"


FIRED_COLUMNS = (
    "playbook",
    "account_id",
    "as_of",
    "trigger",
    "why",
    "score",
    "tier",
    "previous_tier",
    "segment",
    "stage",
    "owner",
    "value_tier",
)
_CARRIED = ("account_id", "as_of", "score", "tier", "segment", "stage", "owner", "value_tier")
_TEXT = ("tier", "segment", "stage", "owner", "value_tier")
_BEFORE = "previous:"
_KNOWN = "previous:_known"


@dataclass(frozen=True)
class _Runs:
    """The current run with the previous run's row of each account beside it."""

    now: pd.DataFrame
    before: pd.DataFrame  # same index as `now`; all-null where `known` is False
    known: pd.Series  # the account had a row in the previous run
    had_previous_run: bool


def kind_of(trigger: Trigger) -> TriggerKind:
    """The short name of a trigger's kind, as the `trigger` column of `fire` shows it."""
    match trigger:
        case EnterTier():
            return TriggerKind.ENTER_TIER
        case LeaveTier():
            return TriggerKind.LEAVE_TIER
        case ScoreDrop():
            return TriggerKind.DROP
        case GateFired():
            return TriggerKind.GATE
        case ChurnAbove():
            return TriggerKind.CHURN_PROBABILITY_ABOVE
        case RenewalWithin():
            return TriggerKind.RENEWAL_WITHIN
        case MeasureBad():
            return TriggerKind.MEASURE_BAD
        case _:
            assert_never(trigger)


def fire(
    playbooks: Sequence[PlaybookSpec],
    current: pd.DataFrame,
    previous: pd.DataFrame | None,
    history: pd.DataFrame,
    tier_order: Sequence[str],
) -> pd.DataFrame:
    """One row per (playbook, account) whose trigger starts to hold on `current`.

    `previous` is the run before (None: there was none), `history` every earlier run's
    (account_id, as_of, score) rows and `tier_order` the tiers, best first.

    >>> from healthscore.spec._playbook_types import PlaybookConditions, PlaybookSpec
    >>> spec = PlaybookSpec("save", "Save", EnterTier("red"), PlaybookConditions(), 7, 0.0, ())
    >>> row = {"as_of": pd.Timestamp("2026-06-01"), "score": 30.0, "segment": "smb",
    ...        "stage": "live", "gates": []}
    >>> now = pd.DataFrame([{**row, "account_id": "a1", "tier": "red"}])
    >>> before = pd.DataFrame([{**row, "account_id": "a1", "tier": "yellow"}])
    >>> fire([spec], now, before, pd.DataFrame(), ["green", "yellow", "red"])["why"].tolist()
    ['entered red (was yellow)']
    """
    runs = _align(current, previous)
    best = tier_order[0] if tier_order else None
    positions: list[np.ndarray] = []
    names: list[str] = []
    kinds: list[str] = []
    whys: list[str] = []
    peaks: dict[int, pd.Series] = {}
    for playbook in playbooks:
        trigger = playbook.trigger
        if isinstance(trigger, ScoreDrop) and trigger.days not in peaks:
            peaks[trigger.days] = _window_peak(runs.now, history, trigger.days)
        peak = peaks[trigger.days] if isinstance(trigger, ScoreDrop) else None
        mask = _fires(trigger, runs, peak, best) & _eligible(runs.now, playbook.conditions)
        rows = np.flatnonzero(mask.to_numpy(dtype=bool))
        if not len(rows):
            continue
        positions.append(rows)
        names += [playbook.name] * len(rows)
        kinds += [kind_of(trigger).value] * len(rows)
        whys += _why(trigger, runs, peak, rows)
    return _result(runs, positions, names, kinds, whys)


# ---------------------------------------------------------------- alignment


def _unique_ids(frame: pd.DataFrame, name: str) -> None:
    if "account_id" not in frame.columns:
        raise ValueError(
            f"The '{name}' run must have an 'account_id' column. Columns in the frame: "
            f"{', '.join(map(str, frame.columns))}."
        )
    repeated = frame["account_id"][frame["account_id"].duplicated()].unique()
    if len(repeated):
        shown = ", ".join(map(str, repeated[:5]))
        raise ValueError(
            f"The '{name}' run must have one row per account. Got several rows for {shown}. "
            "Suggestion: pass the rows of a single scorecard run."
        )


def _align(current: pd.DataFrame, previous: pd.DataFrame | None) -> _Runs:
    _unique_ids(current, "current")
    now = current.reset_index(drop=True)
    if previous is None:
        prior = pd.DataFrame({"account_id": now["account_id"].iloc[:0]})
    else:
        _unique_ids(previous, "previous")
        prior = previous.reset_index(drop=True)
    renamed = prior.rename(columns={c: f"{_BEFORE}{c}" for c in prior.columns}).rename(
        columns={f"{_BEFORE}account_id": "account_id"}
    )
    ids = now[["account_id"]].astype(object)
    merged = ids.merge(
        renamed.astype({"account_id": object}),
        on="account_id",
        how="left",
        indicator=_KNOWN,
        validate="one_to_one",
    )
    merged.index = now.index
    before = merged.drop(columns=["account_id", _KNOWN])
    before.columns = [str(c).removeprefix(_BEFORE) for c in before.columns]
    return _Runs(
        now=now,
        before=before,
        known=merged[_KNOWN] == "both",
        had_previous_run=previous is not None,
    )


# ---------------------------------------------------------------- conditions


def _numeric(frame: pd.DataFrame, column: str) -> pd.Series | None:
    if column not in frame.columns:
        return None
    return pd.to_numeric(frame[column], errors="coerce").astype(np.float64)


def _none(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(False, index=frame.index, dtype=bool)


def _in_tier(frame: pd.DataFrame, tier: str) -> pd.Series:
    if "tier" not in frame.columns:
        return _none(frame)
    return frame["tier"].astype(object) == tier


def _known_tier(frame: pd.DataFrame) -> pd.Series:
    if "tier" not in frame.columns:
        return _none(frame)
    return frame["tier"].notna()


def _gate(frame: pd.DataFrame, gate: str) -> pd.Series:
    if "gates" not in frame.columns:
        return _none(frame)
    each = frame["gates"].explode()
    return pd.Series(frame.index.isin(each.index[each.astype(object) == gate]), index=frame.index)


def _renewal(frame: pd.DataFrame, trigger: RenewalWithin, best: str | None) -> pd.Series:
    days = _numeric(frame, trigger.metric)
    if days is None:
        return _none(frame)
    below_best = _known_tier(frame) & ~_in_tier(frame, best) if best else _known_tier(frame)
    return (days >= 0) & (days <= trigger.days) & below_best


def _holds(
    trigger: Trigger, frame: pd.DataFrame, peak: pd.Series | None, best: str | None
) -> pd.Series:
    """Where the trigger's condition holds on one run (NaN never holds)."""
    match trigger:
        case EnterTier(tier=tier):
            return _in_tier(frame, tier)
        case LeaveTier(tier=tier):
            # In some other tier; `_fires` adds "was in `tier` at the previous run".
            return _known_tier(frame) & ~_in_tier(frame, tier)
        case ScoreDrop(points=points):
            score = _numeric(frame, "score")
            if score is None or peak is None:
                return _none(frame)
            return score <= peak - points
        case GateFired(gate=gate):
            return _gate(frame, gate)
        case ChurnAbove(probability=probability):
            churn = _numeric(frame, "churn_probability")
            return _none(frame) if churn is None else churn > probability
        case RenewalWithin():
            return _renewal(frame, trigger, best)
        case MeasureBad(measure=measure, at=at):
            values = _numeric(frame, f"measure.{measure}")
            return _none(frame) if values is None else values <= at
        case _:
            assert_never(trigger)


def _fires(trigger: Trigger, runs: _Runs, peak: pd.Series | None, best: str | None) -> pd.Series:
    if isinstance(trigger, LeaveTier):
        was = runs.known & _in_tier(runs.before, trigger.tier)
        return was & _holds(trigger, runs.now, peak, best)
    now = _holds(trigger, runs.now, peak, best)
    before = runs.known & _holds(trigger, runs.before, peak, best)
    return now & ~before


def _eligible(frame: pd.DataFrame, conditions: PlaybookConditions) -> pd.Series:
    mask = pd.Series(True, index=frame.index, dtype=bool)
    for column, allowed in (
        ("segment", conditions.segments),
        ("stage", conditions.stages),
        ("value_tier", conditions.value_tiers),
        ("owner", conditions.owners),
    ):
        if not allowed:
            continue
        if column not in frame.columns:
            return _none(frame)
        mask &= frame[column].astype(object).isin(allowed)
    return mask


# ---------------------------------------------------------------- score drops


def _window_peak(now: pd.DataFrame, history: pd.DataFrame, days: int) -> pd.Series:
    """Each account's highest score in [as_of - days, as_of), the current run excluded."""
    empty = pd.Series(np.nan, index=now.index, dtype=np.float64)
    needed = {"account_id", "as_of", "score"}
    if history.empty or not needed <= set(history.columns) or "as_of" not in now.columns:
        return empty
    rows = pd.DataFrame(
        {
            "account_id": now["account_id"].astype(object),
            "current_as_of": pd.to_datetime(now["as_of"]),
            "row": now.index,
        }
    )
    past = pd.DataFrame(
        {
            "account_id": history["account_id"].astype(object),
            "as_of": pd.to_datetime(history["as_of"]),
            "score": pd.to_numeric(history["score"], errors="coerce"),
        }
    )
    joined = rows.merge(past, on="account_id", how="inner")
    start = joined["current_as_of"] - pd.Timedelta(days=days)
    inside = (joined["as_of"] >= start) & (joined["as_of"] < joined["current_as_of"])
    peak = joined[inside].groupby("row")["score"].max()
    return peak.reindex(now.index).astype(np.float64)


# ---------------------------------------------------------------- explanations


def _days(days: float) -> str:
    return f"{days:.0f}" if days.is_integer() else f"{days:.1f}"


def _floats(frame: pd.DataFrame, column: str, rows: np.ndarray) -> list[float]:
    values = _numeric(frame, column)
    return [] if values is None else values.iloc[rows].tolist()


def _texts(series: pd.Series, rows: np.ndarray) -> list[str | None]:
    return list(series.iloc[rows])


def _why(trigger: Trigger, runs: _Runs, peak: pd.Series | None, rows: np.ndarray) -> list[str]:
    """A sentence per fired row, with the numbers that made it fire."""
    now = runs.now
    match trigger:
        case EnterTier(tier=tier):
            was = _texts(_carried(runs, "previous_tier"), rows)
            known = runs.known.iloc[rows].tolist()
            return [f"entered {tier} ({_was(runs, k, w)})" for k, w in zip(known, was, strict=True)]
        case LeaveTier(tier=tier):
            return [f"left {tier} for {t}" for t in _texts(_carried(runs, "tier"), rows)]
        case ScoreDrop(days=days):
            highs = [] if peak is None else peak.iloc[rows].tolist()
            return [
                f"score fell {high - score:.1f} points in {days} days "
                f"(from {high:.1f} to {score:.1f})"
                for high, score in zip(highs, _floats(now, "score", rows), strict=True)
            ]
        case GateFired(gate=gate):
            return [f"gate {gate} fired"] * len(rows)
        case ChurnAbove(probability=probability):
            return [
                f"churn probability {churn:.2f} is above {probability:.2f}"
                for churn in _floats(now, "churn_probability", rows)
            ]
        case RenewalWithin(metric=metric):
            tiers = _texts(_carried(runs, "tier"), rows)
            return [
                f"renewal in {_days(days)} days while {tier}"
                for days, tier in zip(_floats(now, metric, rows), tiers, strict=True)
            ]
        case MeasureBad(measure=measure, at=at):
            return [
                f"measure {measure} sub-score {value:.1f} is at or below {at:.1f}"
                for value in _floats(now, f"measure.{measure}", rows)
            ]
        case _:
            assert_never(trigger)


def _was(runs: _Runs, known: bool, tier: str | None) -> str:
    if not runs.had_previous_run:
        return "no previous run"
    if not known:
        return "not in the previous run"
    return "no tier before" if tier is None else f"was {tier}"


# ---------------------------------------------------------------- result


def _text(values: pd.Series) -> pd.Series:
    """Text with every kind of null (None, NaN, pd.NA) shown as None."""
    as_object = values.astype(object)
    return as_object.where(as_object.notna(), None)


def _nothing(frame: pd.DataFrame) -> pd.Series:
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def _carried(runs: _Runs, column: str) -> pd.Series:
    """A column of the result for every current row, before the fired rows are picked."""
    if column == "previous_tier":
        if "tier" not in runs.before.columns:
            return _nothing(runs.now)
        return _text(runs.before["tier"]).where(runs.known, None)
    if column not in runs.now.columns:
        return _nothing(runs.now)
    return _text(runs.now[column]) if column in _TEXT else runs.now[column]


def _result(
    runs: _Runs,
    positions: list[np.ndarray],
    names: list[str],
    kinds: list[str],
    whys: list[str],
) -> pd.DataFrame:
    rows = np.concatenate(positions) if positions else np.array([], dtype=np.int64)
    columns = {
        "playbook": pd.Series(names, dtype=object),
        "trigger": pd.Series(kinds, dtype=object),
        "why": pd.Series(whys, dtype=object),
    }
    for column in (*_CARRIED, "previous_tier"):
        columns[column] = _carried(runs, column).iloc[rows].reset_index(drop=True)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(rows)))[list(FIRED_COLUMNS)]
