"""The dashboard's reads: the store's tables (SQL with `?` placeholders) and the warehouse.

Store reads run on the handler's thread (the store gives each thread its own cursor);
warehouse reads go through `ServiceLike.call`, one engine call at a time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from healthscore.engine import Engine
from healthscore.store._database import Database
from healthscore.store._overrides import active_overrides
from healthscore.store._schema import ACTIONS, RUNS, SCORES

EVENTS_SHOWN = 20
ACTIONS_SHOWN = 50

# One count per (as_of, tier) over full live runs; when a date was scored twice, its
# latest run counts (account rescorings cover a few accounts and are left out).
_TIERS_OVER_TIME = f"""
WITH full_runs AS (
    SELECT run_id, ROW_NUMBER() OVER (PARTITION BY as_of ORDER BY finished_at DESC) AS n
    FROM {RUNS}
    WHERE scorecard_name = ? AND mode = 'live' AND status = 'done'
      AND COALESCE(scope, 'all') = 'all'
)
SELECT s.as_of AS as_of, s.tier AS tier, COUNT(*) AS accounts
FROM {SCORES} s JOIN full_runs f ON f.run_id = s.run_id
WHERE f.n = 1
GROUP BY s.as_of, s.tier
ORDER BY s.as_of, s.tier
"""

_ACTIONS_OF = f"""
SELECT as_of, playbook, why, action_type, group_name, status, detail, logged_at
FROM {ACTIONS}
WHERE scorecard_name = ? AND account_id = ?
ORDER BY logged_at DESC, action_index
LIMIT {ACTIONS_SHOWN}
"""


def tiers_over_time(db: Database, scorecard_name: str) -> pd.DataFrame:
    """Accounts per tier on each date a full live run scored."""
    frame = db.query(_TIERS_OVER_TIME, (scorecard_name,))
    frame["as_of"] = pd.to_datetime(frame["as_of"]).dt.strftime("%Y-%m-%d")
    frame["accounts"] = frame["accounts"].astype("int64")
    return frame


def actions_of(db: Database, scorecard_name: str, account_id: str) -> pd.DataFrame:
    """The account's playbook actions, newest first."""
    return db.query(_ACTIONS_OF, (scorecard_name, account_id))


def override_in_force(db: Database, scorecard_name: str, account_id: str) -> dict[str, object]:
    """The account's active override as a dict, or an empty one."""
    found = active_overrides(db, scorecard_name, dt.date.today(), [account_id])
    return {} if found.empty else {str(k): v for k, v in found.iloc[-1].items()}


def recent_events(engine: Engine, account_id: str) -> pd.DataFrame | None:
    """The account's newest warehouse events (None when the scorecard maps no events).

    Call it through `ServiceLike.call`: it runs on the warehouse connection.
    """
    if not engine.sources.has("events"):
        return None
    events = engine.sources.table("events")
    picked = events.filter(events.account_id == account_id)
    if "ts" in picked.columns:
        picked = picked.order_by(picked.ts.desc())
    frame: pd.DataFrame = picked.limit(EVENTS_SHOWN).execute()
    return frame


@dataclass(frozen=True)
class Queue:
    """The at-risk work queue after filters: one page of rows, and how it is sorted."""

    rows: pd.DataFrame
    total: int
    page: int
    pages: int
    by_revenue: bool


def work_queue(
    current: pd.DataFrame, filters: dict[str, str | None], page: int, size: int
) -> Queue:
    """Current rows filtered by segment, owner and tier; most revenue at risk first when
    any row has it, else lowest score first."""
    frame = current
    for column in ("segment", "owner", "tier"):
        chosen = filters.get(column)
        if chosen:
            frame = frame[frame[column].astype(str) == chosen]
    by_revenue = bool("revenue_at_risk" in frame.columns and frame["revenue_at_risk"].notna().any())
    if by_revenue:
        frame = frame.sort_values(
            ["revenue_at_risk", "score", "account_id"],
            ascending=[False, True, True],
            na_position="last",
            kind="stable",
        )
    else:
        frame = frame.sort_values(["score", "account_id"], kind="stable")
    total = len(frame)
    pages = max(1, -(-total // size))
    page = min(max(page, 1), pages)
    start = (page - 1) * size
    return Queue(frame.iloc[start : start + size], total, page, pages, by_revenue)


def choices(current: pd.DataFrame, column: str) -> list[str]:
    """The distinct non-empty values of a column, sorted, for a filter's options."""
    if column not in current.columns:
        return []
    return sorted({str(v) for v in current[column].dropna() if str(v)})
