"""Backtest a scorecard: score every account at many past dates, then see who churned.

All dates go through the many-dates metric engine in one pass (no rescan per date), so
no metric sees a row stamped on or after its observation date; labels look only at the
horizon after it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence

import pandas as pd

from healthscore.compute import Sources, metric_frame, score_frame
from healthscore.compute._outcome_data import OutcomeData, read_outcome_data
from healthscore.evaluation._labels import LABEL_COLUMNS, label_observations
from healthscore.evaluation._result import BacktestResult
from healthscore.evaluation._summary import summarize
from healthscore.model._predict import in_sample_notes, predict_for
from healthscore.spec._outcomes import OutcomeSpec
from healthscore.spec._resolved import ResolvedScorecard

ACCOUNT_PREFIX = "account."
EVERY_PATTERN = re.compile(r"^\s*(\d+)\s*(d|w|mo|m|q|y)\s*$")
Progress = Callable[[str], None]


class BacktestError(ValueError):
    """The backtest cannot run as asked (no outcome declared, no dates, ...)."""


def observation_dates(start: dt.date, end: dt.date, every: str) -> list[dt.date]:
    """start, start + every, ... up to end inclusive. `every`: 7d, 2w, 1mo, 1q, 1y."""
    match = EVERY_PATTERN.match(every)
    if match is None:
        raise BacktestError(f"--every: a step such as 7d, 2w, 1mo, 1q or 1y. Got '{every}'.")
    amount, unit = int(match.group(1)), match.group(2)
    if amount <= 0:
        raise BacktestError(f"--every: a step of at least 1. Got '{every}'.")
    if end < start:
        raise BacktestError(f"--end on or after --start. Got {start} to {end}.")
    if unit in {"d", "w"}:
        step = pd.DateOffset(days=amount * (7 if unit == "w" else 1))
    else:
        months = amount * {"mo": 1, "m": 1, "q": 3, "y": 12}[unit]
        step = pd.DateOffset(months=months)
    dates = []
    current = pd.Timestamp(start)
    index = 0
    # Offsets from the start (not chained) keep month ends: Jan 31, Feb 28, Mar 31.
    while current.date() <= end:
        dates.append(current.date())
        index += 1
        current = pd.Timestamp(start) + step * index
    return dates


def resolve_outcome(scorecard: ResolvedScorecard, horizon_days: int | None) -> OutcomeSpec:
    if scorecard.outcome is None:
        raise BacktestError(
            f"{scorecard.file}: the scorecard declares no outcome; add an 'outcome:' section "
            "saying what churn means (see docs/evidence.md)"
        )
    if horizon_days is None:
        return scorecard.outcome
    return scorecard.outcome.with_horizon(horizon_days)


def observations(
    scorecard: ResolvedScorecard,
    sources: Sources,
    dates: Sequence[dt.date],
    outcome: OutcomeSpec,
    progress: Progress | None = None,
    use_models: bool = True,
) -> tuple[pd.DataFrame, OutcomeData]:
    """Scores, metrics and labels for every account in the population at every date.

    With `use_models` false, variants that name a model are scored by their rules (for
    training the model itself).
    """
    if not dates:
        raise BacktestError("no observation dates")
    say = progress or (lambda step: None)
    say(f"metrics at {len(dates)} dates")
    metrics = metric_frame(scorecard, sources, dates)
    say("scores")
    models = predict_for(scorecard, metrics) if use_models else None
    scores = score_frame(scorecard, metrics, models, reasons=False)
    say("outcomes")
    data = read_outcome_data(outcome, sources)
    labels = label_observations(metrics, outcome, data)
    # Metric and condition columns stay: cohorts read the metrics, and a re-weighted
    # scorecard can be scored again from this frame without recomputing anything.
    extra = [c for c in metrics.columns if c not in scores.columns]
    # An account column named like a score column (`segment`: the account's own value,
    # not the scorecard variant) is kept as `account.<name>` for models and bias checks.
    clashes = {
        f"{ACCOUNT_PREFIX}{c}": metrics[c]
        for c in metrics.columns
        if c in scores.columns and c not in ("account_id", "as_of")
    }
    frame = pd.concat(
        [scores, metrics[extra], pd.DataFrame(clashes), labels[list(LABEL_COLUMNS)]], axis=1
    )
    frame["as_of"] = metrics["as_of"]
    return frame, data


def run_backtest(
    scorecard: ResolvedScorecard,
    sources: Sources,
    dates: Sequence[dt.date],
    horizon_days: int | None = None,
    progress: Progress | None = None,
) -> BacktestResult:
    outcome = resolve_outcome(scorecard, horizon_days)
    frame, data = observations(scorecard, sources, dates, outcome, progress)
    notes = in_sample_notes(scorecard, list(dates))
    return summarize(scorecard, outcome, frame, dates, data, notes)
