"""The backtest result: typed, the same fields in Python and in the JSON file.

A number that cannot be computed (AUC with no churners, a lift with no observations) is
None, and `warnings` says why; nothing here is ever NaN.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Interval(_Model):
    low: float
    high: float


class LiftPoint(_Model):
    share: float = Field(description="Share of observations, riskiest (lowest score) first.")
    captured: float = Field(description="Share of all churners among them.")
    lift: float = Field(description="Their churn rate over the overall churn rate.")


class RocPoint(_Model):
    false_positive_rate: float = Field(description="Share of non-churners flagged...")
    true_positive_rate: float = Field(description="...and share of churners flagged.")


class TierRow(_Model):
    tier: str
    observations: int
    churned: int
    churn_rate: float | None


class BandRow(_Model):
    low: float
    high: float
    observations: int
    churned: int
    churn_rate: float | None
    predicted: float | None = Field(description="Mean calibrated churn probability in the band.")


class Calibration(_Model):
    """Observed churn by score band, and a monotone map from score to churn probability."""

    bands: list[BandRow]
    scores: list[float] = Field(description="Isotonic fit: score points (ascending)...")
    probabilities: list[float] = Field(description="...and churn probability at each point.")

    def churn_probability(self, score: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Churn probability for scores, interpolated along the fitted monotone map."""
        values = np.asarray(score, dtype=np.float64)
        if not self.scores:
            return np.full(values.shape, np.nan)
        return np.interp(values, self.scores, self.probabilities)


class LeadTime(_Model):
    churners: int = Field(description="Accounts that churned inside the backtest.")
    flagged: int = Field(description="...of which were in the worst tier before churning.")
    never_flagged_share: float | None
    median_days: float | None
    days: list[int] = Field(description="Days from entering the worst tier to churn, per churner.")


class CohortRow(_Model):
    label: str
    low: float | None
    high: float | None
    observations: int
    churn_rate: float | None


class ComponentEvidence(_Model):
    """A measure (or group): how well its sub-score alone ranks churn."""

    name: str
    kind: str = Field(description="'measure' or 'group'.")
    metric: str | None = None
    observations: int = Field(description="Observations where the component had a value.")
    auc: float | None
    cohorts: list[CohortRow] = Field(
        default_factory=list, description="Churn rate by decile of the underlying metric."
    )


class GateEvidence(_Model):
    """A gate: how often it fired, and churn when it did against when it did not."""

    name: str
    fired: int
    churned_when_fired: int
    churn_rate_fired: float | None
    churn_rate_not_fired: float | None


class SliceEvidence(_Model):
    """The headline numbers inside one segment or lifecycle stage."""

    name: str
    observations: int
    churned: int
    churn_rate: float | None
    auc: float | None
    top_decile_lift: float | None
    tiers: list[TierRow]
    tier_order_failures: int


class DateRow(_Model):
    as_of: dt.date
    observations: int
    churned: int
    censored: int
    churn_rate: float | None
    mean_score: float | None
    tiers: dict[str, int]
    histogram: list[int] = Field(description="Observations per score band 0-10 ... 90-100.")


class BacktestResult(_Model):
    """Everything a backtest measured; see docs/evidence.md for how to read each number."""

    scorecard_name: str
    scorecard_version: str
    scorecard_hash: str
    outcome: str
    horizon_days: int
    dates: list[dt.date]
    data_until: dt.date = Field(description="The day after the data's last day.")
    observations: int = Field(description="Labelled observations (eligible, not censored).")
    churned: int
    censored: int = Field(description="Left out: the horizon reaches past the data's end.")
    ineligible: int = Field(description="Left out: already churned or not yet a customer.")
    churn_rate: float | None
    auc: float | None = Field(description="P(a churner scores below a non-churner).")
    auc_interval: Interval | None = Field(description="Bootstrap 95% interval of the AUC.")
    top_decile_lift: float | None
    lift_curve: list[LiftPoint]
    roc: list[RocPoint] = Field(
        default_factory=list, description="ROC curve at 101 false-positive rates, 0 to 1."
    )
    tiers: list[TierRow] = Field(description="Worst tier first.")
    tier_order_failures: int = Field(
        description="Adjacent tiers whose churn rate does not fall from worse to better; 0 = ok."
    )
    calibration: Calibration
    lead_time: LeadTime | None
    measures: list[ComponentEvidence]
    groups: list[ComponentEvidence]
    gates: list[GateEvidence] = Field(default_factory=list)
    segments: list[SliceEvidence]
    stages: list[SliceEvidence]
    by_date: list[DateRow]
    warnings: list[str]

    _observations: pd.DataFrame | None = PrivateAttr(default=None)

    @property
    def observation_frame(self) -> pd.DataFrame:
        """Every labelled observation: scores, tiers, sub-scores, metrics and the label."""
        if self._observations is None:
            raise ValueError("this result was read from JSON; its observations are not kept")
        return self._observations

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)
