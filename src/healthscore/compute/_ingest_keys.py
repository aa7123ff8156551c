"""Sorted copies of a table's ids, so that checking a few new rows for duplicates reads a
few blocks instead of the whole id column.

The events table is stored clustered by account and time (what the metrics read fast),
so its ids are spread over every block: checking one new event's id scanned the whole
column, about 17 ms per 20M events here and growing with the table. A copy of the ids in
id order lets DuckDB skip every block whose min/max cannot hold the id (0.4-0.8 ms at
20M). Two tables per contract table: `healthscore_keys__T`, sorted when (re)built, and
`healthscore_newkeys__T`, the ids appended since (small, scanned whole). Lookups read
both.

They are written in the intake's own transaction, so they hold exactly the table's ids;
beside them the intake keeps the table's identity and its row total (the copies' rows).
Anything else that writes the table (a file ingest that re-clusters it, the user's own
loads) changes it behind their back. Per intake that is noticed cheaply: the table's
identity and DuckDB's stored row total (`duckdb_tables()`, no scan; counting 100M rows
after appends cost 12 ms per intake) are compared with what was kept. Only when they
differ are the table's rows counted in the intake's own snapshot against the copies (the
stored total can include rows another connection committed after that snapshot began,
and it does not fall on deletes), and the copies rebuilt if those differ too (seconds at
100M rows), as they are when a new table of that name replaced the old one or the new
ids pass a tenth of the table. At service start (`exact`) the counts are always compared.
A row deleted by hand is only noticed once the counts differ (until then, an event re-sent
with its id counts as a duplicate); ids changed in place are not noticed.
"""

from __future__ import annotations

import duckdb

from healthscore.compute._ingest_checks import ID_COLUMNS, exists, quote

# Appended ids are merged into the sorted copy past this many (and a tenth of the table).
MERGE_AFTER = 1_000_000
STATE = "healthscore_keys_state"


def keyed_column(cursor: duckdb.DuckDBPyConnection, table: str) -> str | None:
    """The id column whose copies an intake into `table` keeps: None when the table has
    no id column in the contract, or does not exist (yet), or lacks it."""
    id_column = ID_COLUMNS[table]
    if id_column is None or not exists(cursor, table):
        return None
    return id_column if id_column in cursor.table(quote(table)).columns else None


def _names(table: str) -> tuple[str, str]:
    return f"healthscore_keys__{table}", f"healthscore_newkeys__{table}"


def _count(cursor: duckdb.DuckDBPyConnection, relation: str) -> int:
    found = cursor.execute(f"SELECT count(*) FROM {relation}").fetchone()
    return int(found[0]) if found else 0


def _stored_total(cursor: duckdb.DuckDBPyConnection, table: str) -> tuple[int, int]:
    """The table's identity and DuckDB's stored row total: cheap, no scan."""
    # The table the unqualified name binds to: other attached databases may have one too.
    found = cursor.execute(
        "SELECT table_oid, estimated_size FROM duckdb_tables() WHERE table_name = ? "
        "AND database_name = current_database() AND schema_name = current_schema()",
        [table],
    ).fetchone()
    return (int(found[0]), int(found[1])) if found else (-1, -1)


def _synced(cursor: duckdb.DuckDBPyConnection, table: str) -> tuple[int, int] | None:
    if not exists(cursor, STATE):
        return None
    found = cursor.execute(
        f'SELECT table_oid, total FROM {STATE} WHERE "table" = ?', [table]
    ).fetchone()
    return (int(found[0]), int(found[1])) if found else None


def fresh_keys(
    cursor: duckdb.DuckDBPyConnection, table: str, id_column: str, exact: bool = False
) -> str:
    """A relation with column `key` holding the ids of `table` (built or rebuilt first
    when missing, stale or with too many unsorted ids); see the module for `exact`."""
    names = _names(table)
    sorted_keys, new_keys = (quote(name) for name in names)
    both = f"(SELECT key FROM {sorted_keys} UNION ALL SELECT key FROM {new_keys})"
    identity = _stored_total(cursor, table)
    if all(exists(cursor, name) for name in names):
        appended = _count(cursor, new_keys)
        synced = _synced(cursor, table)
        same_table = synced is not None and synced[0] == identity[0]
        fresh = same_table and synced == identity and not exact
        if same_table and not fresh:
            # Counted in this transaction's snapshot, as the copies are.
            fresh = _count(cursor, sorted_keys) + appended == _count(cursor, quote(table))
        if fresh and appended <= max(MERGE_AFTER, identity[1] // 10):
            return both
    cursor.execute(
        f"CREATE OR REPLACE TABLE {sorted_keys} AS "
        f"SELECT {quote(id_column)} AS key FROM {quote(table)} ORDER BY key"
    )
    cursor.execute(f"CREATE OR REPLACE TABLE {new_keys} AS SELECT * FROM {sorted_keys} LIMIT 0")
    cursor.execute(
        f'CREATE TABLE IF NOT EXISTS {STATE} ("table" VARCHAR PRIMARY KEY, '
        "table_oid BIGINT NOT NULL, total BIGINT NOT NULL)"
    )
    # The rows copied (this snapshot's), not the stored total, which may count more.
    copied = _count(cursor, sorted_keys)
    cursor.execute(f"INSERT OR REPLACE INTO {STATE} VALUES (?, ?, ?)", [table, identity[0], copied])
    return both


def add_keys(cursor: duckdb.DuckDBPyConnection, table: str, ids: str) -> None:
    """Append the ids selected by the query `ids` (one column; one per row appended to
    the table) to the unsorted copy, and count them into the synced total."""
    found = cursor.execute(f"INSERT INTO {quote(_names(table)[1])} {ids}").fetchone()
    added = int(found[0]) if found else 0
    cursor.execute(f'UPDATE {STATE} SET total = total + ? WHERE "table" = ?', [added, table])
