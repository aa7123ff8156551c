"""One run from start to finish: lock, compute, finalize against history, store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from healthscore.spec import ResolvedScorecard
from healthscore.store._finalize import TREND_DAYS, finalize
from healthscore.store._overrides import active_overrides
from healthscore.store._rows import encode
from healthscore.store._runs import RunMode, RunScope, begin_run, fail_run, finish_run
from healthscore.store._store import Store

# Scores of one as-of date, and the metric values worth keeping beside them.
Compute = Callable[[dt.date], tuple[pd.DataFrame, pd.DataFrame]]


@dataclass(frozen=True)
class RunResult:
    run_id: str
    mode: RunMode
    as_of: dt.date
    scores: pd.DataFrame  # the finalized rows as stored (reasons as lists)


def record_run(
    store: Store,
    scorecard: ResolvedScorecard,
    compute: Compute,
    as_of: dt.date,
    mode: RunMode = "live",
    actor: str | None = None,
    scope: RunScope = "all",
) -> RunResult:
    """Score as of a date and store it as one run; on any failure nothing is stored.

    With scope 'accounts' the compute scores only some accounts (rescoring after their
    events); readers lay such runs over the last full one.
    """
    ticket = begin_run(
        store.db, scorecard.name, scorecard.version, scorecard.hash, as_of, mode, actor, scope
    )
    try:
        scores, metrics = compute(as_of)
        # Enough history for the longest trend window and a run-count hysteresis.
        lookback = 2 * max(TREND_DAYS) + 366
        few = list(scores["account_id"]) if scope == "accounts" else None
        recent = store.recent(scorecard.name, as_of, lookback, mode, accounts=few)
        overrides = active_overrides(store.db, scorecard.name, as_of)
        final = finalize(scores, recent, overrides, scorecard.tiers, scorecard.hysteresis)
        finish_run(store.db, ticket, encode(final, metrics, ticket.run_id))
    except BaseException as error:
        fail_run(store.db, ticket, error)
        raise
    return RunResult(ticket.run_id, mode, as_of, final)
