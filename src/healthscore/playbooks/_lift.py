"""Did the play help? Treated against held-out accounts, per playbook, tier and outcome.

Each rate is a share of accounts with a known outcome; a censored outcome (NA) is left
out of that outcome's counts, never counted as "did not happen". The interval for the
difference of two rates is Newcombe's hybrid score interval (method 10 of Newcombe,
Statistics in Medicine 1998; 17:873-890), built from the two Wilson intervals: unlike
the textbook Wald interval it stays inside [-1, 1] and keeps its coverage when a rate is
0, 1 or the groups are small, which is where a control group usually lives.
"""

from __future__ import annotations

import math
from enum import StrEnum
from statistics import NormalDist
from typing import assert_never

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ALL_TIERS",
    "LiftReport",
    "LiftRow",
    "Outcome",
    "Verdict",
    "newcombe_interval",
    "playbook_lift",
    "wilson_interval",
]

ALL_TIERS = "all"
GROUPS = ("treated", "control")
_KEYS = ("playbook", "account_id", "tier", "group")


class Outcome(StrEnum):
    CHURN = "churn"
    RECOVERY = "recovery"


_COLUMN_OF = {Outcome.CHURN: "churned", Outcome.RECOVERY: "recovered"}


class Verdict(StrEnum):
    TOO_FEW = "too few accounts to tell"
    LOWERS_CHURN = "the play lowers churn"
    RAISES_CHURN = "the play raises churn"
    HELPS_RECOVERY = "the play helps recovery"
    HURTS_RECOVERY = "the play hurts recovery"
    NO_CLEAR_EFFECT = "no clear effect (the interval includes 0)"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class LiftRow(_Model):
    """One playbook, tier and outcome: treated against control."""

    playbook: str
    tier: str = Field(description=f"A tier, or '{ALL_TIERS}' for every triggered account.")
    outcome: Outcome
    treated_n: int = Field(description="Treated accounts whose outcome is known.")
    treated_events: int = Field(description="...of which churned (or recovered).")
    treated_rate: float | None
    control_n: int = Field(description="Held-out accounts whose outcome is known.")
    control_events: int
    control_rate: float | None
    difference: float | None = Field(description="Treated rate minus control rate.")
    low: float | None = Field(description="Lower end of the interval for the difference.")
    high: float | None = Field(description="Upper end of the interval for the difference.")
    verdict: Verdict


class LiftReport(_Model):
    """Every playbook's lift, tier 'all' first, then each tier in the order given."""

    confidence: float
    min_group: int = Field(description="Fewer known outcomes than this in a group: no verdict.")
    rows: list[LiftRow]

    def to_frame(self) -> pd.DataFrame:
        """One row per LiftRow; undefined numbers become NaN here (they are None in JSON)."""
        floats = ("treated_rate", "control_rate", "difference", "low", "high")
        records = [row.model_dump(mode="json") for row in self.rows]
        frame = pd.DataFrame(records, columns=list(LiftRow.model_fields))
        return frame.astype(dict.fromkeys(floats, "float64"))


