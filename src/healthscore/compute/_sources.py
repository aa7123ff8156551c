"""Warehouse connections and the logical tables of the data contract, renamed to it."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from healthscore.spec._models import Source
from healthscore.spec._resolved import ResolvedScorecard

DEFAULT_WAREHOUSE = "duckdb://healthscore.duckdb"


def connect(url: str | None = None, base_dir: Path | None = None) -> BaseBackend:
    """Open the warehouse; a relative DuckDB path is taken relative to `base_dir`."""
    url = url or DEFAULT_WAREHOUSE
    parsed = urlparse(url)
    if parsed.scheme == "duckdb":
        location = url.removeprefix("duckdb://")
        if location in ("", ":memory:"):
            return ibis.duckdb.connect()
        path = Path(location)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        path.parent.mkdir(parents=True, exist_ok=True)
        return ibis.duckdb.connect(str(path))
    return ibis.connect(url)


class SourceError(LookupError):
    """A source table or file named by the scorecard cannot be read."""


class Sources:
    """Opens each logical table once, with the user's columns renamed to the contract's."""

    def __init__(self, scorecard: ResolvedScorecard, con: BaseBackend) -> None:
        self.scorecard = scorecard
        self.con = con
        self._opened: dict[str, ir.Table] = {}

    def has(self, name: str) -> bool:
        return name in self.scorecard.sources

    def table(self, name: str) -> ir.Table:
        if name not in self._opened:
            source = self.scorecard.sources.get(name)
            if source is None:
                raise SourceError(f"no source is mapped for table '{name}'")
            self._opened[name] = self._open(source)
        return self._opened[name]

    def _open(self, source: Source) -> ir.Table:
        con = ibis.connect(source.connection) if source.connection else self.con
        if source.connection and source.table is not None:
            # One query cannot span two backends: the other connection's table is copied
            # into this run as an in-memory table (meant for small tables, such as a CRM's).
            table = ibis.memtable(self._table(con, source.table).to_pyarrow())
        elif source.table is not None:
            table = self._table(con, source.table)
        else:
            table = self._read_file(con, str(source.path))
        renames = {contract: user for contract, user in source.columns.items() if contract != user}
        missing = [user for user in renames.values() if user not in table.columns]
        if missing:
            raise SourceError(
                f"column(s) {', '.join(missing)} not found. Columns in table: "
                f"{', '.join(table.columns)}"
            )
        return table.rename(renames) if renames else table

    @staticmethod
    def _table(con: BaseBackend, name: str) -> ir.Table:
        try:
            return con.table(name)
        except Exception as error:  # backends raise their own not-found types
            existing = ", ".join(sorted(con.list_tables())[:20]) or "none"
            raise SourceError(
                f"table '{name}' not found. Tables in the warehouse: {existing}"
            ) from error

    def _read_file(self, con: BaseBackend, location: str) -> ir.Table:
        path = Path(location)
        if not path.is_absolute():
            path = self.scorecard.base_dir / path
        if not any(path.parent.glob(path.name)):
            raise SourceError(f"file '{path}' not found")
        suffix = path.suffix.lower()
        if suffix in (".parquet", ".pq"):
            return con.read_parquet(str(path))
        if suffix in (".csv", ".tsv", ".txt") or path.name.endswith(".csv.gz"):
            return con.read_csv(str(path))
        raise SourceError(f"file '{path}' must be .parquet or .csv")
