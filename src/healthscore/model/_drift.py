"""Drift: does today's data still look like the data the churn model was trained on?

A model trained on last year's customers degrades quietly when usage, pipelines or the
customer mix change. The training artifact keeps a small profile of every feature (quantile
bins, share of missing values) and of the model's own output; `compare_to_profile` bins new
data the same way and reports the population stability index (PSI) per feature, so a stale
model is visible before it misleads.

NaN and infinite values count as missing: they cannot be binned and would not survive JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, model_validator

# Empty bins get this share so that ln(now / train) stays finite.
FLOOR = 1e-4
Status = Literal["stable", "moved", "shifted"]
FloatArray = npt.NDArray[np.float64]
Limits = tuple[float, float, float]  # moved_at, shifted_at, missing_change_at


class FeatureProfile(BaseModel):
    """One feature's training distribution: quantile bins and the share of missing values."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: str
    edges: list[float]
    shares: list[float]
    missing_share: float
    rows: int

    @model_validator(mode="after")
    def _bins_fit(self) -> FeatureProfile:
        # A hand-edited artifact with mismatched bins would give a silently wrong PSI.
        if self.edges != sorted(set(self.edges)):
            raise ValueError(f"{self.name}: edges must be strictly increasing")
        if self.shares and len(self.shares) != len(self.edges) + 1:
            raise ValueError(
                f"{self.name}: {len(self.edges)} edges need {len(self.edges) + 1} shares"
            )
        return self


class Profile(BaseModel):
    """What the training data looked like, stored with the model artifact."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    rows: int
    features: list[FeatureProfile]
    score: FeatureProfile | None


class FeatureDrift(BaseModel):
    """How far one feature (or the score) moved from training, and why that verdict."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: str
    psi: float | None
    missing_share_train: float
    missing_share_now: float
    status: Status
    why: str


class DriftReport(BaseModel):
    """Every feature's drift, worst first, with the thresholds that produced the verdicts."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    rows_train: int
    rows_now: int
    moved_at: float
    shifted_at: float
    missing_change_at: float
    features: list[FeatureDrift]
    score: FeatureDrift | None
    flagged: list[str]


def _as_values(values: npt.ArrayLike, what: str, rows: int) -> FloatArray:
    """Floats with NaN for every missing or non-finite value, one per row."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{what}: numeric values expected ({error})") from error
    if array.shape != (rows,):
        raise ValueError(f"{what}: one value per row ({rows}) expected, got shape {array.shape}")
    return np.where(np.isfinite(array), array, np.nan)


def _current(frame: pd.DataFrame, name: str) -> FloatArray | None:
    """Today's values; None when the column is gone, none at all when the frame is empty."""
    if len(frame) == 0:
        return np.empty(0)
    return _as_values(frame[name], f"feature '{name}'", len(frame)) if name in frame else None


def _shares(present: FloatArray, edges: Sequence[float]) -> list[float]:
    """Share of values per bin, right-closed: v <= edges[0] -> bin 0, v > edges[-1] -> last."""
    if len(present) == 0:
        return []
    index = np.searchsorted(np.asarray(edges, dtype=np.float64), present, side="left")
    counts = np.bincount(index, minlength=len(edges) + 1)
    return [float(count) / len(present) for count in counts]


