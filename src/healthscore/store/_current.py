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
from healthscore.store._runs import RunMode
from healthscore.store._schema import OVERRIDES, RUNS, SCORES

Sort = Literal["score", "-score", "revenue_at_risk", "account_id"]
_ORDER: dict[Sort, str] = {
    "score": "score ASC NULLS LAST, account_id",
    "-score": "score DESC NULLS LAST, account_id",
    "revenue_at_risk": "revenue_at_risk DESC NULLS LAST, account_id",
    "account_id": "account_id",
}
# The run order: by as-of date, then by finish time (as `Store._done_runs`).
_NEWER = "(r.as_of > ? OR (r.as_of = ? AND r.finished_at >= ?))"
_OLDER = "(r.as_of < ? OR (r.as_of = ? AND r.finished_at < ?))"
_FINISHED = "r.scorecard_name = ? AND r.mode = ? AND r.status = 'done'"


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
        for column, value in (("tier", self.tier), ("segment", self.segment)):
            if value is not None:
                parts.append(f"{column} = ?")
                params.append(value)
        if self.owner is not None:
            parts.append("owner = ?")
            params.append(self.owner)
        if self.min_score is not None:
            parts.append("score >= ?")
            params.append(self.min_score)
        if self.max_score is not None:
            parts.append("score <= ?")
            params.append(self.max_score)
        return " AND ".join(parts) or "1 = 1", params


def _span(
    db: Database, scorecard_name: str, mode: RunMode, before: str | None
) -> tuple[str, list[Any]] | None:
    """The SQL condition on runs `r` that picks the current runs; None when there are none."""
    condition, params = _FINISHED, [scorecard_name, mode]
    if before is not None:
        key = db.query(f"SELECT as_of, finished_at FROM {RUNS} WHERE run_id = ?", (before,))
        if key.empty or pd.isna(key["finished_at"].iloc[0]):
            return None
        as_of, finished = key["as_of"].iloc[0], key["finished_at"].iloc[0]
        condition += f" AND {_OLDER}"
        params += [as_of, as_of, finished]
    full = db.query(
        f"SELECT r.as_of, r.finished_at FROM {RUNS} r WHERE {condition} "
        "AND COALESCE(r.scope, 'all') = 'all' ORDER BY r.as_of DESC, r.finished_at DESC LIMIT 1",
        params,
    )
    if not full.empty:
        as_of, finished = full["as_of"].iloc[0], full["finished_at"].iloc[0]
        condition += f" AND {_NEWER}"
        params += [as_of, as_of, finished]
    return condition, params


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
        return 0, decode(db.query(f"SELECT s.* FROM {SCORES} s WHERE 1 = 0"))
    condition, params = span
    if filters.accounts is not None:
        condition += f" AND s.account_id IN ({', '.join('?' * len(filters.accounts))})"
        params = [*params, *filters.accounts]
    where, filter_params = filters.sql()
    newest = (
        "SELECT * FROM (SELECT s.*, o.reason AS override_reason, o.author AS override_by, "
        "o.until AS override_until, ROW_NUMBER() OVER (PARTITION BY s.account_id "
        "ORDER BY r.as_of DESC, r.finished_at DESC) AS hs_newest "
        f"FROM {SCORES} s JOIN {RUNS} r ON r.run_id = s.run_id "
        f"LEFT JOIN {OVERRIDES} o ON o.override_id = s.override_id WHERE {condition}) t "
        f"WHERE hs_newest = 1 AND {where}"
    )
    page = f" LIMIT {int(limit)} OFFSET {int(offset)}" if limit is not None else ""
    everything = [*params, *filter_params]
    rows = db.query(f"{newest} ORDER BY {_ORDER[sort]}{page}", everything)
    total = len(rows) + offset
    # A full page may have more behind it; an empty one past the end says nothing.
    if limit is not None and (len(rows) == limit or (not len(rows) and offset)):
        total = int(db.query(f"SELECT COUNT(*) AS n FROM ({newest}) c", everything)["n"].iloc[0])
    rows = rows.drop(columns="hs_newest").reset_index(drop=True)
    return total, decode(rows)
