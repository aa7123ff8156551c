"""The store: score history in runs, overrides and audit, on DuckDB or PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pandas as pd

from healthscore.store._current import WITH_OVERRIDE, Filters, Sort, current_rows, latest_run
from healthscore.store._database import Database, open_database
from healthscore.store._rows import decode
from healthscore.store._runs import RunMode, RunScope
from healthscore.store._schema import RUNS, SCORES, ensure_schema

_RECENT_COLUMNS = "s.account_id, s.as_of, s.score, s.tier, s.computed_tier, s.override_id"


class Store:
    """Reads and writes of the score history; see `_runs` for how a run is written."""

    def __init__(self, db: Database) -> None:
        self.db = db
        ensure_schema(db)

    @classmethod
    def open(cls, target: str | Path | duckdb.DuckDBPyConnection) -> Store:
        return cls(open_database(target))

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------ runs

    def runs(self, scorecard_name: str | None = None, limit: int = 50) -> pd.DataFrame:
        """Runs, newest first."""
        where, params = _by_name(scorecard_name)
        return self.db.query(
            f"SELECT * FROM {RUNS} {where} ORDER BY started_at DESC LIMIT {int(limit)}", params
        )

    def versions(self) -> pd.DataFrame:
        """Each scorecard version seen in a finished run, with when and how often."""
        return self.db.query(
            f"SELECT scorecard_name, scorecard_version, scorecard_hash, "
            "MIN(as_of) AS first_as_of, MAX(as_of) AS last_as_of, COUNT(*) AS runs, "
            "SUM(CASE WHEN mode = 'live' THEN 1 ELSE 0 END) AS live_runs, "
            "SUM(CASE WHEN mode = 'shadow' THEN 1 ELSE 0 END) AS shadow_runs, "
            "SUM(CASE WHEN mode = 'backfill' THEN 1 ELSE 0 END) AS backfill_runs, "
            "MAX(finished_at) AS last_run_at "
            f"FROM {RUNS} WHERE status = 'done' "
            "GROUP BY scorecard_name, scorecard_version, scorecard_hash "
            "ORDER BY scorecard_name, MIN(started_at)"
        )

    def latest_run(
        self,
        scorecard_name: str,
        mode: RunMode = "live",
        before: str | None = None,
        scope: RunScope | None = None,
    ) -> str | None:
        """The newest finished run (of `scope`, or any; or the newest older than `before`),
        in the run order: by as-of date, then finish time. Asked in SQL: a service that
        rescores after every event stores a run per rescore."""
        return latest_run(self.db, scorecard_name, mode, before, scope)

    def scores(self, run_id: str) -> pd.DataFrame:
        """Every row of one run, decoded."""
        rows = self.db.query(f"SELECT s.*, {WITH_OVERRIDE} WHERE s.run_id = ?", (run_id,))
        return decode(rows)

    def current(
        self,
        scorecard_name: str,
        mode: RunMode = "live",
        before: str | None = None,
        accounts: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Each account's newest row: the last full run, with accounts rescored since laid
        over it (empty when there is no run). With `before`, as it was before that run; with
        `accounts`, only theirs (what rescoring a few needs, without decoding them all)."""
        chosen = Filters(accounts=None if accounts is None else tuple(accounts))
        return current_rows(self.db, scorecard_name, mode, before=before, filters=chosen)[1]

    def current_page(
        self,
        scorecard_name: str,
        filters: Filters,
        sort: Sort = "account_id",
        limit: int = 100,
        offset: int = 0,
        mode: RunMode = "live",
    ) -> tuple[int, pd.DataFrame]:
        """Current rows passing `filters`, sorted and paged by the database: how many pass,
        and the page (only it is decoded)."""
        return current_rows(
            self.db, scorecard_name, mode, filters=filters, sort=sort, limit=limit, offset=offset
        )

    def recent(
        self,
        scorecard_name: str,
        before: dt.date,
        days: int,
        mode: RunMode = "live",
        accounts: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Rows of finished runs with as_of in [before - days, before), oldest first (of
        `accounts` only, when given: a rescore of a few needs no one else's history)."""
        where, params = "", [scorecard_name, mode, before - dt.timedelta(days=days), before]
        if accounts is not None:
            where = f" AND s.account_id IN ({', '.join('?' * len(accounts))})" if accounts else ""
            where = where or " AND 1 = 0"
            params += list(accounts)
        return self.db.query(
            f"SELECT {_RECENT_COLUMNS} FROM {SCORES} s JOIN {RUNS} r ON r.run_id = s.run_id "
            "WHERE r.scorecard_name = ? AND r.mode = ? AND r.status = 'done' "
            f"AND s.as_of >= ? AND s.as_of < ?{where} ORDER BY s.as_of, r.finished_at",
            params,
        )

    def history(
        self, account_id: str, scorecard_name: str | None = None, mode: RunMode = "live"
    ) -> pd.DataFrame:
        """One account's stored rows over time, oldest first, with run ids and modes."""
        where = "AND r.scorecard_name = ?" if scorecard_name else ""
        params: tuple[str, ...] = (account_id, mode, *((scorecard_name,) if scorecard_name else ()))
        rows = self.db.query(
            f"SELECT s.*, r.mode, r.finished_at, {WITH_OVERRIDE} "
            f"JOIN {RUNS} r ON r.run_id = s.run_id "
            f"WHERE s.account_id = ? AND r.mode = ? AND r.status = 'done' {where} "
            "ORDER BY s.as_of, r.finished_at",
            params,
        )
        return decode(rows)

    def known_account(self, scorecard_name: str, account_id: str) -> bool:
        """Whether any finished run of the scorecard scored the account."""
        found = self.db.query(
            f"SELECT 1 AS hit FROM {SCORES} WHERE scorecard_name = ? AND account_id = ? LIMIT 1",
            (scorecard_name, account_id),
        )
        return not found.empty


def _by_name(name: str | None) -> tuple[str, tuple[str, ...]]:
    return ("WHERE scorecard_name = ?", (name,)) if name else ("", ())
