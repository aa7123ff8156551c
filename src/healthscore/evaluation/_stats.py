"""The numbers a backtest reports, each from plain arrays.

Risk is "lower score = riskier" throughout. Ties in score are treated as a random
order would be, in expectation: a lift at 10% that cuts through a block of equal scores
takes that block's average churn rate, never a lucky ordering.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_curve

from healthscore.evaluation._result import (
    BandRow,
    Calibration,
    CohortRow,
    Interval,
    LiftPoint,
    RocPoint,
    TierRow,
)

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
LIFT_SHARES = tuple(round(step / 100, 2) for step in range(1, 101))
BAND_EDGES = tuple(float(edge) for edge in range(0, 101, 10))


def rate(churned: int, observations: int) -> float | None:
    return churned / observations if observations else None


def auc(churned: BoolArray, score: FloatArray) -> float | None:
    """P(a random churner scores below a random non-churner), ties counting half."""
    if churned.all() or not churned.any():
        return None
    return _weighted_auc(dense_rank(score)[1], churned, np.ones(len(churned)))


def dense_rank(values: FloatArray) -> tuple[FloatArray, NDArray[np.intp]]:
    """`np.unique(values, return_inverse=True)`, by hashing: the distinct values, sorted
    (NaN last), and each value's number among them. Sorting 800k observations per AUC was
    most of a backtest's summary; scores take few distinct values, so only those are sorted.
    """
    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    distinct = np.asarray(distinct, dtype=np.float64)
    order = np.argsort(distinct, kind="stable")
    number = np.empty(len(order), dtype=np.intp)
    number[order] = np.arange(len(order))
    return distinct[order], number[codes]


def _weighted_auc(rank: NDArray[np.intp], churned: BoolArray, weight: FloatArray) -> float | None:
    """AUC with a weight per observation, from counts per distinct score (no sorting).

    `rank` numbers the distinct scores in ascending order. A churner at a score beats
    every non-churner scored higher and ties with those at the same score.
    """
    size = int(rank.max(initial=-1)) + 1
    churn = np.bincount(rank, weights=weight * churned, minlength=size)
    stay = np.bincount(rank, weights=weight * ~churned, minlength=size)
    churners, stayers = churn.sum(), stay.sum()
    if churners == 0 or stayers == 0:
        return None
    stay_above = stayers - np.cumsum(stay)
    return float((churn * (stay_above + 0.5 * stay)).sum() / (churners * stayers))


def auc_interval(
    churned: BoolArray,
    score: FloatArray,
    groups: NDArray[Any] | None = None,
    resamples: int = 200,
    seed: int = 0,
) -> Interval | None:
    """Bootstrap 95% interval of the AUC, seeded.

    With `groups` (account ids), whole accounts are resampled with all their
    observations: one account seen on twelve dates is one piece of evidence, not twelve,
    so the interval is not made narrower by repetition. A resample is a count per
    account (how often it was drawn), so each costs two weighted counts, not a sort.
    """
    if churned.all() or not churned.any():
        return None
    keys = np.arange(len(churned)) if groups is None else groups
    # Numbered in sorted order: the same interval whatever the order of the rows.
    members = pd.factorize(keys, sort=True, use_na_sentinel=False)[0]
    rank = dense_rank(score)[1]
    accounts = int(members.max()) + 1
    generator = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        drawn = np.bincount(generator.integers(0, accounts, accounts), minlength=accounts)
        value = _weighted_auc(rank, churned, drawn[members].astype(np.float64))
        if value is not None:
            values.append(value)
    low, high = np.percentile(values, [2.5, 97.5])
    return Interval(low=round(float(low), 4), high=round(float(high), 4))


def roc(churned: BoolArray, score: FloatArray) -> list[RocPoint]:
    """True-positive rate at 101 evenly spaced false-positive rates (interpolated)."""
    if churned.all() or not churned.any():
        return []
    fpr, tpr, _ = roc_curve(churned, -score)
    grid = np.linspace(0.0, 1.0, 101)
    return [
        RocPoint(false_positive_rate=round(float(x), 2), true_positive_rate=round(float(y), 4))
        for x, y in zip(grid, np.interp(grid, fpr, tpr), strict=True)
    ]


def lift_curve(churned: BoolArray, score: FloatArray) -> list[LiftPoint]:
    """Captured churners and lift at each percent of observations, riskiest first."""
    total = len(churned)
    positives = int(churned.sum())
    if total == 0 or positives == 0:
        return []
    values, inverse = dense_rank(score)
    sizes = np.bincount(inverse, minlength=len(values)).astype(np.float64)
    hits = np.bincount(inverse, weights=churned.astype(np.float64), minlength=len(values))
    # Rows and churners up to the end of each block of equal scores, lowest score first.
    rows_end = np.concatenate([[0.0], np.cumsum(sizes)])
    hits_end = np.concatenate([[0.0], np.cumsum(hits)])
    points = []
    for share in LIFT_SHARES:
        wanted = share * total
        captured_hits = float(np.interp(wanted, rows_end, hits_end))
        captured = captured_hits / positives
        points.append(
            LiftPoint(share=share, captured=round(captured, 4), lift=round(captured / share, 4))
        )
    return points


def top_decile_lift(curve: Sequence[LiftPoint]) -> float | None:
    return next((point.lift for point in curve if point.share == 0.1), None)


def tier_rows(tiers: NDArray[Any], churned: BoolArray, worst_first: Sequence[str]) -> list[TierRow]:
    rows = []
    for tier in worst_first:
        inside = tiers == tier
        count = int(inside.sum())
        hits = int(churned[inside].sum())
        churn = rate(hits, count)
        rows.append(
            TierRow(
                tier=tier,
                observations=count,
                churned=hits,
                churn_rate=None if churn is None else round(churn, 6),
            )
        )
    return rows


def tier_order_failures(rows: Sequence[TierRow]) -> int:
    """Adjacent tiers (worst to best, empty tiers skipped) whose churn rate does not fall."""
    rates = [row.churn_rate for row in rows if row.churn_rate is not None]
    return sum(1 for worse, better in pairwise(rates) if better >= worse)


def calibration(churned: BoolArray, score: FloatArray) -> Calibration:
    """Observed churn per 10-point band and an isotonic (monotone, falling) fit."""
    if len(churned) == 0:
        return Calibration(bands=[], scores=[], probabilities=[])
    fit = IsotonicRegression(increasing=False, out_of_bounds="clip", y_min=0.0, y_max=1.0)
    predicted = fit.fit_transform(score, churned.astype(np.float64))
    band = np.clip(np.floor(score / 10.0), 0, 9).astype(np.int64)
    bands = []
    for index in range(10):
        inside = band == index
        count = int(inside.sum())
        hits = int(churned[inside].sum())
        churn = rate(hits, count)
        bands.append(
            BandRow(
                low=BAND_EDGES[index],
                high=BAND_EDGES[index + 1],
                observations=count,
                churned=hits,
                churn_rate=None if churn is None else round(churn, 6),
                predicted=round(float(predicted[inside].mean()), 6) if count else None,
            )
        )
    return Calibration(
        bands=bands,
        scores=[round(float(x), 4) for x in fit.X_thresholds_],
        probabilities=[round(float(y), 6) for y in fit.y_thresholds_],
    )


def histogram(score: FloatArray) -> list[int]:
    band = np.clip(np.floor(score / 10.0), 0, 9).astype(np.int64)
    return [int(count) for count in np.bincount(band, minlength=10)]


def cohorts(values: FloatArray, churned: BoolArray, count: int = 10) -> list[CohortRow]:
    """Churn rate per decile of a metric (fewer bins when values repeat), missing apart.

    A metric with at most `count` distinct values (failed payments: 0, 1, 2, 3) gets one
    cohort per value, so a mass of zeros is never merged with the values above it.
    """
    rows = []
    present = ~np.isnan(values)
    distinct = np.unique(values[present])
    if 0 < len(distinct) <= count:
        hits = churned[present]
        for value in distinct:
            inside = values[present] == value
            rows.append(
                CohortRow(
                    label=_short(float(value)),
                    low=float(value),
                    high=float(value),
                    observations=int(inside.sum()),
                    churn_rate=round(float(hits[inside].mean()), 6),
                )
            )
    elif present.any():
        edges = np.unique(np.quantile(values[present], np.linspace(0, 1, count + 1)))
        if len(edges) == 1:
            edges = np.array([edges[0], edges[0]])
        # Right-closed bins, the lowest including its edge: each value in exactly one.
        position = np.clip(np.searchsorted(edges, values[present], side="left") - 1, 0, None)
        position = np.minimum(position, len(edges) - 2)
        hits = churned[present]
        for index in range(len(edges) - 1):
            inside = position == index
            number = int(inside.sum())
            if number == 0:
                continue
            low, high = float(edges[index]), float(edges[index + 1])
            rows.append(
                CohortRow(
                    label=f"{_short(low)} to {_short(high)}",
                    low=low,
                    high=high,
                    observations=number,
                    churn_rate=round(float(hits[inside].mean()), 6),
                )
            )
    missing = int((~present).sum())
    if missing:
        rows.append(
            CohortRow(
                label="missing",
                low=None,
                high=None,
                observations=missing,
                churn_rate=round(float(churned[~present].mean()), 6),
            )
        )
    return rows


def _short(value: float) -> str:
    return f"{value:.3g}"
