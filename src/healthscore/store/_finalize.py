"""From computed scores to the stored ones: tier hysteresis, manual overrides, trend.

Order matters and is fixed: hysteresis smooths the computed tier, an override (a
person's decision) then wins over both, and the trend is measured on the final score,
the number people see.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from healthscore.core import assign_tiers
from healthscore.spec._playbook_types import HysteresisSpec
from healthscore.spec._resolved import TierSpec

# A move of less than this many points over the trend window reads as flat.
FLAT_POINTS = 2.0
TREND_DAYS = (7, 30)


def apply_hysteresis(
    scores: pd.DataFrame,
    recent: pd.DataFrame,
    tiers: Sequence[TierSpec],
    rule: HysteresisSpec,
) -> pd.Series:
    """The tier of each row once moves to a better tier must clear the rule.

    `recent` holds the account's earlier stored rows (account_id, as_of, tier,
    computed_tier), newest last. Moving down is never delayed: risk shows at once.
    """
    computed = scores["tier"].astype(str)
    if (rule.margin <= 0 and rule.runs <= 1) or recent.empty:
        return computed
    rank = {tier.name: i for i, tier in enumerate(tiers)}
    ordered = recent.sort_values(["account_id", "as_of"], kind="stable")
    # An override's tier was a person's call, not the score's: once it ends, hysteresis
    # starts from the tier the score itself had.
    overridden = (
        ordered["override_id"].notna()
        if "override_id" in ordered
        else pd.Series(False, index=ordered.index)
    )
    ordered = ordered.assign(tier=ordered["tier"].where(~overridden, ordered["computed_tier"]))
    previous = ordered.groupby("account_id")["tier"].last()
    prev_tier = scores["account_id"].map(previous)
    prev_rank = prev_tier.map(rank)
    new_rank = computed.map(rank)
    upgrade = prev_rank.notna() & (new_rank < prev_rank)
    if not upgrade.any():
        return computed
    # Each rule that is set opens a way up; with both set, whichever comes first wins.
    allowed = prev_rank.to_numpy(dtype=float)
    if rule.margin > 0:
        # The best tier the score clears by the margin, never better than computed.
        with_margin = pd.Series(
            assign_tiers(scores["score"].to_numpy(dtype=float) - rule.margin, tiers), scores.index
        ).map(rank)
        allowed = np.minimum(allowed, np.maximum(with_margin, new_rank))
    if rule.runs > 1:
        # The worst computed tier over this run and the runs - 1 before it.
        earlier = ordered.groupby("account_id").tail(rule.runs - 1)
        counts = earlier.groupby("account_id").size()
        ranks = earlier.assign(r=earlier["computed_tier"].map(rank))
        worst_earlier = ranks.groupby("account_id")["r"].max()
        enough = scores["account_id"].map(counts).fillna(0) >= rule.runs - 1
        sustained = np.maximum(new_rank, scores["account_id"].map(worst_earlier))
        allowed = np.where(enough, np.minimum(allowed, sustained), allowed)
    final_rank = np.where(upgrade, np.minimum(prev_rank, allowed), new_rank).astype(int)
    names = np.array([tier.name for tier in tiers], dtype=object)
    return pd.Series(names[final_rank], index=scores.index, dtype=object)


def apply_overrides(
    scores: pd.DataFrame, overrides: pd.DataFrame, tiers: Sequence[TierSpec]
) -> pd.DataFrame:
    """Rows with an active override take its score and/or tier and carry its id.

    A score alone sets the tier that score earns; a tier alone keeps the computed score.
    """
    out = scores.copy()
    out["override_id"] = pd.Series(None, index=out.index, dtype=object)
    if overrides.empty:
        return out
    # Overrides are a handful of hand-made rows: a loop reads better than a merge.
    position = {account: index for index, account in out["account_id"].items()}
    for row in overrides.sort_values("created_at").to_dict("records"):
        at = position.get(row["account_id"])
        if at is None:
            continue
        given = row["tier"] if isinstance(row["tier"], str) else None
        if pd.notna(row["score"]):
            score = float(row["score"])
            out.loc[at, "score"] = score
            out.loc[at, "tier"] = given or assign_tiers(np.array([score]), tiers)[0]
        elif given is not None:
            out.loc[at, "tier"] = given
        out.loc[at, "override_id"] = row["override_id"]
    return out


def add_trend(scores: pd.DataFrame, recent: pd.DataFrame) -> pd.DataFrame:
    """Change of the score over 7 and 30 days, and its direction.

    The reference is the latest stored score between 2x and 1x the window before as_of,
    so a stale run is never passed off as last week's.
    """
    out = scores.copy()
    as_of = pd.to_datetime(out["as_of"].astype("datetime64[us]"))
    past = recent.assign(as_of=pd.to_datetime(recent["as_of"]).astype("datetime64[us]"))
    for days in TREND_DAYS:
        column = f"trend_{days}d"
        if past.empty:
            out[column] = np.nan
            continue
        target = pd.DataFrame(
            {"account_id": out["account_id"], "at": as_of - pd.Timedelta(days=days)}
        ).reset_index()
        reference = pd.merge_asof(
            target.sort_values("at"),
            past[["account_id", "as_of", "score"]].sort_values("as_of"),
            left_on="at",
            right_on="as_of",
            by="account_id",
            direction="backward",
            tolerance=pd.Timedelta(days=days),
        ).set_index("index")
        out[column] = np.round(out["score"] - reference["score"].reindex(out.index), 2)
    change = out["trend_30d"].fillna(out["trend_7d"])
    direction = pd.Series(None, index=out.index, dtype=object)
    direction[change.notna()] = "flat"
    direction[change >= FLAT_POINTS] = "up"
    direction[change <= -FLAT_POINTS] = "down"
    out["direction"] = direction
    return out


def finalize(
    scores: pd.DataFrame,
    recent: pd.DataFrame,
    overrides: pd.DataFrame,
    tiers: Sequence[TierSpec],
    rule: HysteresisSpec,
) -> pd.DataFrame:
    """Computed scores -> stored scores (see the module docstring for the order)."""
    out = scores.copy()
    out["computed_score"] = out["score"]
    out["computed_tier"] = out["tier"]
    out["tier"] = apply_hysteresis(out, recent, tiers, rule)
    out = apply_overrides(out, overrides, tiers)
    return add_trend(out, recent)
