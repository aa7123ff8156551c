"""Ingest: bad rows rejected with a reason each, good rows kept, no double counting."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from healthscore.compute._ingest import IngestError, ingest_files

NOW = dt.datetime(2026, 7, 1)


@pytest.fixture
def warehouse(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("account_id,name,created_at\na1,Acme,2025-01-01\na2,Bolt,2025-02-01\n")
    ingest_files(con, "accounts", [accounts], now=NOW)
    return con


def write_events(path: Path) -> Path:
    path.write_text(
        "event_id,account_id,user_id,ts,type,value\n"
        "1,a2,u2,2026-01-02 09:00,login,1\n"
        "2,a1,u1,2026-01-01 10:00,login,1\n"
        "3,,u2,2026-01-02,login,1\n"
        "4,a9,u1,2026-01-01,login,1\n"
        "5,a1,u1,not-a-date,login,1\n"
        "6,a1,u1,2099-01-01,login,1\n"
        "7,a1,u1,2026-01-03,,1\n"
        "2,a1,u1,2026-01-01 10:00,login,1\n"
    )
    return path


def test_bad_rows_are_rejected_with_reasons(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    summary = ingest_files(warehouse, "events", [write_events(tmp_path / "e.csv")], now=NOW)
    assert (summary.read, summary.inserted, summary.duplicates) == (8, 2, 1)
    assert summary.rejected == {
        "missing account_id": 1,
        "unknown account_id": 1,
        "unparseable ts": 1,
        "ts in the future": 1,
        "missing type": 1,
    }
    rejects = warehouse.execute(
        'SELECT "row", reason, data FROM healthscore_rejects ORDER BY "row"'
    ).fetchall()
    assert [(row, reason) for row, reason, _ in rejects] == [
        (3, "missing account_id"),
        (4, "unknown account_id"),
        (5, "unparseable ts"),
        (6, "ts in the future"),
        (7, "missing type"),
    ]
    assert '"event_id":"4"' in rejects[1][2]


def test_reingesting_does_not_double_count(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write_events(tmp_path / "e.csv")
    ingest_files(warehouse, "events", [path], now=NOW)
    again = ingest_files(warehouse, "events", [path], now=NOW)
    assert again.inserted == 0 and again.duplicates == 3
    count = warehouse.execute("SELECT count(*) FROM events").fetchone()
    assert count == (2,)


def test_events_are_stored_clustered_by_account_and_time(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    ingest_files(warehouse, "events", [write_events(tmp_path / "e.csv")], now=NOW)
    parquet = tmp_path / "more.parquet"
    pd.DataFrame(
        {
            "event_id": ["10", "11", "12"],
            "account_id": ["a2", "a1", "a1"],
            "user_id": "u",
            "ts": pd.to_datetime(["2026-02-01", "2026-01-05", "2025-12-01"]),
            "type": "login",
            "value": 1.0,
        }
    ).to_parquet(parquet)
    summary = ingest_files(warehouse, "events", [parquet], now=NOW)
    assert summary.inserted == 3
    rows = warehouse.execute("SELECT account_id, ts FROM events").fetchall()
    assert rows == sorted(rows)


def test_a_file_without_contract_columns_changes_nothing(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    good = write_events(tmp_path / "good.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("id,when\n1,2026-01-01\n")
    with pytest.raises(IngestError, match="lacks the contract column"):
        ingest_files(warehouse, "events", [good, bad], now=NOW)
    tables = {row[0] for row in warehouse.execute("SHOW TABLES").fetchall()}
    assert "events" not in tables  # the good file's rows were rolled back too


def test_unknown_table_names_the_choices(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    with pytest.raises(IngestError, match="must be one of accounts, events"):
        ingest_files(warehouse, "clicks", [tmp_path / "x.csv"], now=NOW)
