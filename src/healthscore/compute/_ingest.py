"""Load CSV or Parquet files into the DuckDB warehouse, checked against the data contract.

Good rows are kept, bad rows go to `healthscore_rejects` with a reason each, rows whose id
is already stored are skipped (re-ingesting a file never double-counts), and the table is
rewritten clustered by (account_id, time) so per-account reads are contiguous.
All of it happens in one transaction: a failure leaves the warehouse as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from healthscore.compute._contract import CONTRACTS

REJECTS_TABLE = "healthscore_rejects"
ID_COLUMNS = {
    "accounts": "account_id",
    "events": "event_id",
    "identities": "user_id",
    "subscriptions": "subscription_id",
    "orders": "order_id",
    "invoices": "invoice_id",
    "tickets": "ticket_id",
    "surveys": "survey_id",
    "outcomes": None,
}


@dataclass
class IngestSummary:
    table: str
    files: list[str]
    read: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected: dict[str, int] = field(default_factory=dict)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


class IngestError(ValueError):
    """A file cannot be ingested at all (missing file or contract columns)."""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _read(cursor: duckdb.DuckDBPyConnection, path: Path) -> duckdb.DuckDBPyRelation:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return cursor.read_parquet(str(path))
    if suffix in (".csv", ".tsv", ".txt", ".gz"):
        # Text columns stay text, so a bad timestamp is a rejected row, not a failed load.
        return cursor.read_csv(str(path), all_varchar=True, header=True)
    raise IngestError(f"file '{path}' must be .parquet or .csv")


def ingest_files(
    con: duckdb.DuckDBPyConnection,
    table: str,
    paths: Sequence[Path],
    now: dt.datetime | None = None,
) -> IngestSummary:
    """Ingest `paths` into the contract table `table`; see the module docstring."""
    if table not in CONTRACTS:
        raise IngestError(f"table must be one of {', '.join(CONTRACTS)}. Got '{table}' instead.")
    contract = CONTRACTS[table]
    now = now or dt.datetime.now()
    summary = IngestSummary(table=table, files=[str(p) for p in paths])
    for path in paths:
        if not path.is_file():
            raise IngestError(f"file '{path}' not found")
    cursor = con.cursor()
    cursor.begin()
    try:
        for path in paths:
            _ingest_one(cursor, contract.name, path, now, summary)
        if contract.time is not None and _exists(cursor, table):
            cursor.execute(
                f"CREATE OR REPLACE TABLE {_quote(table)} AS SELECT * FROM {_quote(table)} "
                f"ORDER BY {_quote(contract.key)}, {_quote(contract.time)}"
            )
        cursor.commit()
    except BaseException:
        cursor.rollback()
        raise
    finally:
        cursor.close()
    return summary


def _exists(cursor: duckdb.DuckDBPyConnection, table: str) -> bool:
    found = cursor.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
    ).fetchone()
    return bool(found and found[0])


def _ingest_one(
    cursor: duckdb.DuckDBPyConnection,
    table: str,
    path: Path,
    now: dt.datetime,
    summary: IngestSummary,
) -> None:
    contract = CONTRACTS[table]
    staged = _read(cursor, path)
    staged.create_view("_staged_raw", replace=True)
    columns = list(staged.columns)
    missing = [c for c in contract.required if c not in columns]
    if missing:
        raise IngestError(
            f"file '{path}' lacks the contract column(s) {', '.join(missing)}. "
            f"Columns in file: {', '.join(columns)}"
        )
    id_column = ID_COLUMNS.get(table)
    checks = _row_checks(cursor, table, contract.required, contract.temporal, columns)
    reason = "CASE " + " ".join(f"WHEN {cond} THEN '{text}'" for cond, text in checks) + " END"
    typed = ", ".join(_typed(c, contract.temporal, contract.numeric) for c in columns)
    cursor.execute(
        f"CREATE OR REPLACE TEMP TABLE _staged AS SELECT row_number() OVER () AS _row, "
        f"{reason} AS _reason, {typed} FROM _staged_raw",
        _parameters(checks, now),
    )
    cursor.execute("DROP VIEW _staged_raw")
    read = _count(cursor, "SELECT count(*) FROM _staged")
    rejected = 0
    for text, count in cursor.execute(
        "SELECT _reason, count(*) FROM _staged WHERE _reason IS NOT NULL GROUP BY 1"
    ).fetchall():
        summary.rejected[text] = summary.rejected.get(text, 0) + int(count)
        rejected += int(count)
    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS {REJECTS_TABLE} (ingested_at TIMESTAMP, "
        '"table" VARCHAR, file VARCHAR, "row" BIGINT, reason VARCHAR, data VARCHAR)'
    )
    packed = ", ".join(f"{_quote(c)} := {_quote(c)}" for c in columns)
    cursor.execute(
        f"INSERT INTO {REJECTS_TABLE} SELECT ?, ?, ?, _row, _reason, "
        f"to_json(struct_pack({packed}))::VARCHAR "
        f"FROM _staged WHERE _reason IS NOT NULL",
        [now, table, str(path)],
    )
    good = "SELECT * EXCLUDE (_row, _reason) FROM _staged WHERE _reason IS NULL"
    if id_column in columns:
        # Keep the first row of each id within the file.
        good = (
            f"SELECT * EXCLUDE (_row, _reason) FROM _staged WHERE _reason IS NULL "
            f"QUALIFY row_number() OVER (PARTITION BY {_quote(id_column)} ORDER BY _row) = 1"
        )
    if not _exists(cursor, table):
        cursor.execute(f"CREATE TABLE {_quote(table)} AS {good} LIMIT 0")
    cursor.execute(f"CREATE OR REPLACE TEMP TABLE _good AS {good}")
    if id_column in columns:
        cursor.execute(
            f"DELETE FROM _good WHERE {_quote(id_column)} IN "
            f"(SELECT {_quote(id_column)} FROM {_quote(table)})"
        )
    target = ", ".join(_quote(c) for c in columns)
    cursor.execute(f"INSERT INTO {_quote(table)} ({target}) SELECT {target} FROM _good")
    inserted = _count(cursor, "SELECT count(*) FROM _good")
    summary.read += read
    summary.inserted += inserted
    summary.duplicates += read - rejected - inserted
    cursor.execute("DROP TABLE _staged; DROP TABLE _good")


def _count(cursor: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = cursor.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _typed(column: str, temporal: Sequence[str], numeric: Sequence[str]) -> str:
    if column in temporal:
        return f"TRY_CAST({_quote(column)} AS TIMESTAMP) AS {_quote(column)}"
    if column in numeric:
        return f"TRY_CAST({_quote(column)} AS DOUBLE) AS {_quote(column)}"
    return _quote(column)


def _row_checks(
    cursor: duckdb.DuckDBPyConnection,
    table: str,
    required: Sequence[str],
    temporal: Sequence[str],
    columns: Sequence[str],
) -> list[tuple[str, str]]:
    checks = [
        (f"{_quote(c)} IS NULL OR trim(CAST({_quote(c)} AS VARCHAR)) = ''", f"missing {c}")
        for c in required
    ]
    for c in temporal:
        if c in columns:
            checks.append(
                (
                    f"{_quote(c)} IS NOT NULL AND TRY_CAST({_quote(c)} AS TIMESTAMP) IS NULL",
                    f"unparseable {c}",
                )
            )
    time = CONTRACTS[table].time
    if time is not None and time in columns and table != "accounts":
        checks.append(
            (f"TRY_CAST({_quote(time)} AS TIMESTAMP) > ?::TIMESTAMP", f"{time} in the future")
        )
    if table != "accounts" and "account_id" in columns and _exists(cursor, "accounts"):
        checks.append(
            (
                "CAST(account_id AS VARCHAR) NOT IN (SELECT CAST(account_id AS VARCHAR) "
                "FROM accounts)",
                "unknown account_id",
            )
        )
    return checks


def _parameters(checks: list[tuple[str, str]], now: dt.datetime) -> list[Any]:
    return [now for condition, _ in checks if "?" in condition]
