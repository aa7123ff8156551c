"""The contract checks shared by file ingest and row intake, and the transaction both write in.

Each path turns its input into the temporary view `_hs_raw` (one `_hs_row` number per input
row, from 1); `check` gives every row a status in one SQL statement — rejected with a reason,
duplicate (its id is stored already, or an earlier row of the input has it), or accepted —
and `write` appends the accepted rows and the rejects. Rows without an id are never
duplicates: nothing identifies them.

Writers of one table are serialized through its row in `healthscore_ingest_state`: every
write transaction updates that row first, and DuckDB's optimistic concurrency fails the
second of two overlapping transactions at once ("Conflict on update"). Checking ids and
appending alone would not do: two transactions that append the same id never conflict.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import TypeVar

import duckdb

from healthscore.compute._contract import CONTRACTS

REJECTS_TABLE = "healthscore_rejects"
STATE_TABLE = "healthscore_ingest_state"
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
RAW = "_hs_raw"
ROW = "_hs_row"
CHECKED = "_hs_checked"
# How long a writer waits for another writer of the same table before giving up.
BUSY_TIMEOUT = 60.0
# A trailing ISO-8601 zone after the time: Z, +02, +0200 or +02:00.
_ZONE = r"\d:\d\d(:\d\d(\.\d*)?)?\s*([Zz]|[+-]\d\d(:?\d\d)?)$"

T = TypeVar("T")


class IngestError(ValueError):
    """Input that cannot be ingested at all, or a table that other writers keep busy too long."""


class Status(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def utc_naive(now: dt.datetime | None) -> dt.datetime:
    """`now` (default: the current time) as a naive UTC time, how the contract stores time."""
    if now is None:
        now = dt.datetime.now(dt.UTC)
    return now if now.tzinfo is None else now.astimezone(dt.UTC).replace(tzinfo=None)


def check_table(table: str) -> None:
    if table not in CONTRACTS:
        raise IngestError(f"table must be one of {', '.join(CONTRACTS)}. Got '{table}' instead.")


def exists(cursor: duckdb.DuckDBPyConnection, table: str) -> bool:
    # Binding the name: a hundredth of a millisecond, against one for information_schema.
    try:
        cursor.table(quote(table))
    except duckdb.CatalogException:
        return False
    return True


def write_transaction(
    con: duckdb.DuckDBPyConnection, table: str, work: Callable[[duckdb.DuckDBPyConnection], T]
) -> T:
    """Run `work` in one transaction on a new cursor that owns `table`'s writes; retry on conflict.

    A conflict means another writer of the table is in flight or committed meanwhile; the
    retry starts a new snapshot that sees its rows, so an id it inserted becomes a duplicate.
    """
    cursor = con.cursor()
    deadline = time.monotonic() + BUSY_TIMEOUT
    delay = 0.001
    try:
        while True:
            try:
                if _prepare(cursor, table):
                    cursor.begin()
                    # The first statement: it fixes the snapshot and claims the table.
                    claimed = cursor.execute(
                        f'UPDATE {STATE_TABLE} SET ingests = ingests + 1 WHERE "table" = ?',
                        [table],
                    ).fetchone()
                    if claimed and claimed[0]:
                        result = work(cursor)
                        cursor.commit()
                        return result
                    _rollback(cursor)
            except duckdb.TransactionException:
                _rollback(cursor)
            except BaseException:
                _rollback(cursor)
                raise
            if time.monotonic() > deadline:
                raise IngestError(
                    f"table '{table}' stayed busy with other writers for {BUSY_TIMEOUT:.0f} s. "
                    "Suggestion: retry later."
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
    finally:
        cursor.close()


def _prepare(cursor: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Create the bookkeeping tables and `table`'s state row; False if a writer raced us."""
    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS {REJECTS_TABLE} (ingested_at TIMESTAMP, "
        '"table" VARCHAR, file VARCHAR, "row" BIGINT, reason VARCHAR, data VARCHAR)'
    )
    cursor.execute(
        f'CREATE TABLE IF NOT EXISTS {STATE_TABLE} ("table" VARCHAR PRIMARY KEY, '
        "ingests BIGINT NOT NULL)"
    )
    try:
        cursor.execute(f"INSERT OR IGNORE INTO {STATE_TABLE} VALUES (?, 0)", [table])
    except duckdb.ConstraintException:
        return False  # another writer is inserting the same row right now
    return True


