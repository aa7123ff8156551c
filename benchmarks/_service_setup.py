"""The service benchmark's warehouse, scorecard and baseline.

The benchmark data (benchmarks/_data.py) is loaded into a DuckDB file clustered by
account and time, as `healthscore demo` loads it; the scorecard is benchmarks/scorecard.yaml
over those tables plus one task playbook, so a rescore runs the playbooks as a deployment
would. The baseline is the same one-account aggregate and score as one hand-written query.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import yaml
from rich.progress import Progress

from benchmarks import _data
from benchmarks._common import midnight

TABLES = ("accounts", "events", "invoices", "subscriptions")
WAREHOUSE = "healthscore.duckdb"
PLAYBOOKS = {
    "rescue_red": {
        "label": "Rescue accounts that turn red",
        "trigger": {"enter_tier": "red"},
        "cooldown": "30d",
        "actions": [{"task": {"title": "Call {account_id}. Top reasons: {reasons}", "sla": "3d"}}],
    }
}
BIN = [sys.executable, "-m", "healthscore.cli.main"]

# benchmarks/_sql.py's metrics and score for ONE account, read from the warehouse tables.
ONE_ACCOUNT = """
WITH ev AS (
    SELECT
        count(*) FILTER (WHERE type = 'login' AND ts >= $d30) AS logins_30d,
        count(*) FILTER (WHERE type = 'login' AND ts >= $d60 AND ts < $d30) AS logins_prev,
        count(DISTINCT user_id) FILTER (WHERE ts >= $d30) AS active_users_30d,
        max(ts) FILTER (WHERE type = 'login') AS last_login
    FROM events
    WHERE account_id = $account AND ts < $as_of
),
inv AS (
    SELECT count(*) AS failed_payments_90d
    FROM invoices
    WHERE account_id = $account AND status = 'failed' AND ts >= $d90 AND ts < $as_of
),
metrics AS (
    SELECT
        a.account_id,
        ev.logins_30d::DOUBLE AS logins_30d,
        (ev.logins_30d::DOUBLE / nullif(ev.logins_prev::DOUBLE, 0) - 1) * 100
            AS logins_change_30d,
        ev.active_users_30d::DOUBLE / nullif(a.seats::DOUBLE, 0) AS seat_utilization,
        epoch($as_of) / 86400.0 - floor(epoch(ev.last_login)) / 86400.0 AS days_since_login,
        inv.failed_payments_90d::DOUBLE AS failed_payments_90d
    FROM accounts AS a, ev, inv
    WHERE a.account_id = $account AND a.created_at < $as_of
),
subs AS (
    SELECT
        account_id,
        failed_payments_90d,
        greatest(0.0, least(1.0, logins_30d / 40.0)) * 100 AS login_volume,
        CASE WHEN days_since_login IS NULL THEN 0.0
            ELSE greatest(0.0, least(1.0, (days_since_login - 30) / -30.0)) * 100
        END AS login_recency,
        greatest(0.0, least(1.0, (seat_utilization - 0.1) / 0.6)) * 100 AS seat_utilization,
        CASE WHEN logins_change_30d IS NOT NULL
            THEN greatest(0.0, least(1.0, (logins_change_30d + 50) / 50.0)) * 100
        END AS login_trend,
        greatest(0.0, least(1.0, (failed_payments_90d - 2) / -2.0)) * 100 AS payment_failures
    FROM metrics
),
scored AS (
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
    FROM subs
)
SELECT
    account_id,
    round(CASE WHEN failed_payments_90d >= 2 THEN least(score, 40.0) ELSE score END, 2)
FROM scored
"""


def data_directory(accounts: int, events_target: int, progress: Progress) -> _data.DataSet:
    """The cached benchmark data of run.py (generated on first use)."""
    task = progress.add_task("data", total=1)

    def report(step: str, done: int, total: int) -> None:
        progress.update(task, description=f"data: {step}", completed=done, total=total)

    data = _data.ensure(_data.Size(accounts=accounts, events_target=events_target), (), report)
    progress.update(task, description="data", completed=1, total=1)
    return data


def write_scorecard(directory: Path) -> Path:
    """benchmarks/scorecard.yaml over the warehouse's tables, plus the playbook."""
    card = yaml.safe_load(_data.SCORECARD.read_text())
    card["warehouse"] = f"duckdb://{WAREHOUSE}"
    card["sources"] = {name: {"table": name} for name in card["sources"]}
    card["playbooks"] = PLAYBOOKS
    path = directory / "scorecard.yaml"
    path.write_text(yaml.safe_dump(card, sort_keys=False))
    return path