def wilson_interval(events: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a rate `events / n` (no continuity correction).

    >>> [round(x, 4) for x in wilson_interval(56, 70)]
    [0.6918, 0.877]
    """
    if not 0 <= events <= n or n < 1:
        raise ValueError(
            f"A rate needs 0 <= events <= n and n >= 1. Got events={events}, n={n} instead."
        )
    z = _quantile(confidence)
    centre = (events + z * z / 2) / (n + z * z)
    half = z / (n + z * z) * math.sqrt(events * (n - events) / n + z * z / 4)
    low = 0.0 if events == 0 else max(0.0, centre - half)
    high = 1.0 if events == n else min(1.0, centre + half)
    return low, high


def newcombe_interval(
    events_a: int, n_a: int, events_b: int, n_b: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Newcombe's hybrid score interval for the difference `events_a/n_a - events_b/n_b`.

    >>> [round(x, 4) for x in newcombe_interval(56, 70, 48, 80)]
    [0.0524, 0.3339]
    """
    low_a, high_a = wilson_interval(events_a, n_a, confidence)
    low_b, high_b = wilson_interval(events_b, n_b, confidence)
    rate_a, rate_b = events_a / n_a, events_b / n_b
    difference = rate_a - rate_b
    # The two orders of terms mirror each other, so swapping the groups mirrors the
    # interval exactly, to the last bit.
    below = math.sqrt((rate_a - low_a) ** 2 + (high_b - rate_b) ** 2)
    above = math.sqrt((high_a - rate_a) ** 2 + (rate_b - low_b) ** 2)
    return max(-1.0, difference - below), min(1.0, difference + above)


def playbook_lift(
    assignments: pd.DataFrame, *, min_group: int = 20, confidence: float = 0.95
) -> LiftReport:
    """Churn and recovery of treated against held-out accounts, per playbook and tier.

    `assignments` has one row per triggered account and playbook: playbook, account_id,
    tier (at the trigger), group ("treated" or "control"), and the nullable booleans
    churned and recovered (NA: not known yet). A categorical `tier` keeps its order.

    >>> frame = pd.DataFrame(
    ...     {
    ...         "playbook": "rescue_call",
    ...         "account_id": [f"a{i}" for i in range(150)],
    ...         "tier": "red",
    ...         "group": ["treated"] * 70 + ["control"] * 80,
    ...         "churned": [True] * 56 + [False] * 14 + [True] * 48 + [False] * 32,
    ...         "recovered": pd.NA,
    ...     }
    ... )
    >>> row = playbook_lift(frame).rows[0]
    >>> row.tier, row.outcome.value, round(row.difference, 2), row.verdict.value
    ('all', 'churn', 0.2, 'the play raises churn')
    """
    if isinstance(min_group, bool) or not isinstance(min_group, int) or min_group < 1:
        raise ValueError(
            f"The 'min_group' of lift must be an integer >= 1. Got {min_group!r} instead."
        )
    _quantile(confidence)
    frame = _checked(assignments)
    tiers = _tier_order(frame["tier"])
    keys = frame[["playbook", "tier", "group"]].astype(str)
    counts = {outcome: _counts(keys, frame[column]) for outcome, column in _COLUMN_OF.items()}
    rows = []
    for playbook in pd.unique(keys["playbook"]):
        present = set(keys.loc[keys["playbook"] == playbook, "tier"])
        for tier in [ALL_TIERS, *(t for t in tiers if t in present)]:
            for outcome in Outcome:
                treated = counts[outcome].get((playbook, tier, "treated"), (0, 0))
                control = counts[outcome].get((playbook, tier, "control"), (0, 0))
                rows.append(_row(playbook, tier, outcome, treated, control, min_group, confidence))
    return LiftReport(confidence=confidence, min_group=min_group, rows=rows)


def _row(
    playbook: str,
    tier: str,
    outcome: Outcome,
    treated: tuple[int, int],
    control: tuple[int, int],
    min_group: int,
    confidence: float,
) -> LiftRow:
    (treated_n, treated_events), (control_n, control_events) = treated, control
    difference = low = high = None
    if treated_n and control_n:
        difference = treated_events / treated_n - control_events / control_n
        low, high = newcombe_interval(
            treated_events, treated_n, control_events, control_n, confidence
        )
    return LiftRow(
        playbook=playbook,
        tier=tier,
        outcome=outcome,
        treated_n=treated_n,
        treated_events=treated_events,
        treated_rate=treated_events / treated_n if treated_n else None,
        control_n=control_n,
        control_events=control_events,
        control_rate=control_events / control_n if control_n else None,
        difference=difference,
        low=low,
        high=high,
        verdict=_verdict(outcome, min(treated_n, control_n) >= min_group, low, high),
    )


def _verdict(outcome: Outcome, enough: bool, low: float | None, high: float | None) -> Verdict:
    if not enough or low is None or high is None:
        return Verdict.TOO_FEW
    match outcome:
        case Outcome.CHURN:
            if high < 0:
                return Verdict.LOWERS_CHURN
            if low > 0:
                return Verdict.RAISES_CHURN
        case Outcome.RECOVERY:
            if low > 0:
                return Verdict.HELPS_RECOVERY
            if high < 0:
                return Verdict.HURTS_RECOVERY
        case _:
            assert_never(outcome)
    return Verdict.NO_CLEAR_EFFECT


def _counts(keys: pd.DataFrame, values: pd.Series) -> dict[tuple[str, str, str], tuple[int, int]]:
    """(known outcomes, events) per (playbook, tier, group), tier 'all' included."""
    table = keys.assign(
        known=values.notna().to_numpy(dtype="int64"),
        events=values.fillna(False).to_numpy(dtype="int64"),
    )
    by_tier = table.groupby(["playbook", "tier", "group"], sort=False)[["known", "events"]].sum()
    overall = table.groupby(["playbook", "group"], sort=False)[["known", "events"]].sum()
    result = {
        (str(p), str(t), str(g)): (int(k), int(e))
        for (p, t, g), k, e in zip(by_tier.index, by_tier["known"], by_tier["events"], strict=True)
    }
    for (p, g), k, e in zip(overall.index, overall["known"], overall["events"], strict=True):
        result[(str(p), ALL_TIERS, str(g))] = (int(k), int(e))
    return result


def _tier_order(tiers: pd.Series) -> list[str]:
    if isinstance(tiers.dtype, pd.CategoricalDtype):
        return [str(tier) for tier in tiers.cat.categories]
    return [str(tier) for tier in pd.unique(tiers)]


def _checked(assignments: pd.DataFrame) -> pd.DataFrame:
    """The input with its outcome columns as nullable booleans, or every problem at once."""
    columns = [*_KEYS, *_COLUMN_OF.values()]
    missing = [column for column in columns if column not in assignments.columns]
    if missing:
        raise ValueError(
            f"column(s) {', '.join(map(repr, missing))} not found in the assignments. "
            f"Columns in the assignments: {', '.join(map(str, assignments.columns)) or '(none)'}."
        )
    problems = []
    for column in _KEYS:
        absent = int(assignments[column].isna().sum())
        if absent:
            problems.append(f"The '{column}' column must not be missing. Got {absent} missing.")
    odd = sorted({str(g) for g in assignments["group"].dropna().unique()} - set(GROUPS))
    if odd:
        problems.append(
            f"The 'group' column must be one of: 'treated', 'control'. Got "
            f"{', '.join(map(repr, odd))} instead."
        )
    if ALL_TIERS in {str(tier) for tier in assignments["tier"].dropna().unique()}:
        problems.append(
            f"The 'tier' column must not hold '{ALL_TIERS}': that name stands for every tier."
        )
    repeated = int(assignments.duplicated(["playbook", "account_id"]).sum())
    if repeated:
        problems.append(
            f"Each account must appear once per playbook. Got {repeated} repeated row(s). "
            "Suggestion: keep each account's first trigger per playbook, so one account "
            "is one piece of evidence."
        )
    frame = assignments.copy()
    for column in _COLUMN_OF.values():
        try:
            frame[column] = assignments[column].astype("boolean")
        except (TypeError, ValueError):
            problems.append(
                f"The '{column}' column must hold True, False or NA. Got values such as "
                f"{_examples(assignments[column])} instead."
            )
    if problems:
        raise ValueError("\n".join(problems))
    return frame


def _examples(values: pd.Series) -> str:
    odd = [v for v in values.dropna().unique() if not isinstance(v, bool) and v not in (0, 1)]
    return ", ".join(repr(v) for v in odd[:3])


def _quantile(confidence: float) -> float:
    if not (isinstance(confidence, float | int) and 0 < confidence < 1):
        raise ValueError(
            f"The 'confidence' of an interval must be a number in the range (0, 1). Got "
            f"{confidence!r} instead."
        )
    return NormalDist().inv_cdf((1 + confidence) / 2)
