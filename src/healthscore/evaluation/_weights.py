"""Suggest measure weights from evidence: a regularized logistic regression on sub-scores.

The score is 50 + sum of effective weight x (sub-score - 50), so a logistic regression
of churn on (sub-score - 50) / 50 gives, per measure, how much a point of that
sub-score moves the log-odds of churn. A measure's suggested weight is minus its
coefficient (better sub-score, less churn): with group weights set to the sum of their
measures', effective weights are then proportional to the fitted coefficients. A
measure whose coefficient says "better sub-score, more churn" is given weight 0 and the
model is fitted again without it; every such measure is listed with the reason.

Validation is time-ordered: the regularization strength is chosen on folds that train
on earlier dates and test on later ones, and the before/after comparison scores the
last dates with weights fitted only on the dates before them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from healthscore.compute import score_frame
from healthscore.evaluation._rewrite import bump_version, rewrite_weights
from healthscore.evaluation._stats import (
    auc,
    lift_curve,
    tier_order_failures,
    tier_rows,
    top_decile_lift,
)
from healthscore.spec import ResolvedScorecard, load_scorecard_text

STRENGTHS = (0.01, 0.1, 1.0, 10.0)
WEIGHT_TOTAL = 100.0


class SuggestError(ValueError):
    """No weights can be suggested (too few dates or churners, no predictive measure)."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Headline(_Model):
    observations: int
    churned: int
    auc: float | None
    top_decile_lift: float | None
    tier_order_failures: int


class DroppedMeasure(_Model):
    measure: str
    reason: str


class WeightSuggestion(_Model):
    scorecard_name: str
    old_version: str
    new_version: str
    observations: int
    churned: int
    strength: float
    train_dates: list[dt.date]
    test_dates: list[dt.date]
    before: Headline
    after: Headline
    weights: dict[str, float]
    coefficients: dict[str, float]
    dropped: list[DroppedMeasure]
    scorecard_text: str


def headline(scorecard: ResolvedScorecard, frame: pd.DataFrame, churned: np.ndarray) -> Headline:
    score = frame["score"].to_numpy(dtype=np.float64)
    worst_first = [tier.name for tier in reversed(scorecard.tiers)]
    tiers = tier_rows(frame["tier"].to_numpy(), churned, worst_first)
    value = auc(churned, score)
    return Headline(
        observations=len(frame),
        churned=int(churned.sum()),
        auc=None if value is None else round(value, 4),
        top_decile_lift=top_decile_lift(lift_curve(churned, score)),
        tier_order_failures=tier_order_failures(tiers),
    )


def _features(frame: pd.DataFrame, codes: Sequence[str]) -> np.ndarray:
    columns = [frame[f"measure.{code}"].to_numpy(dtype=np.float64) for code in codes]
    # No data scores neutral: it moves the score neither way.
    values: np.ndarray = np.nan_to_num(np.column_stack(columns), nan=50.0)
    return (values - 50.0) / 50.0


def _fit(
    x: np.ndarray, y: np.ndarray, codes: list[str], strength: float
) -> tuple[dict[str, float], dict[str, float], list[DroppedMeasure]]:
    """Coefficients with every kept one pointing the right way; dropped measures with why."""
    keep = list(range(len(codes)))
    dropped: list[DroppedMeasure] = []
    coefficients: dict[str, float] = {}
    while keep:
        model = LogisticRegression(C=strength, max_iter=2000)
        model.fit(x[:, keep], y)
        fitted = dict(zip([codes[i] for i in keep], model.coef_[0], strict=True))
        coefficients.update({code: round(float(value), 4) for code, value in fitted.items()})
        wrong = [i for i in keep if fitted[codes[i]] >= 0]
        if not wrong:
            break
        for index in wrong:
            dropped.append(
                DroppedMeasure(
                    measure=codes[index],
                    reason=f"a better sub-score went with more churn, or no less, with the "
                    f"others in the model (coefficient {fitted[codes[index]]:+.3f})",
                )
            )
        keep = [i for i in keep if i not in wrong]
    raw = {codes[i]: -coefficients[codes[i]] for i in keep}
    total = sum(raw.values())
    weights = {code: round(WEIGHT_TOTAL * value / total, 2) for code, value in raw.items()}
    weights.update({item.measure: 0.0 for item in dropped})
    return weights, coefficients, dropped


