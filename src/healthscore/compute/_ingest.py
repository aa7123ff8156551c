"""Load files (`ingest_files`) or rows that arrive as data (`ingest_rows`) into the warehouse.

Both apply the data contract's checks (`_ingest_checks`): bad rows go to
`healthscore_rejects` with a reason each, rows whose id is already stored (or repeated in
the input) are skipped, so re-ingesting never double-counts. Each call is one transaction:
a failure leaves the warehouse's tables as they were (only the empty bookkeeping tables
`healthscore_rejects` and `healthscore_ingest_state` may appear).

Files (`healthscore ingest`) then rewrite the table clustered by (account_id, time), so
per-account reads are contiguous. Rows (the service's events) are appended: rewriting a
large table per request would cost more than the request; the next file ingest clusters.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from healthscore.compute._contract import CONTRACTS
from healthscore.compute._ingest_checks import (
    CHECKED,
    ID_COLUMNS,
    RAW,
    REJECTS_TABLE,
    ROW,
    IngestError,
    Status,
    check,
    check_table,
    counts,
    quote,
    utc_naive,
    write,
    write_transaction,
)
from healthscore.compute._ingest_keys import add_keys, fresh_keys, keyed_column

__all__ = [
    "ID_COLUMNS",
    "REJECTS_TABLE",
    "IngestError",
    "IngestSummary",
    "IntakeResult",
    "RowResult",
    "Status",
    "ingest_files",
    "ingest_rows",
]

_INPUT = "_hs_input"


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


@dataclass(frozen=True)
class RowResult:
    """What became of one input row; `reason` is the rejects table's, None unless rejected."""

    id: str | None
    status: Status
    reason: str | None = None


@dataclass(frozen=True)
class IntakeResult:
    """Per input row (in input order) its result, and the accounts that received rows."""

    table: str
    statuses: list[RowResult]
    accounts: list[str]

    @property
    def counts(self) -> dict[Status, int]:
        found = dict.fromkeys(Status, 0)
        for result in self.statuses:
            found[result.status] += 1
        return found

    @property
    def accepted(self) -> int:
        return self.counts[Status.ACCEPTED]

    @property
    def duplicates(self) -> int:
        return self.counts[Status.DUPLICATE]

    @property
    def rejected(self) -> int:
        return self.counts[Status.REJECTED]


def ingest_files(
    con: duckdb.DuckDBPyConnection,
    table: str,
    paths: Sequence[Path],
    now: dt.datetime | None = None,
) -> IngestSummary:
    """Ingest `paths` into the contract table `table`, then cluster it; see the module."""
    check_table(table)
    contract = CONTRACTS[table]
    now = utc_naive(now)
    for path in paths:
        if not path.is_file():
            raise IngestError(f"file '{path}' not found")

    def work(cursor: duckdb.DuckDBPyConnection) -> IngestSummary:
        summary = IngestSummary(table=table, files=[str(p) for p in paths])
        for path in paths:
            # register() makes a view of this cursor only; create_view() would share one.
            cursor.register(_INPUT, _read(cursor, path))
            cursor.execute(
                f"CREATE OR REPLACE TEMP VIEW {RAW} AS "
                f"SELECT row_number() OVER () AS {ROW}, * FROM {_INPUT}"
            )
            columns = check(cursor, table, f"file '{path}'", now)
            write(cursor, table, columns, str(path), now)
            found = counts(cursor)
            for text, count in cursor.execute(
                f"SELECT _hs_reason, count(*) FROM {CHECKED} WHERE _hs_reason IS NOT NULL "
                "GROUP BY 1"
            ).fetchall():
                summary.rejected[text] = summary.rejected.get(text, 0) + int(count)
            summary.read += sum(found.values())
            summary.inserted += found.get(Status.ACCEPTED, 0)
            summary.duplicates += found.get(Status.DUPLICATE, 0)
            _drop(cursor)
        if contract.time is not None and summary.read:
            cursor.execute(
                f"CREATE OR REPLACE TABLE {quote(table)} AS SELECT * FROM {quote(table)} "
                f"ORDER BY {quote(contract.key)}, {quote(contract.time)}"
            )
        return summary

    return write_transaction(con, table, work)