def load_warehouse(
    directory: Path, data: _data.DataSet, shift_days: int, progress: Progress
) -> float:
    """Load the tables into DuckDB ordered by account and time, as `healthscore demo` does,
    every date and time moved `shift_days` later; returns the seconds it took.

    The service rescores as of tomorrow: moved, the data ends yesterday instead of on
    2026-06-30, and its 30-day windows hold what they hold in run.py's scores.
    """
    from healthscore.compute._contract import CONTRACTS

    source = data.directory("clustered")
    task = progress.add_task("loading into DuckDB", total=len(TABLES))
    started = time.perf_counter()
    with duckdb.connect(str(directory / WAREHOUSE)) as con:
        for table in TABLES:
            path = str(source / f"{table}.parquet")
            kinds = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [path]).fetchall()
            # DATE + integer stays a DATE; TIMESTAMP + INTERVAL a TIMESTAMP.
            step = {"DATE": f"{int(shift_days)}", "TIMESTAMP": f"INTERVAL {int(shift_days)} DAY"}
            moved = [
                f'"{name}" + {step[kind]} AS "{name}"' for name, kind, *_ in kinds if kind in step
            ]
            replace = f" REPLACE ({', '.join(moved)})" if moved else ""
            contract = CONTRACTS[table]
            order = f' ORDER BY "{contract.key}", "{contract.time}"' if contract.time else ""
            con.execute(
                f'CREATE TABLE "{table}" AS SELECT *{replace} FROM read_parquet(?){order}', [path]
            )
            progress.advance(task)
    return time.perf_counter() - started


def cli(*args: str) -> str:
    done = subprocess.run([*BIN, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"healthscore {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def first_run_and_key(card: Path, as_of: dt.date) -> tuple[float, str]:
    """`healthscore score` (the first full run to serve) and an admin key's token."""
    started = time.perf_counter()
    cli("score", "-c", str(card), "--as-of", as_of.isoformat())
    seconds = time.perf_counter() - started
    out = cli(
        "keys", "create", "--role", "admin", "--name", "bench", "--by", "bench", "-c", str(card)
    )
    token = re.search(r"hs_\S+", out)
    if token is None:
        raise SystemExit(f"no key in the output of `healthscore keys create`:\n{out}")
    return seconds, token.group(0)


def sample_accounts(directory: Path) -> list[str]:
    """Every account of the first full run, sorted (the load generator samples them)."""
    with duckdb.connect(str(directory / WAREHOUSE), read_only=True) as con:
        rows = con.execute(
            "SELECT account_id FROM healthscore_scores ORDER BY account_id"
        ).fetchall()
    return [str(row[0]) for row in rows]


def next_event_id(directory: Path) -> int:
    with duckdb.connect(str(directory / WAREHOUSE), read_only=True) as con:
        found = con.execute("SELECT max(event_id) FROM events").fetchone()
    return int(found[0] if found and found[0] is not None else 0) + 1


def baseline(directory: Path, accounts: list[str], as_of: dt.date) -> dict[str, Any]:
    """The one-account query per account: seconds each, and the largest difference from
    the first full run's computed score (both as of the same date, before any event)."""
    end = midnight(as_of)
    params: dict[str, Any] = {
        "as_of": end,
        **{f"d{days}": end - dt.timedelta(days=days) for days in (30, 60, 90)},
    }
    seconds: list[float] = []
    worst = 0.0
    with duckdb.connect(str(directory / WAREHOUSE), read_only=True) as con:
        stored = dict(
            con.execute("SELECT account_id, computed_score FROM healthscore_scores").fetchall()
        )
        for account in accounts[:5]:  # warm-up: the first queries read the file
            con.execute(ONE_ACCOUNT, {**params, "account": account}).fetchall()
        for account in accounts:
            started = time.perf_counter()
            rows = con.execute(ONE_ACCOUNT, {**params, "account": account}).fetchall()
            seconds.append(time.perf_counter() - started)
            if rows and rows[0][1] is not None and stored.get(account) is not None:
                worst = max(worst, abs(float(rows[0][1]) - float(stored[account])))
    return {
        "seconds": seconds,
        "median_s": statistics.median(seconds),
        "max_score_diff_vs_engine": worst,
    }
