"""What changed for one account between two stored runs, in score points per measure.

A rules score is 50 plus each measure's impact (its effective weight times its
sub-score's distance from 50), then gates; so the change of each impact is exactly how
many points that measure moved the score. A change of scorecard version is said first:
a change of logic must never pass for a change of behaviour.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
from pydantic import BaseModel


class MeasureMove(BaseModel):
    measure: str
    sub_score_before: float | None
    sub_score_after: float | None
    points: float  # how far this measure moved the score


class Explanation(BaseModel):
    account_id: str
    since: dt.date
    as_of: dt.date
    score_before: float
    score_after: float
    tier_before: str
    tier_after: str
    version_before: str
    version_after: str
    measures: list[MeasureMove]  # largest move first
    gates_before: list[str]
    gates_after: list[str]
    override_before: str | None
    override_after: str | None

    @property
    def version_changed(self) -> bool:
        return self.version_before != self.version_after


def _number(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if math.isnan(number) else number


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def explain_change(before: pd.Series, after: pd.Series) -> Explanation:
    """Compare two stored rows of one account (decoded, as `Store.history` returns)."""
    codes = sorted(
        {
            str(name).removeprefix("impact.")
            for row in (before, after)
            for name, value in row.items()
            if str(name).startswith("impact.") and _number(value) is not None
        }
    )
    moves = []
    for code in codes:
        was = _number(before.get(f"impact.{code}")) or 0.0
        now = _number(after.get(f"impact.{code}")) or 0.0
        moves.append(
            MeasureMove(
                measure=code,
                sub_score_before=_number(before.get(f"measure.{code}")),
                sub_score_after=_number(after.get(f"measure.{code}")),
                points=round(now - was, 2),
            )
        )
    moves.sort(key=lambda move: -abs(move.points))
    return Explanation(
        account_id=str(after["account_id"]),
        since=pd.Timestamp(before["as_of"]).date(),
        as_of=pd.Timestamp(after["as_of"]).date(),
        score_before=float(before["score"]),
        score_after=float(after["score"]),
        tier_before=str(before["tier"]),
        tier_after=str(after["tier"]),
        version_before=str(before["scorecard_version"]),
        version_after=str(after["scorecard_version"]),
        measures=moves,
        gates_before=list(before["gates"]),
        gates_after=list(after["gates"]),
        override_before=_text(before.get("override_id")),
        override_after=_text(after.get("override_id")),
    )