def ingest_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: pd.DataFrame | pa.Table | list[dict[str, object]],
    now: dt.datetime | None = None,
    *,
    source: str = "rows",
) -> IntakeResult:
    """Check and append `rows` to the contract table `table`; answer per row.

    JSON-like values arrive as text or numbers, nested objects are stored as JSON text, and
    timestamps with a zone are stored in UTC. Accepted rows are committed on return. Safe
    from several threads on one database (each call uses its own cursor); `source` fills
    the rejects table's `file` column.

    >>> import duckdb
    >>> con = duckdb.connect()
    >>> _ = ingest_rows(con, "accounts", [{"account_id": "a1"}])
    >>> result = ingest_rows(
    ...     con,
    ...     "events",
    ...     [
    ...         {"event_id": 1, "account_id": "a1", "ts": "2026-01-01T10:00:00Z", "type": "login"},
    ...         {"event_id": 2, "account_id": "a1", "ts": "soon", "type": "login"},
    ...     ],
    ... )
    >>> [(r.id, r.status.value, r.reason) for r in result.statuses]
    [('1', 'accepted', None), ('2', 'rejected', 'unparseable ts')]
    """
    check_table(table)
    now = utc_naive(now)
    data = _arrow(table, rows)
    if data.num_rows == 0:
        return IntakeResult(table=table, statuses=[], accounts=[])
    data = data.append_column(ROW, pa.array(range(1, data.num_rows + 1), pa.int64()))
    id_column = ID_COLUMNS[table]

    def work(cursor: duckdb.DuckDBPyConnection) -> IntakeResult:
        cursor.register(_INPUT, data)
        relation = cursor.table(_INPUT)
        flat = (_flat(c, str(t)) for c, t in zip(relation.columns, relation.types, strict=True))
        cursor.execute(
            f"CREATE OR REPLACE TEMP VIEW {RAW} AS SELECT {', '.join(flat)} FROM {_INPUT}"
        )
        keyed = keyed_column(cursor, table)
        ids = None if keyed is None else fresh_keys(cursor, table, keyed)
        columns = check(cursor, table, "the rows", now, ids)
        write(cursor, table, columns, source, now)
        if keyed is not None:  # every accepted row, so the copies keep the table's row count
            add_keys(cursor, table, f"SELECT _hs_key FROM {CHECKED} WHERE _hs_status = 'accepted'")
        key = f"CAST({quote(id_column)} AS VARCHAR)" if id_column in columns else "NULL"
        statuses = [
            RowResult(id=row_id, status=Status(status), reason=reason)
            for row_id, status, reason in cursor.execute(
                f"SELECT {key}, _hs_status, _hs_reason FROM {CHECKED} ORDER BY {ROW}"
            ).fetchall()
        ]
        accounts = []
        if "account_id" in columns:
            accounts = [
                str(account)
                for (account,) in cursor.execute(
                    f"SELECT DISTINCT CAST(account_id AS VARCHAR) FROM {CHECKED} "
                    "WHERE _hs_status = 'accepted' ORDER BY 1"
                ).fetchall()
            ]
        _drop(cursor)
        return IntakeResult(table=table, statuses=statuses, accounts=accounts)

    return write_transaction(con, table, work)


def prepare_intake(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Build the sorted copies of `table`'s ids now (seconds at 100M rows) rather than in
    the first intake's answer; nothing when the table does not exist yet."""
    check_table(table)
    keyed = keyed_column(con, table)
    if keyed is not None:
        write_transaction(con, table, lambda cursor: fresh_keys(cursor, table, keyed, exact=True))


def _drop(cursor: duckdb.DuckDBPyConnection) -> None:
    cursor.execute(f"DROP TABLE {CHECKED}; DROP VIEW {RAW}")
    cursor.unregister(_INPUT)


def _read(cursor: duckdb.DuckDBPyConnection, path: Path) -> duckdb.DuckDBPyRelation:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return cursor.read_parquet(str(path))
    if suffix in (".csv", ".tsv", ".txt", ".gz"):
        # Text columns stay text, so a bad timestamp is a rejected row, not a failed load.
        return cursor.read_csv(str(path), all_varchar=True, header=True)
    raise IngestError(f"file '{path}' must be .parquet or .csv")


def _flat(column: str, type_: str) -> str:
    """Nested values (structs, lists, maps) as JSON text, the rest as they are."""
    name = quote(column)
    if type_.startswith(("STRUCT", "MAP", "UNION")) or type_.endswith("]"):
        return f"to_json({name})::VARCHAR AS {name}"
    return name


def _arrow(table: str, rows: pd.DataFrame | pa.Table | list[dict[str, object]]) -> pa.Table:
    if isinstance(rows, pa.Table):
        return rows
    if isinstance(rows, pd.DataFrame):
        frame = rows.copy()
        for column in [c for c, kind in frame.dtypes.items() if pd.api.types.is_object_dtype(kind)]:
            frame[column] = [_text(value) for value in frame[column]]
        return pa.Table.from_pandas(frame, preserve_index=False)
    if isinstance(rows, list):
        return _records(table, rows)
    raise IngestError(
        "rows must be a pandas DataFrame, a pyarrow Table or a list of dicts. "
        f"Got {type(rows).__name__} instead."
    )


def _records(table: str, rows: list[dict[str, object]]) -> pa.Table:
    """JSON-like records as text columns, like a CSV read as text; a missing key is null."""
    names: dict[str, None] = {}
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise IngestError(f"row {number} must be a dict. Got {type(row).__name__} instead.")
        names.update(dict.fromkeys(map(str, row)))
    if not rows:
        return pa.table({})
    # A row lacking a required key is rejected like a blank value, not the whole batch.
    names.update(dict.fromkeys(CONTRACTS[table].required))
    return pa.table(
        {name: pa.array([_text(row.get(name)) for row in rows], pa.string()) for name in names}
    )


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)
