"""Reasons from a churn model's contributions, and value and revenue at risk per account.

A model explains itself in churn log-odds; a reason's `impact` is in score points like
every other reason's, by the local slope of score = 100 x (1 - p): a contribution c to
the log-odds moves the score by about -c x 100 x p x (1 - p). The text carries the exact
log-odds contribution and the feature's value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from healthscore.compute._model_output import ModelOutput
from healthscore.compute._reason_text import ReasonSource, ReasonTable, measure_reasons
from healthscore.core import pick_reasons
from healthscore.spec._resolved import ResolvedScorecard

VALUE_TIERS = (("high", 0.8), ("medium", 0.5))  # top 20%, next 30%, the rest low
TEMPLATE = "{label}: {shown} ({contribution:+.2f} to churn log-odds)"


def model_reasons(
    scorecard: ResolvedScorecard, output: ModelOutput, mask: NDArray[np.bool_]
) -> ReasonTable:
    probability = output.probability[mask]
    contributions = output.contributions[mask]
    zero_at = scorecard.model.zero_score_at if scorecard.model else 1.0
    slope = 100.0 * probability * (1.0 - probability) / zero_at
    impacts = -contributions * slope[:, None]
    picks = pick_reasons(impacts, scorecard.max_drags, scorecard.max_lifts)
    values = output.values[mask]
    # Shown to two decimals: rounding first leaves far fewer distinct numbers to format.
    shown = np.round(contributions, 2)
    sources = [
        ReasonSource(
            code=f"model.{name}",
            label=label,
            template=TEMPLATE,
            fields={"value": values[:, index], "contribution": shown[:, index]},
            observed=~np.isnan(values[:, index]),
        )
        for index, (name, label) in enumerate(zip(output.names, output.labels, strict=True))
    ]
    return measure_reasons(picks, sources, np.flatnonzero(mask).astype(np.int64))


def add_value(
    out: pd.DataFrame, value: NDArray[np.float64], probability: NDArray[np.float64]
) -> None:
    """value, revenue_at_risk (= churn probability x value) and value_tier columns."""
    out["value"] = value
    out["revenue_at_risk"] = np.round(probability * value, 2)
    tier = np.full(len(out), "unknown", dtype=object)
    dates = pd.to_datetime(pd.Series(out["as_of"]).astype("string"))
    for day in dates.unique():
        on = (dates == day).to_numpy() & ~np.isnan(value)
        if not on.any():
            continue
        # Ranked within each date: the top fifth of value is high, the next 30% medium.
        rank = pd.Series(value[on]).rank(pct=True, method="average").to_numpy()
        names = np.where(
            rank > VALUE_TIERS[0][1], "high", np.where(rank > VALUE_TIERS[1][1], "medium", "low")
        )
        tier[on] = names
    out["value_tier"] = tier


def risk_value_quadrants(scores: pd.DataFrame, risk_at: float | None = None) -> pd.DataFrame:
    """Accounts, value and revenue at risk in four cells: high/low risk x high/low value.

    High risk: churn probability at or above `risk_at` (default: twice the mean, the
    accounts at least twice as likely to leave as the average one). High value: the
    `high` value tier (the top fifth by value). Save-first is high risk, high value.
    """
    missing = {"churn_probability", "value", "value_tier"} - set(scores.columns)
    if missing:
        raise ValueError(
            f"risk by value needs {', '.join(sorted(missing))}: score with a model and `value:`"
        )
    probability = scores["churn_probability"].to_numpy(dtype=np.float64)
    threshold = 2 * float(np.nanmean(probability)) if risk_at is None else risk_at
    risk = np.where(probability >= threshold, "high risk", "low risk")
    value = np.where(scores["value_tier"].to_numpy() == "high", "high value", "other value")
    frame = pd.DataFrame(
        {
            "risk": risk,
            "value_band": value,
            "value": scores["value"].to_numpy(dtype=np.float64),
            "revenue_at_risk": scores["revenue_at_risk"].to_numpy(dtype=np.float64),
        }
    )
    cells = frame.groupby(["risk", "value_band"], sort=True).agg(
        accounts=("value", "size"),
        value=("value", "sum"),
        revenue_at_risk=("revenue_at_risk", "sum"),
    )
    full = pd.MultiIndex.from_product([["high risk", "low risk"], ["high value", "other value"]])
    table = cells.reindex(full, fill_value=0).rename_axis(["risk", "value_band"]).reset_index()
    table["risk_threshold"] = round(threshold, 6)
    return table
