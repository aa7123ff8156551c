"""Did an account recover after a playbook fired: a better tier within the horizon?

Recovery is read from the score history, not from the action's own records, so treated
and held-out accounts are judged by the same rule. The window is (triggered_at,
triggered_at + horizon]: the trigger day's own score is what fired the play. An answer
the data cannot settle yet is NA (censored), never False.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = ["recovered"]

_ASSIGNMENT_COLUMNS = ("account_id", "triggered_at", "tier")
_HISTORY_COLUMNS = ("account_id", "as_of", "tier")


def recovered(
    assignments: pd.DataFrame,
    history: pd.DataFrame,
    tier_order: Sequence[str],
    horizon_days: int,
    data_until: dt.date,
) -> pd.Series:
    """For each assignment: True, False, or NA when the horizon reaches past `data_until`.

    `tier_order` lists the tiers best first. An account triggered in the best tier has
    nowhere better to go, so it is False, not censored.

    >>> assignments = pd.DataFrame(
    ...     {"account_id": ["a"], "triggered_at": [dt.date(2026, 1, 1)], "tier": ["red"]}
    ... )
    >>> history = pd.DataFrame(
    ...     {"account_id": ["a"], "as_of": [dt.date(2026, 1, 15)], "tier": ["yellow"]}
    ... )
    >>> recovered(assignments, history, ["green", "yellow", "red"], 30, dt.date(2026, 6, 1))
    0    True
    dtype: boolean
    """
    _require(assignments, _ASSIGNMENT_COLUMNS, "assignments")
    _require(history, _HISTORY_COLUMNS, "history")
    if horizon_days < 1:
        raise ValueError(
            f"The 'horizon_days' of recovery must be an integer >= 1. Got {horizon_days!r} instead."
        )
    rank = {tier: position for position, tier in enumerate(tier_order)}
    horizon = pd.Timedelta(days=horizon_days)
    triggered = _dates(assignments["triggered_at"])
    left = pd.DataFrame(
        {
            "_row": np.arange(len(assignments)),
            "account_id": assignments["account_id"].to_numpy(),
            "triggered_at": triggered.to_numpy(),
            "_rank": _ranks(assignments["tier"], rank, "assignments"),
        }
    )
    right = pd.DataFrame(
        {
            "account_id": history["account_id"].to_numpy(),
            "as_of": _dates(history["as_of"]).to_numpy(),
            "_later_rank": _ranks(history["tier"], rank, "history"),
        }
    )
    pairs = left.merge(right, on="account_id")
    better = (
        (pairs["as_of"] > pairs["triggered_at"])
        & (pairs["as_of"] <= pairs["triggered_at"] + horizon)
        & (pairs["_later_rank"] < pairs["_rank"])
    )
    seen = np.zeros(len(assignments), dtype=np.bool_)
    seen[pairs.loc[better, "_row"].to_numpy()] = True
    open_ended = (triggered + horizon > pd.Timestamp(data_until)).to_numpy()
    # An open window is unknown even when a recovery shows early: counting only the early
    # recoveries would bias the rate up (the same rule as the churn labels).
    censored = open_ended & (left["_rank"].to_numpy() > 0)
    result = pd.Series(seen, index=assignments.index, dtype="boolean")
    result[censored] = pd.NA
    return result


def _require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(
            f"column(s) {', '.join(repr(c) for c in missing)} not found in {name}. "
            f"Columns in {name}: {', '.join(map(str, frame.columns)) or '(none)'}."
        )


def _dates(values: pd.Series) -> pd.Series:
    return pd.Series(pd.to_datetime(values).astype("datetime64[us]").to_numpy())


def _ranks(tiers: pd.Series, rank: dict[str, int], name: str) -> NDArray[np.int64]:
    unknown = sorted({str(tier) for tier in tiers.unique() if tier not in rank})
    if unknown:
        raise ValueError(
            f"The tiers in {name} must be one of: {', '.join(map(repr, rank))}. Got "
            f"{', '.join(map(repr, unknown))} instead."
        )
    return np.asarray(tiers.map(rank), dtype=np.int64)
