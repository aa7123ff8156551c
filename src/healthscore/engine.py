"""The facade every interface calls: scorecard + warehouse -> metrics and scores."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from ibis.backends import BaseBackend

from healthscore.compute import Sources, check_data, connect, metric_frame, score_frame
from healthscore.compute._account_query import AccountQuery
from healthscore.spec import Issue, ResolvedScorecard, load_scorecard
from healthscore.spec._models import window_days
from healthscore.spec._resolved import LogZNormalizer, PercentileNormalizer
from healthscore.store import RunMode, RunResult, Store, StoreError, record_run
from healthscore.store._record import Compute

if TYPE_CHECKING:  # scikit-learn and LightGBM load only when evidence or a model is used
    from healthscore.evaluation import BacktestResult, Comparison, WeightSuggestion
    from healthscore.evaluation._backtest import Progress
    from healthscore.evaluation._training_report import TrainingReport
    from healthscore.model._drift import DriftReport
    from healthscore.model._estimator import ModelKind
    from healthscore.playbooks import LiftReport
    from healthscore.spec._diff import LogicChange
    from healthscore.store._explain import Explanation
    from healthscore.store._playbook_run import PlaybookRun

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
        store: str | Path | Store | None = None,
    ) -> None:
        self.scorecard = (
            scorecard if isinstance(scorecard, ResolvedScorecard) else load_scorecard(scorecard)
        )
        if isinstance(warehouse, BaseBackend):
            self.con = warehouse
        else:
            self.con = connect(warehouse or self.scorecard.warehouse, self.scorecard.base_dir)
        self.sources = Sources(self.scorecard, self.con)
        self._store = store if isinstance(store, Store) else None
        self._population_cache: tuple[str, pd.DataFrame] | None = None
        self._store_target = None if isinstance(store, Store) else store

    @property
    def store(self) -> Store:
        """Score history, overrides and actions: the given store, else the DuckDB
        warehouse itself, else a DuckDB file beside the scorecard."""
        if self._store is None:
            if self._store_target is not None:
                self._store = Store.open(self._store_target)
            elif self.con.name == "duckdb":
                self._store = Store.open(self.con.con)
            else:
                self._store = Store.open(self.scorecard.base_dir / "healthscore-store.duckdb")
        return self._store

    @cached_property
    def _account_query(self) -> AccountQuery | None:
        """The one-date query for a few accounts, compiled once (what rescoring runs)."""
        return AccountQuery.compile(self.scorecard, self.sources)

    def prepare_rescoring(self) -> None:
        """Compile the rescoring query now rather than at the first rescore (services)."""
        _ = self._account_query

    def close(self) -> None:
        """Release the store connection the engine opened (the warehouse is the caller's)."""
        if self._store is not None and self._store_target is not None:
            self._store.close()
            self._store = None

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
        chosen = None if accounts is None else list(accounts)  # any sequence, arrays too
        if chosen and len(dates) == 1 and all(isinstance(a, str) for a in chosen):
            query = self._account_query
            if query is not None:
                return query.frame(dates[0], chosen)
        return metric_frame(self.scorecard, self.sources, dates, chosen)

    def score(
        self,
        as_of: DateLike | Sequence[DateLike] | None = None,
        accounts: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """The score frame for every account (or `accounts`) as of a date (default: today)."""
        return self._scores(self.metrics(dt.date.today() if as_of is None else as_of, accounts))

    def _scores(
        self, frame: pd.DataFrame, impacts: bool = False, population: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        models = None
        if self.scorecard.model_paths:
            from healthscore.model._predict import predict_for

            models = predict_for(self.scorecard, frame)
        return score_frame(
            self.scorecard, frame, models, with_impacts=impacts, reference=population
        )

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

    def run(
        self,
        as_of: DateLike | None = None,
        mode: RunMode = "live",
        actor: str | None = None,
    ) -> RunResult:
        """Score every account and store the result as one run (all rows or none).

        Stored rows carry tier hysteresis, active overrides and the 7/30-day trend;
        `mode` 'shadow' stores beside the live history without triggering anything,
        'backfill' re-scores a past date apart from it.
        """
        day = dt.date.today() if as_of is None else to_date(as_of)
        return record_run(self.store, self.scorecard, self._stored(), day, mode, actor)

    def _stored(
        self, accounts: Sequence[str] | None = None, population: pd.DataFrame | None = None
    ) -> Compute:
        """What a run stores for a date: scores with impacts, and the metric values."""

        def compute(day: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
            frame = self.metrics(day, accounts)
            scores = self._scores(frame, impacts=True, population=population)
            kept = [m.name for m in self.scorecard.metrics if m.name in frame.columns]
            return scores, frame[kept]

        return compute

    def rescore(
        self, accounts: Sequence[str], as_of: DateLike | None = None, actor: str | None = None
    ) -> RunResult:
        """Rescore a few accounts (after their events arrived) and store them as a live run
        laid over the last full one. The default as-of date is tomorrow: everything
        stamped up to now counts."""
        day = dt.date.today() + dt.timedelta(days=1) if as_of is None else to_date(as_of)
        compute = self._stored(sorted(set(accounts)), self._population())
        return record_run(self.store, self.scorecard, compute, day, "live", actor, "accounts")

    def _population(self) -> pd.DataFrame | None:
        """The last full live run's segments and metric values: what percentile and log_z
        measures rank a few rescored accounts against (kept until a new full run)."""
        if not any(
            isinstance(m.normalizer, PercentileNormalizer | LogZNormalizer)
            for m in self.scorecard.measures
        ):
            return None
        run_id = self.store.latest_run(self.scorecard.name, scope="all")
        if run_id is None:
            raise StoreError(
                f"{self.scorecard.file}: percentile and log_z measures rank accounts against "
                "a full run; run `healthscore score` once before rescoring single accounts"
            )
        if self._population_cache is None or self._population_cache[0] != run_id:
            rows = self.store.scores(run_id)
            self._population_cache = (run_id, rows)
        return self._population_cache[1]

    def override(
        self,
        account_id: str,
        *,
        reason: str,
        by: str,
        until: DateLike,
        score: float | None = None,
        tier: str | None = None,
    ) -> str:
        """Set an account's final score and/or tier until a date; returns the override id.

        Runs apply it (never overwriting it) until it expires or is revoked; the computed
        score stays stored beside it. Every change is in the audit log.
        """
        from healthscore.store import OverrideError
        from healthscore.store._overrides import add_override

        accounts = self.sources.table("accounts")
        if accounts.filter(accounts.account_id == account_id).count().execute() == 0:
            raise OverrideError(f"override: unknown account '{account_id}' (not in accounts)")
        return add_override(
            self.store.db,
            self.scorecard.name,
            account_id,
            score=score,
            tier=tier,
            reason=reason,
            author=by,
            until=to_date(until),
            tiers=tuple(t.name for t in self.scorecard.tiers),
            today=dt.date.today(),
        )

    def revoke_override(self, account_id: str, by: str) -> list[str]:
        """End the account's active overrides now; returns their ids."""
        from healthscore.store._overrides import revoke_override

        return revoke_override(self.store.db, self.scorecard.name, account_id, by)

    def audit_log(self, limit: int = 200) -> pd.DataFrame:
        """Who changed what, newest first."""
        from healthscore.store._overrides import audit_log

        return audit_log(self.store.db, limit)

    def history(self, account_id: str, mode: RunMode = "live") -> pd.DataFrame:
        """The account's stored scores over time (this scorecard's name, every version)."""
        return self.store.history(account_id, self.scorecard.name, mode)

    def explain(self, account_id: str, since: DateLike, mode: RunMode = "live") -> Explanation:
        """What moved the account's score between its row on `since` (or the last before
        it) and its latest row, in points per measure."""
        from healthscore.store import StoreError
        from healthscore.store._explain import explain_change

        rows = self.history(account_id, mode)
        if rows.empty:
            raise StoreError(f"no stored scores for account '{account_id}'; run a score first")
        day = pd.Timestamp(to_date(since))
        earlier = rows[rows["as_of"] <= day]
        if earlier.empty:
            first = rows["as_of"].min().date()
            raise StoreError(
                f"account '{account_id}' has no stored score on or before {day.date()}; "
                f"its first is on {first}"
            )
        return explain_change(earlier.iloc[-1], rows.iloc[-1])

    def diff(
        self, other: Engine, as_of: DateLike | None = None
    ) -> tuple[list[LogicChange], pd.DataFrame]:
        """The logic changes from this scorecard to `other`, and every account's tier under
        both as of a date (default: today)."""
        from healthscore.evaluation._compare import tier_changes
        from healthscore.spec._diff import logic_diff

        day = dt.date.today() if as_of is None else to_date(as_of)
        moves = tier_changes((self.scorecard, self.sources), (other.scorecard, other.sources), day)
        return logic_diff(self.scorecard, other.scorecard), moves

    def run_playbooks(
        self, dry_run: bool = False, sleep: Callable[[float], None] = time.sleep
    ) -> PlaybookRun:
        """Compare the latest live run with the one before it and act on what fired:
        tasks, webhooks, journeys, Slack messages, with cooldowns and control groups.

        With `dry_run` nothing is sent or created; the log says what would have been.
        """
        from healthscore.store._playbook_run import run_playbooks

        return run_playbooks(self.store, self.scorecard, dry_run, sleep)

    def playbook_lift(self, horizon: str | int | None = None, min_group: int = 20) -> LiftReport:
        """Churn and recovery of treated against held-out accounts, per playbook and tier."""
        from healthscore.playbooks import playbook_lift
        from healthscore.store._lift_data import assignments, with_outcomes

        days = horizon_days(horizon)
        if days is None:
            days = self.scorecard.outcome.horizon_days if self.scorecard.outcome else 30
        frame = with_outcomes(
            assignments(self.store, self.scorecard), self.store, self.scorecard, self.sources, days
        )
        return playbook_lift(frame, min_group=min_group)

    def actions(self, playbook: str | None = None) -> pd.DataFrame:
        """The action log of this scorecard's playbooks, oldest first."""
        from healthscore.store._actions import actions

        return actions(self.store.db, self.scorecard.name, playbook)

    def tasks(
        self, status: str | None = "open", owner: str | None = None, account_id: str | None = None
    ) -> pd.DataFrame:
        """Tasks the playbooks created, earliest due first."""
        from healthscore.store._actions import tasks

        return tasks(self.store.db, self.scorecard.name, status, owner, account_id)

    def update_task(self, task_id: str, status: str, by: str, note: str | None = None) -> None:
        """Mark a task done, dismissed or open again (kept in the audit log)."""
        from healthscore.store._actions import update_task

        update_task(self.store.db, task_id, status, by, note)