def _profile(name: str, values: FloatArray, bins: int) -> FeatureProfile:
    present = values[~np.isnan(values)]
    rows = len(values)
    missing = 1.0 - len(present) / rows if rows else 0.0
    edges: list[float] = []
    if len(present):
        quantiles = np.unique(np.quantile(present, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
        # An edge at the maximum would leave the top bin empty in training, so it is
        # dropped; a constant feature thus gets one edge-less bin.
        edges = [float(edge) for edge in quantiles if edge < present.max()]
    shares = _shares(present, edges)
    return FeatureProfile(name=name, edges=edges, shares=shares, missing_share=missing, rows=rows)


def build_profile(
    frame: pd.DataFrame,
    columns: Sequence[str],
    score: npt.ArrayLike | None = None,
    bins: int = 10,
) -> Profile:
    """Profile the training data: up to `bins` quantile bins per feature, and of the score."""
    if bins < 1:
        raise ValueError(f"bins: at least 1, got {bins}")
    features = [
        _profile(name, _as_values(frame[name], f"feature '{name}'", len(frame)), bins)
        for name in columns
    ]
    scored = (
        None if score is None else _profile("score", _as_values(score, "score", len(frame)), bins)
    )
    return Profile(rows=len(frame), features=features, score=scored)


def population_stability_index(train: Sequence[float], now: Sequence[float]) -> float:
    """Sum of (now - train) * ln(now / train): every term is >= 0, so PSI is too."""
    if len(train) != len(now):
        raise ValueError(f"PSI: as many bins on both sides, got {len(train)} and {len(now)}")
    before = np.maximum(np.asarray(train, dtype=np.float64), FLOOR)
    after = np.maximum(np.asarray(now, dtype=np.float64), FLOOR)
    return float(np.sum((after - before) * np.log(after / before)))


def _percent(share: float) -> str:
    return f"{share:.1%}".replace(".0%", "%")


def _drift(train: FeatureProfile, values: FloatArray | None, limits: Limits) -> FeatureDrift:
    """One verdict: PSI of the present values, raised to "moved" by a missing-share jump."""
    moved_at, shifted_at, missing_at = limits
    present = np.empty(0) if values is None else values[~np.isnan(values)]
    now = 1.0 if values is None else 1.0 - len(present) / len(values) if len(values) else 0.0
    change = abs(now - train.missing_share)
    missing = f"missing {_percent(train.missing_share)} -> {_percent(now)}"
    if change >= missing_at:
        missing += f", a change of {change * 100:.0f} points (>= {missing_at * 100:g})"
    psi: float | None = None
    status: Status = "shifted"
    if values is None:
        why = "missing from the current data"
    elif len(values) == 0:
        why = "no rows in the current data: nothing to compare"
    elif not train.shares:
        status, why = "stable", f"no present values in training; {missing}"
    elif len(present) == 0:
        why = f"no present values now; {missing}"
    else:
        psi = population_stability_index(train.shares, _shares(present, train.edges))
        if psi >= shifted_at:
            why = f"PSI {psi:.2f} (>= {shifted_at:g}): the distribution shifted"
        elif psi >= moved_at:
            status, why = "moved", f"PSI {psi:.2f} (>= {moved_at:g}): the distribution moved"
        else:
            status, why = "stable", f"PSI {psi:.2f} (< {moved_at:g}): the distribution is stable"
        if change >= missing_at or train.missing_share or now:
            why += f"; {missing}"
    if status == "stable" and change >= missing_at:
        status = "moved"
    return FeatureDrift(
        name=train.name,
        psi=psi,
        missing_share_train=train.missing_share,
        missing_share_now=now,
        status=status,
        why=why,
    )


def compare_to_profile(
    profile: Profile,
    frame: pd.DataFrame,
    score: npt.ArrayLike | None = None,
    moved_at: float = 0.1,
    shifted_at: float = 0.25,
    missing_change_at: float = 0.1,
) -> DriftReport:
    """Compare `frame` (and the model's `score` on it) with the training profile.

    The score is compared only when both the profile and the call have one.
    """
    if not 0 < moved_at <= shifted_at:
        raise ValueError(f"thresholds: 0 < moved_at <= shifted_at, got {moved_at}, {shifted_at}")
    if missing_change_at <= 0:
        raise ValueError(f"missing_change_at: above 0, got {missing_change_at}")
    limits = (moved_at, shifted_at, missing_change_at)
    features = [_drift(train, _current(frame, train.name), limits) for train in profile.features]
    features.sort(key=lambda drift: (drift.psi is None, -(drift.psi or 0.0)))
    scored = None
    if profile.score is not None and score is not None:
        scored = _drift(profile.score, _as_values(score, "score", len(frame)), limits)
    judged = [*features, *([scored] if scored is not None else [])]
    return DriftReport(
        rows_train=profile.rows,
        rows_now=len(frame),
        moved_at=moved_at,
        shifted_at=shifted_at,
        missing_change_at=missing_change_at,
        features=features,
        score=scored,
        flagged=[drift.name for drift in judged if drift.status != "stable"],
    )