def _rollback(cursor: duckdb.DuckDBPyConnection) -> None:
    # A failed commit has ended the transaction already.
    with contextlib.suppress(duckdb.TransactionException):
        cursor.rollback()


def check(
    cursor: duckdb.DuckDBPyConnection,
    table: str,
    what: str,
    now: dt.datetime,
    stored_ids: str | None = None,
) -> list[str]:
    """Type and check the rows of `_hs_raw` into the temp table `_hs_checked`; see the module.

    Returns the input's columns. `what` names the input in messages ("file 'e.csv'").
    `stored_ids`: a relation whose column `key` holds the table's ids (default: the
    table's own id column).
    """
    raw = cursor.table(RAW)
    types = {c: str(t) for c, t in zip(raw.columns, raw.types, strict=True) if c != ROW}
    columns = list(types)
    contract = CONTRACTS[table]
    missing = [c for c in contract.required if c not in columns]
    if missing:
        raise IngestError(
            f"{what} lacks the contract column(s) {', '.join(missing)}. "
            f"Columns in {what}: {', '.join(columns)}"
        )
    stored: dict[str, str] = {}
    if exists(cursor, table):
        target = cursor.table(table)
        stored = {c: str(t) for c, t in zip(target.columns, target.types, strict=True)}
        extra = [c for c in columns if c not in stored]
        if extra:
            raise IngestError(
                f"{what} has column(s) {', '.join(extra)} that table '{table}' lacks. "
                f"Columns in table '{table}': {', '.join(stored)}"
            )
    typed = {c: _typed(c, types[c], contract.temporal, contract.numeric) for c in columns}
    reasons = _reasons(cursor, table, columns, typed)
    reason = "CASE " + " ".join(f"WHEN {cond} THEN '{text}'" for cond, text in reasons) + " END"
    packed = ", ".join(f"{quote(c)} := {quote(c)}" for c in columns)
    key, stored_keys = "NULL", "SELECT NULL AS _hs_key WHERE false"
    id_column = ID_COLUMNS[table]
    if id_column in columns:
        key = quote(id_column)
        if id_column in stored:
            if stored[id_column] != types[id_column]:
                # Cast the few input ids, never the many stored ones.
                key = f"TRY_CAST({key} AS {stored[id_column]})"
            ids = stored_ids or f"(SELECT {quote(id_column)} AS key FROM {quote(table)})"
            # The input's ids are the small side: only they are hashed, never the stored ids.
            stored_keys = (
                f"SELECT t.key AS _hs_key FROM {ids} t "
                "WHERE t.key IN (SELECT _hs_key FROM _hs_typed)"
            )
    cursor.execute(
        f"CREATE OR REPLACE TEMP TABLE {CHECKED} AS "
        f"WITH _hs_typed AS (SELECT {ROW}, {reason} AS _hs_reason, {key} AS _hs_key, "
        f"to_json(struct_pack({packed}))::VARCHAR AS _hs_data, "
        + ", ".join(f"{expression} AS {quote(c)}" for c, expression in typed.items())
        + f" FROM {RAW}, (SELECT ?::TIMESTAMP AS _hs_now)), "
        f"_hs_stored AS ({stored_keys}) "
        "SELECT c.*, CASE WHEN c._hs_reason IS NOT NULL THEN 'rejected' "
        "WHEN c._hs_key IS NULL THEN 'accepted' "
        "WHEN row_number() OVER (PARTITION BY c._hs_key, c._hs_reason IS NULL "
        f"ORDER BY c.{ROW}) > 1 THEN 'duplicate' "
        "WHEN c._hs_key IN (SELECT _hs_key FROM _hs_stored) THEN 'duplicate' "
        "ELSE 'accepted' END AS _hs_status FROM _hs_typed c",
        [now],
    )
    return columns


