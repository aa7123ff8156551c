"""(b) The practical limit: ONE hand-written DuckDB query over the same Parquet files.

It computes the same metrics as benchmarks/scorecard.yaml and the same score (linear
sub-scores, weights normalized within and across groups, the login trend reweighted away
when there were no logins in the previous 30 days, the payment gate). Only the final
rounding to 2 decimals and the tier names happen in numpy, exactly as the engine does
them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np

from benchmarks._common import Scores, finish, midnight

QUERY = """
WITH ev AS (
    SELECT
        account_id,
        count(*) FILTER (WHERE type = 'login' AND ts >= {d30}) AS logins_30d,
        count(*) FILTER (WHERE type = 'login' AND ts >= {d60} AND ts < {d30}) AS logins_prev,
        count(DISTINCT user_id) FILTER (WHERE ts >= {d30}) AS active_users_30d,
        max(ts) FILTER (WHERE type = 'login') AS last_login
    FROM read_parquet({events})
    WHERE ts < {as_of}
    GROUP BY account_id
),
inv AS (
    SELECT account_id, count(*) AS failed_payments_90d
    FROM read_parquet({invoices})
    WHERE status = 'failed' AND ts >= {d90} AND ts < {as_of}
    GROUP BY account_id
),
metrics AS (
    SELECT
        a.account_id,
        coalesce(ev.logins_30d, 0)::DOUBLE AS logins_30d,
        (coalesce(ev.logins_30d, 0)::DOUBLE
            / nullif(coalesce(ev.logins_prev, 0)::DOUBLE, 0) - 1) * 100 AS logins_change_30d,
        coalesce(ev.active_users_30d, 0)::DOUBLE / nullif(a.seats::DOUBLE, 0)
            AS seat_utilization,
        epoch({as_of}) / 86400.0 - floor(epoch(ev.last_login)) / 86400.0 AS days_since_login,
        coalesce(inv.failed_payments_90d, 0)::DOUBLE AS failed_payments_90d
    FROM read_parquet({accounts}) AS a
    LEFT JOIN ev ON ev.account_id = a.account_id
    LEFT JOIN inv ON inv.account_id = a.account_id
    WHERE a.created_at < {as_of}
),
subs AS (
    -- linear measures: clip((value - bad) / (good - bad), 0, 1) * 100; NULL = no data.
    -- greatest/least skip NULLs in DuckDB, so nullable metrics are tested first.
    SELECT
        account_id,
        failed_payments_90d,
        greatest(0.0, least(1.0, logins_30d / 40.0)) * 100 AS login_volume,
        CASE WHEN days_since_login IS NULL THEN 0.0  -- missing: worst
            ELSE greatest(0.0, least(1.0, (days_since_login - 30) / -30.0)) * 100
        END AS login_recency,
        greatest(0.0, least(1.0, (seat_utilization - 0.1) / 0.6)) * 100 AS seat_utilization,
        CASE WHEN logins_change_30d IS NOT NULL
            THEN greatest(0.0, least(1.0, (logins_change_30d + 50) / 50.0)) * 100
        END AS login_trend  -- missing: reweight
    FROM metrics
),
scored AS (
    -- 50 + the sum of each measure's impact, effective weight x (sub-score - 50), in the
    -- engine's order (so even a score landing on x.xx5 rounds the same way). Effective
    -- weight = group weight / 100 x measure weight / weight of the group's present measures.
    SELECT
        account_id,
        failed_payments_90d,
        greatest(0.0, least(100.0, 50 + (
            0.5 * (2 / 3) * (login_volume - 50)
            + 0.5 * (1 / 3) * (login_recency - 50)
            + 0.3 * (CASE WHEN login_trend IS NULL THEN 1 ELSE 2 / 3 END) * (seat_utilization - 50)
            + 0.3 * (CASE WHEN login_trend IS NULL THEN 0 ELSE 1 / 3 END)
                * (coalesce(login_trend, 50) - 50)
            + 0.2 * (payment_failures - 50)
        ))) AS score
    FROM (
        SELECT *, greatest(0.0, least(1.0, (failed_payments_90d - 2) / -2.0)) * 100
            AS payment_failures
        FROM subs
    )
)
SELECT
    account_id,
    CASE WHEN failed_payments_90d >= 2 THEN least(score, 40.0) ELSE score END AS score
FROM scored
"""


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def query(data_dir: Path, as_of: dt.date) -> str:
    """The query text for the files in data_dir (a benchmark, not user input)."""
    end = midnight(as_of)

    def stamp(days: int) -> str:
        return f"TIMESTAMP '{end - dt.timedelta(days=days):%Y-%m-%d %H:%M:%S}'"

    return QUERY.format(
        as_of=stamp(0),
        d30=stamp(30),
        d60=stamp(60),
        d90=stamp(90),
        events=_literal(data_dir / "events.parquet"),
        invoices=_literal(data_dir / "invoices.parquet"),
        accounts=_literal(data_dir / "accounts.parquet"),
    )


def score(data_dir: Path, as_of: dt.date) -> Scores:
    with duckdb.connect() as con:
        columns = con.sql(query(data_dir, as_of)).fetchnumpy()
    raw = np.asarray(columns["score"], dtype=np.float64)
    return finish(np.asarray(columns["account_id"], dtype=object), raw)