def _choose_strength(x: np.ndarray, y: np.ndarray, dates: np.ndarray) -> float:
    """The regularization with the lowest held-out log-loss over time-ordered folds."""
    unique = np.unique(dates)
    cuts = [len(unique) * k // 4 for k in (2, 3)]
    losses = dict.fromkeys(STRENGTHS, 0.0)
    for cut in cuts:
        train, test = dates < unique[cut], dates >= unique[cut]
        if len(np.unique(y[train])) < 2 or not test.any():
            continue
        for strength in STRENGTHS:
            model = LogisticRegression(C=strength, max_iter=2000).fit(x[train], y[train])
            losses[strength] += log_loss(y[test], model.predict_proba(x[test])[:, 1], labels=[0, 1])
    return min(STRENGTHS, key=lambda s: (losses[s], -s))


def suggest_weights(
    scorecard: ResolvedScorecard,
    text: str,
    frame: pd.DataFrame,
    version: str | None = None,
    test_share: float = 0.25,
) -> WeightSuggestion:
    """Fit weights on labelled observations (from `observations`) and rewrite `text`."""
    labelled = frame[frame["eligible"] & ~frame["censored"]].reset_index(drop=True)
    y = labelled["churned"].to_numpy(dtype=bool)
    dates = labelled["as_of"].to_numpy()
    unique = np.unique(dates)
    if len(unique) < 3:
        raise SuggestError(
            f"weights need at least 3 observation dates with known outcomes, to train on "
            f"earlier ones and test on later ones; got {len(unique)}"
        )
    cut = unique[max(1, round(len(unique) * (1 - test_share)))]
    train, test = dates < cut, dates >= cut
    for name, part in (("training", train), ("held-out", test)):
        if len(np.unique(y[part])) < 2:
            raise SuggestError(f"the {name} dates need churners and non-churners alike")
    codes = [m.code for m in scorecard.measures]
    dropped_empty = [
        DroppedMeasure(measure=code, reason="no observation had data for it")
        for code in codes
        if labelled[f"measure.{code}"].isna().all()
    ]
    usable = [code for code in codes if code not in {d.measure for d in dropped_empty}]
    x = _features(labelled, usable)
    strength = _choose_strength(x[train], y[train], dates[train])
    new_version = version or bump_version(scorecard.version)

    def card_for(weights: dict[str, float], header: list[str]) -> tuple[str, ResolvedScorecard]:
        full = {**weights, **{d.measure: 0.0 for d in dropped_empty}}
        written = rewrite_weights(text, full, new_version, header)
        return written, load_scorecard_text(written, scorecard.file)

    held_weights, _, _ = _fit(x[train], y[train], usable, strength)
    if not any(held_weights.values()):
        raise SuggestError("no measure's sub-score lowered churn on the training dates")
    _, held_card = card_for(held_weights, [])
    test_rows = labelled[test].reset_index(drop=True)
    before = headline(scorecard, test_rows, y[test])
    after = headline(held_card, score_frame(held_card, test_rows, reasons=False), y[test])
    weights, coefficients, dropped = _fit(x, y, usable, strength)
    header = _header(scorecard, labelled, strength, before, after, [*dropped_empty, *dropped])
    written, _ = card_for(weights, header)
    day = pd.to_datetime(pd.Series(unique)).dt.date
    return WeightSuggestion(
        scorecard_name=scorecard.name,
        old_version=scorecard.version,
        new_version=new_version,
        observations=len(labelled),
        churned=int(y.sum()),
        strength=strength,
        train_dates=[d for d in day if d < pd.Timestamp(cut).date()],
        test_dates=[d for d in day if d >= pd.Timestamp(cut).date()],
        before=before,
        after=after,
        weights=weights,
        coefficients=coefficients,
        dropped=[*dropped_empty, *dropped],
        scorecard_text=written,
    )


def _header(
    scorecard: ResolvedScorecard,
    labelled: pd.DataFrame,
    strength: float,
    before: Headline,
    after: Headline,
    dropped: list[DroppedMeasure],
) -> list[str]:
    first, last = labelled["as_of"].min().date(), labelled["as_of"].max().date()
    lines = [
        f"Weights suggested by `healthscore suggest-weights` from {scorecard.name} "
        f"{scorecard.version} ({scorecard.hash}):",
        f"{len(labelled):,} observations {first}..{last}, "
        f"{int(labelled['churned'].sum()):,} churned; logistic regression on sub-scores,",
        f"C={strength:g} chosen on time-ordered folds.",
        "On held-out later dates, with weights fitted on the earlier ones:",
        f"  AUC {before.auc} -> {after.auc}, top-decile lift {before.top_decile_lift} -> "
        f"{after.top_decile_lift},",
        f"  tier order failures {before.tier_order_failures} -> {after.tier_order_failures}.",
    ]
    for item in dropped:
        lines += [f"Weight 0: {item.measure}:", f"  {item.reason}."]
    return [*lines, ""]
