"""Each account's current row, found in SQL: the last full run with the runs since laid
over it, newest per account; filtered, sorted and paged by the database.

A service rescoring after every event stores a run per rescore, so "current" spans one
full run and any number of small ones. Reading them all into pandas to keep the newest
row per account cost seconds per request at 100k accounts; here the database ranks the
rows and only the page asked for is decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from healthscore.store._database import Database
from healthscore.store._rows import decode
from healthscore.store._runs import RunMode, RunScope
from healthscore.store._schema import OVERRIDES, RUNS, SCORE_COLUMNS, SCORES

Sort = Literal["score", "-score", "revenue_at_risk", "account_id"]
_ORDER: dict[Sort, str] = {
    "score": "c.score ASC NULLS LAST, c.account_id",
    "-score": "c.score DESC NULLS LAST, c.account_id",
    "revenue_at_risk": "c.revenue_at_risk DESC NULLS LAST, c.account_id",
    "account_id": "c.account_id",
}
# The run order: by as-of date, then by finish time.
# Strictly after / before a run in that order; the run id breaks exact ties.
_NEWER = (
    "(r.as_of > ? OR (r.as_of = ? AND (r.finished_at > ? OR (r.finished_at = ? AND r.run_id > ?))))"
)
_OLDER = (
    "(r.as_of < ? OR (r.as_of = ? AND (r.finished_at < ? OR (r.finished_at = ? AND r.run_id < ?))))"
)
_LATEST_FIRST = "ORDER BY r.as_of DESC, r.finished_at DESC, r.run_id DESC"


def _key(as_of: Any, finished: Any, run_id: Any) -> list[Any]:
    """The parameters of `_NEWER` / `_OLDER` for one run."""
    return [as_of, as_of, finished, finished, run_id]


_FINISHED = "r.scorecard_name = ? AND r.mode = ? AND r.status = 'done'"
# Every row an override affects shows its reason, author and expiry.
OVERRIDE_DETAILS = "o.reason AS override_reason, o.author AS override_by, o.until AS override_until"
WITH_OVERRIDE = (
    f"{OVERRIDE_DETAILS} FROM {SCORES} s LEFT JOIN {OVERRIDES} o ON o.override_id = s.override_id"
)


@dataclass(frozen=True)
class Filters:
    """Which current rows to return (None: any)."""

    tier: str | None = None
    segment: str | None = None
    owner: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    accounts: tuple[str, ...] | None = None

    def sql(self) -> tuple[str, list[Any]]:
        parts: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("tier", self.tier),
            ("segment", self.segment),
            ("owner", self.owner),
        ):
            if value is not None:
                parts.append(f"c.{column} = ?")
                params.append(value)
        if self.min_score is not None:
            parts.append("c.score >= ?")
            params.append(self.min_score)
        if self.max_score is not None:
            parts.append("c.score <= ?")
            params.append(self.max_score)
        return " AND ".join(parts) or "1 = 1", params


@dataclass(frozen=True)
class _Span:
    """The current runs: the last full run (if any) and the SQL condition on runs `r`
    that picks the account-scoped runs after it."""

    full_run: str | None
    later: str
    params: list[Any]


def _finished_runs(
    db: Database, scorecard_name: str, mode: RunMode, before: str | None
) -> tuple[str, list[Any]] | None:
    """The SQL condition on runs `r`: finished, of this scorecard and mode, and older than
    `before` when given (None when `before` is not a finished run)."""
    condition, params = _FINISHED, [scorecard_name, mode]
    if before is not None:
        key = db.query(
            f"SELECT as_of, finished_at FROM {RUNS} r WHERE run_id = ? AND {_FINISHED}",
            (before, scorecard_name, mode),
        )
        if key.empty:
            return None
        as_of, finished = key["as_of"].iloc[0], key["finished_at"].iloc[0]
        condition += f" AND {_OLDER}"
        params += _key(as_of, finished, before)
    return condition, params


def latest_run(
    db: Database,
    scorecard_name: str,
    mode: RunMode = "live",
    before: str | None = None,
    scope: RunScope | None = None,
) -> str | None:
    """See `Store.latest_run`."""
    finished = _finished_runs(db, scorecard_name, mode, before)
    if finished is None:
        return None
    condition, params = finished
    if scope is not None:
        condition += " AND COALESCE(r.scope, 'all') = ?"
        params.append(scope)
    found = db.query(
        f"SELECT r.run_id FROM {RUNS} r WHERE {condition} {_LATEST_FIRST} LIMIT 1",
        params,
    )
    return None if found.empty else str(found["run_id"].iloc[0])


def _span(db: Database, scorecard_name: str, mode: RunMode, before: str | None) -> _Span | None:
    finished = _finished_runs(db, scorecard_name, mode, before)
    if finished is None:
        return None
    condition, params = finished
    full = db.query(
        f"SELECT r.run_id, r.as_of, r.finished_at FROM {RUNS} r WHERE {condition} "
        f"AND COALESCE(r.scope, 'all') = 'all' {_LATEST_FIRST} LIMIT 1",
        params,
    )
    if full.empty:
        return _Span(None, condition, params)
    run_id, as_of, finished = (full[column].iloc[0] for column in full.columns)
    later = f"{condition} AND {_NEWER}"
    return _Span(str(run_id), later, [*params, *_key(as_of, finished, run_id)])


def current_rows(
    db: Database,
    scorecard_name: str,
    mode: RunMode = "live",
    *,
    before: str | None = None,
    filters: Filters = Filters(),
    sort: Sort = "account_id",
    limit: int | None = None,
    offset: int = 0,
) -> tuple[int, pd.DataFrame]:
    """How many current rows pass the filters, and the decoded page of them."""
    span = _span(db, scorecard_name, mode, before)
    if span is None or filters.accounts == ():
        return 0, decode(db.query(f"SELECT s.*, {WITH_OVERRIDE} WHERE 1 = 0"))
    accounts, account_params = "", []
    if filters.accounts is not None:
        accounts = f" AND s.account_id IN ({', '.join('?' * len(filters.accounts))})"
        account_params = list(filters.accounts)
    columns = ", ".join(f"s.{name}" for name in SCORE_COLUMNS)
    # The few rescored accounts' newest rows, then the full run's rows of every other
    # account: an anti-join whose hashed side is the few, not a ranking of every row.
    later = (
        f"SELECT {columns}, ROW_NUMBER() OVER (PARTITION BY s.account_id "
        f"{_LATEST_FIRST}) AS hs_newest "
        f"FROM {SCORES} s JOIN {RUNS} r ON r.run_id = s.run_id WHERE {span.later}{accounts}"
    )
    params = [*span.params, *account_params]
    union = f"SELECT {', '.join(SCORE_COLUMNS)} FROM hs_later WHERE hs_newest = 1"
    if span.full_run is not None:
        union += (
            f" UNION ALL SELECT {columns} FROM {SCORES} s WHERE s.run_id = ?{accounts} "
            "AND s.account_id NOT IN (SELECT account_id FROM hs_later)"
        )
        params += [span.full_run, *account_params]
    where, filter_params = filters.sql()
    current = f"WITH hs_later AS ({later}), hs_current AS ({union}) SELECT c.* FROM hs_current c"
    current += f" WHERE {where}"
    order = _ORDER[sort]
    page = f" LIMIT {int(limit)} OFFSET {int(offset)}" if limit is not None else ""
    everything = [*params, *filter_params]
    # Override details are joined onto the page only.
    rows = db.query(
        f"SELECT c.*, {OVERRIDE_DETAILS} FROM ({current} ORDER BY {order}{page}) c "
        f"LEFT JOIN {OVERRIDES} o ON o.override_id = c.override_id ORDER BY {order}",
        everything,
    )
    total = len(rows) + offset
    # A full page may have more behind it; an empty one past the end says nothing.
    if limit is not None and (len(rows) == limit or (not len(rows) and offset)):
        counted = db.query(f"SELECT COUNT(*) AS n FROM ({current}) counted", everything)
        total = int(counted["n"].iloc[0])
    return total, decode(rows.reset_index(drop=True))
