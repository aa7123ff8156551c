"""Sorted copies of a table's ids, so that checking a few new rows for duplicates reads a
few blocks instead of the whole id column.

The events table is stored clustered by account and time (what the metrics read fast),
so its ids are spread over every block: checking one new event's id scanned the whole
column, about 17 ms per 20M events here and growing with the table. A copy of the ids in
id order lets DuckDB skip every block whose min/max cannot hold the id (0.4-0.8 ms at
20M). Two tables per contract table: `healthscore_keys__T`, sorted when (re)built, and
`healthscore_newkeys__T`, the ids appended since (small, scanned whole). Lookups read
both.

They are written in the intake's own transaction, so they hold exactly the table's ids.
Anything else that writes the table (a file ingest that re-clusters it, the user's own
loads) changes its row count; a count that no longer matches the copies, or new ids past
a tenth of the table, rebuilds them (seconds at 100M rows, so it is also done at service
start).
"""

from __future__ import annotations

import duckdb

from healthscore.compute._ingest_checks import exists, quote

# Appended ids are merged into the sorted copy past this many (and a tenth of the table).
MERGE_AFTER = 1_000_000


def _names(table: str) -> tuple[str, str]:
    return f"healthscore_keys__{table}", f"healthscore_newkeys__{table}"


def _count(cursor: duckdb.DuckDBPyConnection, relation: str) -> int:
    found = cursor.execute(f"SELECT count(*) FROM {relation}").fetchone()
    return int(found[0]) if found else 0


def fresh_keys(cursor: duckdb.DuckDBPyConnection, table: str, id_column: str) -> str:
    """A relation with column `key` holding the ids of `table` (built or rebuilt first
    when missing, stale or with too many unsorted ids)."""
    names = _names(table)
    sorted_keys, new_keys = (quote(name) for name in names)
    both = f"(SELECT key FROM {sorted_keys} UNION ALL SELECT key FROM {new_keys})"
    rows = _count(cursor, quote(table))
    if all(exists(cursor, name) for name in names):
        appended = _count(cursor, new_keys)
        fresh = _count(cursor, sorted_keys) + appended == rows
        if fresh and appended <= max(MERGE_AFTER, rows // 10):
            return both
    cursor.execute(
        f"CREATE OR REPLACE TABLE {sorted_keys} AS "
        f"SELECT {quote(id_column)} AS key FROM {quote(table)} ORDER BY key"
    )
    cursor.execute(f"CREATE OR REPLACE TABLE {new_keys} AS SELECT * FROM {sorted_keys} LIMIT 0")
    return both


def add_keys(cursor: duckdb.DuckDBPyConnection, table: str, ids: str) -> None:
    """Append the ids selected by the query `ids` (one column) to the unsorted copy."""
    cursor.execute(f"INSERT INTO {quote(_names(table)[1])} {ids}")