def write(
    cursor: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str],
    source: str,
    now: dt.datetime,
) -> None:
    """Append the rejects and the accepted rows of `_hs_checked`; no reordering of the table."""
    cursor.execute(
        f"INSERT INTO {REJECTS_TABLE} SELECT ?, ?, ?, {ROW}, _hs_reason, _hs_data "
        f"FROM {CHECKED} WHERE _hs_status = 'rejected' ORDER BY {ROW}",
        [now, table, source],
    )
    target = ", ".join(quote(c) for c in columns)
    if not exists(cursor, table):
        cursor.execute(f"CREATE TABLE {quote(table)} AS SELECT {target} FROM {CHECKED} LIMIT 0")
    cursor.execute(
        f"INSERT INTO {quote(table)} ({target}) SELECT {target} FROM {CHECKED} "
        f"WHERE _hs_status = 'accepted' ORDER BY {ROW}"
    )


def counts(cursor: duckdb.DuckDBPyConnection) -> dict[Status, int]:
    found = cursor.execute(f"SELECT _hs_status, count(*) FROM {CHECKED} GROUP BY 1").fetchall()
    return {Status(status): int(count) for status, count in found}


def _typed(column: str, type_: str, temporal: Sequence[str], numeric: Sequence[str]) -> str:
    name = quote(column)
    if column in temporal:
        if type_ == "VARCHAR":
            # A zone is converted to UTC; DuckDB's cast to TIMESTAMP would drop it.
            return (
                f"CASE WHEN regexp_matches({name}, '{_ZONE}') "
                f"THEN timezone('UTC', TRY_CAST({name} AS TIMESTAMPTZ)) "
                f"ELSE TRY_CAST({name} AS TIMESTAMP) END"
            )
        if type_ == "TIMESTAMP WITH TIME ZONE":
            return f"timezone('UTC', {name})"
        return f"TRY_CAST({name} AS TIMESTAMP)"
    if column in numeric:
        return f"TRY_CAST({name} AS DOUBLE)"
    return name


def _reasons(
    cursor: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str], typed: dict[str, str]
) -> list[tuple[str, str]]:
    """The contract's row rules as (SQL condition, reason), the first that holds wins."""
    contract = CONTRACTS[table]
    reasons = [
        (f"{quote(c)} IS NULL OR trim(CAST({quote(c)} AS VARCHAR)) = ''", f"missing {c}")
        for c in contract.required
    ]
    reasons += [
        (f"{quote(c)} IS NOT NULL AND ({typed[c]}) IS NULL", f"unparseable {c}")
        for c in contract.temporal
        if c in columns
    ]
    time_column = contract.time
    if time_column is not None and time_column in columns and table != "accounts":
        reasons.append((f"({typed[time_column]}) > _hs_now", f"{time_column} in the future"))
    if table != "accounts" and "account_id" in columns and exists(cursor, "accounts"):
        accounts = cursor.table("accounts")
        stored = dict(zip(accounts.columns, map(str, accounts.types), strict=True))
        known = "a.account_id"
        if stored.get("account_id") != "VARCHAR":
            known = f"CAST({known} AS VARCHAR)"
        # Only the accounts the input names are looked up: hashing every account per call
        # cost 50 ms at 1M accounts, looking up a few 5 ms (the input is the small side).
        reasons.append(
            (
                f"CAST(account_id AS VARCHAR) NOT IN (SELECT {known} FROM accounts a WHERE "
                f"{known} IN (SELECT CAST(account_id AS VARCHAR) FROM {RAW}))",
                "unknown account_id",
            )
        )
    return reasons
