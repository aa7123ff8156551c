"""The facade every interface calls: scorecard + warehouse -> metrics and scores."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from ibis.backends import BaseBackend

from healthscore.compute import Sources, check_data, connect, metric_frame, score_frame
from healthscore.spec import Issue, ResolvedScorecard, load_scorecard
from healthscore.spec._models import window_days
from healthscore.store import write_scores

if TYPE_CHECKING:  # scikit-learn and LightGBM load only when evidence or a model is used
    from healthscore.evaluation import BacktestResult, Comparison, WeightSuggestion
    from healthscore.evaluation._backtest import Progress
    from healthscore.evaluation._training_report import TrainingReport
    from healthscore.model._drift import DriftReport
    from healthscore.model._estimator import ModelKind

DateLike = dt.date | dt.datetime | str


def to_date(value: DateLike) -> dt.date:
    """A date from a date, datetime or ISO text ('2026-06-30')."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def horizon_days(horizon: str | int | None) -> int | None:
    """Days in a horizon given as '30d', '4w' or a number of days."""
    if horizon is None or isinstance(horizon, int):
        return horizon
    return window_days(horizon)


class Engine:
    """Score accounts with one scorecard against one warehouse.

    >>> engine = Engine("scorecard.yaml")                      # doctest: +SKIP
    >>> scores = engine.score(as_of="2026-06-30")              # doctest: +SKIP
    """

    def __init__(
        self,
        scorecard: str | Path | ResolvedScorecard,
        warehouse: str | BaseBackend | None = None,
    ) -> None:
        self.scorecard = (
            scorecard if isinstance(scorecard, ResolvedScorecard) else load_scorecard(scorecard)
        )
        if isinstance(warehouse, BaseBackend):
            self.con = warehouse
        else:
            self.con = connect(warehouse or self.scorecard.warehouse, self.scorecard.base_dir)
        self.sources = Sources(self.scorecard, self.con)

    def check(self) -> list[Issue]:
        """Problems between the scorecard and the data it names (empty when all is well)."""
        return check_data(self.scorecard, self.sources)

    def metrics(
        self,
        as_of: DateLike | Sequence[DateLike],
        accounts: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """The metric frame: one row per account and as-of date, one column per metric.

        Many dates are computed in one pass (for backtests and training); every value uses
        only rows stamped before its row's as-of date.
        """
        dates = [to_date(as_of)] if isinstance(as_of, DateLike) else [to_date(d) for d in as_of]
        return metric_frame(self.scorecard, self.sources, dates, accounts)

    def score(
        self,
        as_of: DateLike | Sequence[DateLike] | None = None,
        accounts: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """The score frame for every account (or `accounts`) as of a date (default: today)."""
        frame = self.metrics(dt.date.today() if as_of is None else as_of, accounts)
        if not self.scorecard.model_paths:
            return score_frame(self.scorecard, frame)
        from healthscore.model._predict import predict_for

        return score_frame(self.scorecard, frame, predict_for(self.scorecard, frame))

    def backtest(
        self,
        start: DateLike,
        end: DateLike,
        every: str = "1mo",
        horizon: str | int | None = None,
        progress: Progress | None = None,
    ) -> BacktestResult:
        """Score every account at each date from start to end and check who churned.

        `horizon` ('30d' or days) overrides the scorecard outcome's; the result holds
        AUC, lift, churn by tier, calibration, lead time and per-measure evidence.
        """
        from healthscore.evaluation import observation_dates, run_backtest

        dates = observation_dates(to_date(start), to_date(end), every)
        return run_backtest(self.scorecard, self.sources, dates, horizon_days(horizon), progress)

    def suggest_weights(
        self,
        start: DateLike,
        end: DateLike,
        every: str = "1mo",
        horizon: str | int | None = None,
        version: str | None = None,
        progress: Progress | None = None,
    ) -> WeightSuggestion:
        """Weights fitted on the backtest's observations, as a new scorecard version's text."""
        if self.scorecard.path is None:
            raise ValueError("suggest_weights rewrites the scorecard file: load it from a path")
        from healthscore.evaluation import observation_dates, observations, suggest_weights
        from healthscore.evaluation._backtest import resolve_outcome

        dates = observation_dates(to_date(start), to_date(end), every)
        outcome = resolve_outcome(self.scorecard, horizon_days(horizon))
        frame, _ = observations(self.scorecard, self.sources, dates, outcome, progress)
        text = self.scorecard.path.read_text(encoding="utf-8")
        return suggest_weights(self.scorecard, text, frame, version)

    def compare(
        self,
        other: Engine,
        start: DateLike,
        end: DateLike,
        every: str = "1mo",
        horizon: str | int | None = None,
        as_of: DateLike | None = None,
    ) -> Comparison:
        """Both scorecards backtested on the same dates, and who changes tier on `as_of`."""
        from healthscore.evaluation import compare, observation_dates

        dates = observation_dates(to_date(start), to_date(end), every)
        day = dt.date.today() if as_of is None else to_date(as_of)
        return compare(
            (self.scorecard, self.sources),
            (other.scorecard, other.sources),
            dates,
            day,
            horizon_days(horizon),
        )

    def train(
        self,
        start: DateLike,
        end: DateLike,
        out: str | Path,
        every: str = "1mo",
        horizon: str | int | None = None,
        kind: ModelKind = "lightgbm",
        by: Sequence[str] = (),
        progress: Progress | None = None,
    ) -> TrainingReport:
        """Train a calibrated churn model on the backtest's observations; save it at `out`.

        Validated forward in time (each block of dates predicted by a model fitted on the
        dates before it); `by` names account columns to compare score distributions on.
        """
        from healthscore.evaluation import observation_dates
        from healthscore.evaluation._training import train_model

        dates = observation_dates(to_date(start), to_date(end), every)
        return train_model(
            self.scorecard,
            self.sources,
            dates,
            Path(out),
            kind,
            horizon_days(horizon),
            by,
            progress,
        )

    def drift(self, as_of: DateLike | None = None, model: str | Path | None = None) -> DriftReport:
        """Features and churn probabilities as of a date against the model's training data."""
        folder = Path(model) if model is not None else self.model_path()
        frame = self.metrics(dt.date.today() if as_of is None else as_of)
        from healthscore.model._predict import drift_for

        return drift_for(folder, frame)

    def model_path(self) -> Path:
        """The model folder the scorecard names (its own, or the first variant's)."""
        from healthscore.model import ArtifactError

        paths = self.scorecard.model_paths
        spec = self.scorecard.model
        if spec is not None and spec.path is not None:
            return spec.path
        if paths:
            return paths[0]
        raise ArtifactError(
            f"{self.scorecard.file}: names no model; add model.path, or pass the folder"
        )

    def save(self, scores: pd.DataFrame) -> int:
        """Append scores to the warehouse's score history, atomically."""
        return write_scores(self.con, scores)
