"""Compare two scorecards (two versions, say) on one history, and on one day's tiers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
from pydantic import BaseModel, ConfigDict, PrivateAttr

from healthscore.compute import Sources, metric_frame, score_frame
from healthscore.evaluation._backtest import run_backtest
from healthscore.evaluation._result import BacktestResult
from healthscore.spec import ResolvedScorecard

NOT_SCORED = "(not scored)"


class TierMove(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    from_tier: str
    to_tier: str
    accounts: int


class Comparison(BaseModel):
    """Two backtests on the same dates, and who would change tier on `as_of`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    as_of: dt.date
    a: BacktestResult
    b: BacktestResult
    scored: int
    changed: int
    moves: list[TierMove]

    _changes: pd.DataFrame | None = PrivateAttr(default=None)

    @property
    def changes(self) -> pd.DataFrame:
        """account_id, from_tier, to_tier, from_score, to_score for every account that moves."""
        if self._changes is None:
            raise ValueError("this comparison was read from JSON; its account list is not kept")
        return self._changes

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)


def tier_changes(
    a: tuple[ResolvedScorecard, Sources], b: tuple[ResolvedScorecard, Sources], as_of: dt.date
) -> pd.DataFrame:
    """Every account scored by either card on `as_of`, with both tiers and scores."""
    frames = []
    for card, sources in (a, b):
        scores = score_frame(card, metric_frame(card, sources, [as_of]))
        frames.append(scores[["account_id", "tier", "score"]])
    both = frames[0].merge(frames[1], on="account_id", how="outer", suffixes=("_a", "_b"))
    return pd.DataFrame(
        {
            "account_id": both["account_id"],
            "from_tier": both["tier_a"].fillna(NOT_SCORED).astype(str),
            "to_tier": both["tier_b"].fillna(NOT_SCORED).astype(str),
            "from_score": both["score_a"],
            "to_score": both["score_b"],
        }
    )


def compare(
    a: tuple[ResolvedScorecard, Sources],
    b: tuple[ResolvedScorecard, Sources],
    dates: Sequence[dt.date],
    as_of: dt.date,
    horizon_days: int | None = None,
) -> Comparison:
    results = [run_backtest(card, sources, dates, horizon_days) for card, sources in (a, b)]
    everyone = tier_changes(a, b, as_of)
    moved = everyone[everyone["from_tier"] != everyone["to_tier"]]
    counts = moved.groupby(["from_tier", "to_tier"], sort=True).size().reset_index(name="n")
    comparison = Comparison(
        as_of=as_of,
        a=results[0],
        b=results[1],
        scored=len(everyone),
        changed=len(moved),
        moves=[
            TierMove(from_tier=str(source), to_tier=str(target), accounts=int(count))
            for source, target, count in zip(
                counts["from_tier"], counts["to_tier"], counts["n"], strict=True
            )
        ],
    )
    comparison._changes = moved.sort_values(["from_tier", "to_tier", "account_id"]).reset_index(
        drop=True
    )
    return comparison
