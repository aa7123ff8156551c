"""One small SQL interface over DuckDB and PostgreSQL for the store's tables.

The store needs transactions, bulk inserts and a handful of fixed queries; an ORM would
add more than it saves. Statements are written once with `?` placeholders and standard
SQL that both databases accept; this module adapts placeholders and bulk loading.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd
import pyarrow as pa

Dialect = Literal["duckdb", "postgresql"]


class StoreError(RuntimeError):
    """The store cannot do what was asked (the message says why and what to do)."""


class Database:
    """A connection to the store's database; `transaction()` groups writes atomically."""

    dialect: Dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        raise NotImplementedError

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        raise NotImplementedError

    def insert_frame(self, table: str, frame: pd.DataFrame) -> None:
        raise NotImplementedError

    def transaction(self) -> contextlib.AbstractContextManager[Database]:
        raise NotImplementedError

    def tables(self) -> set[str]:
        raise NotImplementedError

    def columns(self, table: str) -> list[str]:
        frame = self.query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position",
            (table,),
        )
        return [str(name) for name in frame["column_name"]]

    def close(self) -> None:
        """Release the connection (the database stays)."""


class DuckDBDatabase(Database):
    """The store inside a DuckDB database (by default the warehouse itself).

    Each thread gets its own cursor: a DuckDB cursor is a separate connection to the same
    database, so one thread's transaction never swallows another's statements.
    """

    dialect: Dialect = "duckdb"

    def __init__(self, connection: duckdb.DuckDBPyConnection, owned: bool = False) -> None:
        self._root = connection
        self._owned = owned
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []

    @classmethod
    def open(cls, path: str | Path) -> DuckDBDatabase:
        return cls(duckdb.connect(str(path)), owned=True)

    @property
    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._root.cursor()
            self._local.cursor = cursor
            self._cursors.append(cursor)
        return cursor

    def close(self) -> None:
        # DuckDB keeps its file locked while any cursor of it is open.
        for cursor in self._cursors:
            cursor.close()
        self._cursors.clear()
        self._local = threading.local()
        if self._owned:
            self._root.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._cursor.execute(sql, list(params))

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        return self._cursor.execute(sql, list(params)).df()

    def insert_frame(self, table: str, frame: pd.DataFrame) -> None:
        cursor = self._cursor
        view = f"_healthscore_insert_{threading.get_ident()}"
        # DuckDB reads Arrow several times faster than a pandas frame of text columns.
        cursor.register(view, pa.Table.from_pandas(frame, preserve_index=False))
        try:
            names = ", ".join(f'"{c}"' for c in frame.columns)
            cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {view}")
        finally:
            cursor.unregister(view)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Database]:
        cursor = self._cursor
        cursor.begin()
        try:
            yield self
        except BaseException:
            cursor.rollback()
            raise
        cursor.commit()

    def tables(self) -> set[str]:
        rows = self._cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
        return {str(row[0]) for row in rows}


def _pg_sql(sql: str) -> str:
    # psycopg's placeholders are %s, so a literal % must be doubled first.
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresDatabase(Database):
    """The store in PostgreSQL, for a multi-user install."""

    dialect: Dialect = "postgresql"

    def __init__(self, url: str) -> None:
        import psycopg

        self.url = url
        try:
            self._conn = psycopg.connect(url, autocommit=True)
        except psycopg.OperationalError as error:
            raise StoreError(f"Cannot connect to the store at {_redact(url)}: {error}") from None
        self._lock = threading.RLock()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self._lock, self._conn.cursor() as cursor:
            cursor.execute(_pg_sql(sql), _pg_params(params))

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        with self._lock, self._conn.cursor() as cursor:
            cursor.execute(_pg_sql(sql), _pg_params(params))
            names = [column.name for column in cursor.description or ()]
            return pd.DataFrame(cursor.fetchall(), columns=names)

    def insert_frame(self, table: str, frame: pd.DataFrame) -> None:
        names = ", ".join(f'"{c}"' for c in frame.columns)
        rows = frame.astype(object).where(frame.notna(), None).itertuples(index=False)
        with (
            self._lock,
            self._conn.cursor() as cursor,
            cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(tuple(row))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Database]:
        with self._lock, self._conn.transaction():
            yield self

    def tables(self) -> set[str]:
        frame = self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        return set(frame["table_name"].astype(str))

    def close(self) -> None:
        self._conn.close()


def _pg_params(params: Sequence[Any]) -> list[Any]:
    # numpy scalars reach us from pandas; psycopg adapts Python's own types.
    return [value.item() if hasattr(value, "item") else value for value in params]


def _redact(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def open_database(target: str | Path | duckdb.DuckDBPyConnection) -> Database:
    """A store database from a DuckDB connection, a DuckDB path or a postgresql:// URL."""
    if isinstance(target, duckdb.DuckDBPyConnection):
        return DuckDBDatabase(target)
    text = str(target)
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(text)
    if text.startswith("duckdb://"):
        text = text.removeprefix("duckdb://") or ":memory:"
    return DuckDBDatabase.open(text)
