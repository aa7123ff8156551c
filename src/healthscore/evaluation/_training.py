"""Train a churn model on backtest observations, validated forward in time.

The observations are the backtest's: every account in the population at every date, its
metrics as of that date (the point-in-time engine: no feature sees a row stamped on or
after its date), labelled by the scorecard's outcome, censored ones left out. Dates are
split into consecutive blocks; each block is predicted by a model fitted only on the
blocks before it, minus any observation whose horizon reaches into the block (its label
would come from the test period). Those out-of-time predictions choose the calibration
(isotonic or Platt, by log-loss on the last block, calibrators fitted on the earlier
ones) and give the held-out report. The saved model is then fitted on every date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, log_loss

from healthscore.compute import Sources
from healthscore.evaluation._backtest import (
    ACCOUNT_PREFIX,
    BacktestError,
    Progress,
    observations,
    resolve_outcome,
)
from healthscore.evaluation._stats import auc, lift_curve, top_decile_lift
from healthscore.evaluation._training_report import (
    BiasRow,
    FoldResult,
    HeldOut,
    TrainingReport,
    bias_rows,
    probability_bands,
)
from healthscore.model import (
    ChurnModel,
    feature_matrix,
    fit_calibrator,
    learn_features,
    save_model,
)
from healthscore.model._drift import build_profile
from healthscore.model._estimator import CalibrationKind, ModelKind
from healthscore.spec._resolved import ResolvedScorecard

MIN_CHURNED = 20  # per class, over all labelled observations
MIN_DATES = 3


def _blocks(dates: np.ndarray, count: int) -> list[np.ndarray]:
    """The unique dates in `count` consecutive blocks, earliest first."""
    return [block for block in np.array_split(np.unique(dates), count) if len(block)]


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def _metrics(churned: np.ndarray, probability: np.ndarray) -> dict[str, float | None]:
    both = 0 < churned.sum() < len(churned)
    return {
        "auc": _round(auc(churned, -probability)),
        "top_decile_lift": top_decile_lift(lift_curve(churned, -probability)),
        "brier": _round(brier_score_loss(churned, probability)) if len(churned) else None,
        "log_loss": _round(log_loss(churned, probability, labels=[0, 1])) if both else None,
    }


def train_model(
    scorecard: ResolvedScorecard,
    sources: Sources,
    dates: Sequence[dt.date],
    out: Path,
    kind: ModelKind = "lightgbm",
    horizon_days: int | None = None,
    by: Sequence[str] = (),
    progress: Progress | None = None,
) -> TrainingReport:
    """Fit, validate forward in time, calibrate, and save the model folder at `out`."""
    outcome = resolve_outcome(scorecard, horizon_days)
    frame, _ = observations(scorecard, sources, dates, outcome, progress, use_models=False)
    labelled = frame[frame["eligible"] & ~frame["censored"]].reset_index(drop=True)
    # Features read the account's own columns, as scoring will (see ACCOUNT_PREFIX).
    for column in [c for c in labelled.columns if c.startswith(ACCOUNT_PREFIX)]:
        labelled[column.removeprefix(ACCOUNT_PREFIX)] = labelled[column]
    y = labelled["churned"].to_numpy(dtype=bool)
    churned, total = int(y.sum()), len(y)
    if min(churned, total - churned) < MIN_CHURNED:
        raise BacktestError(
            f"training needs at least {MIN_CHURNED} churned and {MIN_CHURNED} retained "
            f"observations; there are {churned} churned of {total} (censored "
            f"{int((frame['eligible'] & frame['censored']).sum())}): add dates or data"
        )
    when = labelled["as_of"].to_numpy()
    if len(np.unique(when)) < MIN_DATES:
        raise BacktestError(
            f"training needs at least {MIN_DATES} observation dates with known outcomes "
            f"(to validate forward in time); got {len(np.unique(when))}"
        )
    features, dropped = learn_features(scorecard, labelled)
    x = feature_matrix(labelled, features)
    horizon = np.timedelta64(outcome.horizon_days + outcome.grace_days, "D")
    raw = np.full(total, np.nan)
    folds: list[FoldResult] = []
    blocks = _blocks(when, min(4, len(np.unique(when))))
    for block in blocks[1:]:
        start = block.min()
        train = (when < start) & (when + horizon <= start)  # purged: labels end before it
        test = np.isin(when, block)
        if len(np.unique(y[train])) < 2 or not test.any():
            continue
        model = ChurnModel(kind=kind).fit(x[train], y[train])
        raw[test] = model.decision_function(x[test])
        folds.append(_fold(when, train, test, y, raw))
    if not folds:
        raise BacktestError(
            f"no forward-in-time fold had churners and non-churners to learn from: each block "
            f"of dates is predicted from earlier dates whose {outcome.horizon_days}-day horizon "
            f"(+{outcome.grace_days}-day grace) ends before it; with these dates that leaves "
            "too little. Add earlier dates or shorten --horizon"
        )
    last = np.isin(when, blocks[-1]) & ~np.isnan(raw)
    earlier = ~np.isnan(raw) & ~last
    choice, losses = _choose_calibration(raw, y, earlier, last)
    fitted_on = earlier if earlier.any() and len(np.unique(y[earlier])) == 2 else last
    calibrated = fit_calibrator(choice, raw[fitted_on], y[fitted_on]).apply(raw[last])
    rules = labelled["score"].to_numpy(dtype=np.float64)[last]
    held = HeldOut(
        dates=sorted({pd.Timestamp(d).date() for d in when[last]}),
        observations=int(last.sum()),
        churned=int(y[last].sum()),
        **_metrics(y[last], calibrated),
        rules_auc=_round(auc(y[last], rules)),
        rules_top_decile_lift=top_decile_lift(lift_curve(y[last], rules)),
        calibration=probability_bands(y[last], calibrated),
    )
    final = ChurnModel(kind=kind).fit(x, y)
    known = ~np.isnan(raw)
    final.calibrator_ = fit_calibrator(choice, raw[known], y[known])
    probability = final.predict_proba(x)[:, 1]
    names = [f.name for f in features]
    profile = build_profile(pd.DataFrame(x, columns=names), names, probability)
    report = TrainingReport(
        scorecard_name=scorecard.name,
        scorecard_version=scorecard.version,
        scorecard_hash=scorecard.hash,
        kind=kind,
        outcome=outcome.kind,
        horizon_days=outcome.horizon_days,
        dates=sorted({pd.Timestamp(d).date() for d in when}),
        observations=total,
        churned=churned,
        censored=int((frame["eligible"] & frame["censored"]).sum()),
        features=names,
        dropped=[{"name": d.name, "reason": d.reason} for d in dropped],
        excluded_sensitive=_excluded(scorecard),
        calibration=choice,
        calibration_log_loss=losses,
        folds=folds,
        held_out=held,
        bias=_bias(scorecard, labelled, probability, by),
        path=str(out),
    )
    save_model(
        out,
        final,
        features,
        dropped,
        {
            "scorecard_name": scorecard.name,
            "scorecard_version": scorecard.version,
            "scorecard_hash": scorecard.hash,
            "window": {
                "dates": [d.isoformat() for d in report.dates],
                "horizon_days": outcome.horizon_days,
                "outcome": outcome.kind,
            },
            "metrics": held.model_dump(mode="json", exclude={"calibration"}),
        },
        {"profile.json": profile.model_dump_json(indent=2), "report.json": report.to_json()},
    )
    return report


def _fold(
    when: np.ndarray, train: np.ndarray, test: np.ndarray, y: np.ndarray, raw: np.ndarray
) -> FoldResult:
    def day(value: np.datetime64) -> dt.date:
        return pd.Timestamp(value).date()

    return FoldResult(
        train_until=day(when[train].max()),
        test_from=day(when[test].min()),
        test_until=day(when[test].max()),
        train_observations=int(train.sum()),
        test_observations=int(test.sum()),
        test_churned=int(y[test].sum()),
        auc=_round(auc(y[test], -raw[test])),
    )


def _choose_calibration(
    raw: np.ndarray, y: np.ndarray, earlier: np.ndarray, last: np.ndarray
) -> tuple[CalibrationKind, dict[str, float]]:
    """Isotonic or Platt, whichever predicts the last block better (Platt when undecidable)."""
    if not earlier.any() or len(np.unique(y[earlier])) < 2 or len(np.unique(y[last])) < 2:
        return "sigmoid", {}
    losses: dict[str, float] = {}
    for kind in ("isotonic", "sigmoid"):
        probability = fit_calibrator(kind, raw[earlier], y[earlier]).apply(raw[last])
        clipped = np.clip(probability, 1e-6, 1 - 1e-6)
        losses[kind] = round(float(log_loss(y[last], clipped, labels=[0, 1])), 5)
    return ("isotonic" if losses["isotonic"] < losses["sigmoid"] else "sigmoid"), losses


def _excluded(scorecard: ResolvedScorecard) -> list[str]:
    spec = scorecard.model
    return [] if spec is None else sorted(set(spec.sensitive) - set(spec.allow_sensitive))


def _bias(
    scorecard: ResolvedScorecard, labelled: pd.DataFrame, probability: np.ndarray, by: Sequence[str]
) -> list[BiasRow]:
    names = list(dict.fromkeys([*by, *(scorecard.model.sensitive if scorecard.model else ())]))
    missing = [name for name in names if name not in labelled.columns]
    if missing:
        raise BacktestError(
            f"--by: {', '.join(missing)} not in the data (name account columns listed in "
            "model.attributes or model.sensitive)"
        )
    rows: list[BiasRow] = []
    for name in names:
        rows += bias_rows(name, labelled[name], labelled, probability)
    return rows
