"""The training report: forward-in-time folds, held-out numbers against the rules score,
calibration, and score distributions by attribute (the bias check)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

PROBABILITY_BANDS = 10


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FoldResult(_Model):
    train_until: dt.date
    test_from: dt.date
    test_until: dt.date
    train_observations: int
    test_observations: int
    test_churned: int
    auc: float | None


class ProbabilityBand(_Model):
    """Observations grouped by predicted churn probability: predicted against observed."""

    low: float
    high: float
    observations: int
    predicted: float
    observed: float


class HeldOut(_Model):
    """The last dates, predicted by models that saw only earlier dates."""

    dates: list[dt.date]
    observations: int
    churned: int
    auc: float | None
    top_decile_lift: float | None
    brier: float | None
    log_loss: float | None
    rules_auc: float | None = Field(description="The scorecard's rules score, same rows.")
    rules_top_decile_lift: float | None
    calibration: list[ProbabilityBand]


class BiasRow(_Model):
    """One value (or range) of an attribute: who is in it and how the model treats them."""

    attribute: str
    value: str
    observations: int
    churn_rate: float
    mean_probability: float
    mean_rules_score: float | None


class TrainingReport(_Model):
    scorecard_name: str
    scorecard_version: str
    scorecard_hash: str
    kind: str
    outcome: str
    horizon_days: int
    dates: list[dt.date]
    observations: int
    churned: int
    censored: int
    features: list[str]
    dropped: list[dict[str, str]]
    excluded_sensitive: list[str]
    calibration: str
    calibration_log_loss: dict[str, float]
    folds: list[FoldResult]
    held_out: HeldOut
    bias: list[BiasRow]
    path: str

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)


def probability_bands(churned: np.ndarray, probability: np.ndarray) -> list[ProbabilityBand]:
    """Deciles of predicted probability (fewer when values repeat)."""
    if len(churned) == 0:
        return []
    order = np.argsort(probability, kind="stable")
    bands = []
    for part in np.array_split(order, min(PROBABILITY_BANDS, len(order))):
        if len(part) == 0:
            continue
        bands.append(
            ProbabilityBand(
                low=round(float(probability[part].min()), 6),
                high=round(float(probability[part].max()), 6),
                observations=len(part),
                predicted=round(float(probability[part].mean()), 6),
                observed=round(float(churned[part].mean()), 6),
            )
        )
    return bands


def bias_rows(
    name: str, column: pd.Series, labelled: pd.DataFrame, probability: np.ndarray
) -> list[BiasRow]:
    """Per category (or per quartile of a number): churn, mean probability, mean score."""
    if pd.api.types.is_numeric_dtype(column) and column.nunique() > 8:
        groups = pd.qcut(column, 4, duplicates="drop").astype("string")
    else:
        groups = column.astype("string")
    groups = groups.fillna("(missing)")
    rows = []
    churned = labelled["churned"].to_numpy(dtype=bool)
    scores = labelled["score"].to_numpy(dtype=np.float64) if "score" in labelled else None
    for value in sorted(groups.unique()):
        inside = (groups == value).to_numpy(dtype=bool)
        rows.append(
            BiasRow(
                attribute=name,
                value=str(value),
                observations=int(inside.sum()),
                churn_rate=round(float(churned[inside].mean()), 6),
                mean_probability=round(float(probability[inside].mean()), 6),
                mean_rules_score=None if scores is None else round(float(scores[inside].mean()), 2),
            )
        )
    return rows
