"""Where generated blocks go: memory (tests), Parquet files, or time buckets to sort.

A global ORDER BY ts over 100M rows costs DuckDB ~100 s and ~11 GB here. Events are
instead staged in one Parquet file per month, and each month - a disjoint time range -
is sorted by DuckDB on its own and appended to the final file: same order, a fraction
of the memory and time.
"""

from __future__ import annotations

import pathlib
import shutil
from collections.abc import Callable

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from healthscore.demo._tables import SCHEMAS, TABLES

COMPRESSION = "zstd"
SORT_BATCH_ROWS = 1 << 20


class MemorySink:
    def __init__(self) -> None:
        self.parts: dict[str, list[pa.Table]] = {name: [] for name in TABLES}

    def write(self, name: str, table: pa.Table) -> None:
        self.parts[name].append(table)


class ParquetSink:
    """One appendable Parquet file per table; events optionally staged by month."""

    def __init__(
        self, paths: dict[str, pathlib.Path], time_buckets_us: npt.NDArray[np.int64] | None
    ) -> None:
        self.paths = paths
        self.writers = {
            name: pq.ParquetWriter(path, SCHEMAS[name], compression=COMPRESSION)
            for name, path in paths.items()
            if not (name == "events" and time_buckets_us is not None)
        }
        self.buckets = time_buckets_us
        self.staging = paths["events"].parent / ".events_by_month"
        self.staged: dict[int, pq.ParquetWriter] = {}

    def write(self, name: str, table: pa.Table) -> None:
        if name != "events" or self.buckets is None:
            self.writers[name].write_table(table)
            return
        ts = pc.cast(table["ts"], pa.int64()).to_numpy()
        bucket = np.searchsorted(self.buckets, ts, side="right") - 1
        if np.any(bucket[1:] < bucket[:-1]):
            order = np.argsort(bucket, kind="stable")
            table, bucket = table.take(pa.array(order)), bucket[order]
        # Rows are now in month order: each month is a zero-copy slice.
        edges = np.searchsorted(bucket, np.arange(len(self.buckets) + 1))
        for month in np.flatnonzero(np.diff(edges)):
            rows = table.slice(edges[month], edges[month + 1] - edges[month])
            self._stage_writer(int(month)).write_table(rows)

    def _stage_writer(self, month: int) -> pq.ParquetWriter:
        if month not in self.staged:
            self.staging.mkdir(exist_ok=True)
            path = self.staging / f"month_{month:04d}.parquet"
            # Staging is read once, right away: favour speed over size.
            self.staged[month] = pq.ParquetWriter(path, SCHEMAS["events"], compression="lz4")
        return self.staged[month]

    def close(self) -> None:
        """Idempotent: ParquetWriter.close() does nothing the second time."""
        for writer in [*self.writers.values(), *self.staged.values()]:
            writer.close()

    def discard_staging(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)

    def sort_staged_events(self, progress: Callable[[int, int], None]) -> None:
        """Sort each month by (ts, event_id) in DuckDB and append them in month order."""
        months = sorted(self.staged)
        schema = SCHEMAS["events"]
        try:
            with (
                pq.ParquetWriter(self.paths["events"], schema, compression=COMPRESSION) as out,
                duckdb.connect() as con,
            ):
                con.execute(f"SET temp_directory = '{_sql_path(self.staging / 'spill')}'")
                for done, month in enumerate(months):
                    path = self.staging / f"month_{month:04d}.parquet"
                    reader = con.execute(
                        "SELECT * FROM read_parquet(?) ORDER BY ts, event_id", [str(path)]
                    ).to_arrow_reader(SORT_BATCH_ROWS)
                    for batch in reader:
                        out.write_table(pa.Table.from_batches([batch]).cast(schema))
                    progress(done + 1, len(months))
        finally:
            self.discard_staging()


def _sql_path(path: pathlib.Path) -> str:
    return str(path).replace("'", "''")
