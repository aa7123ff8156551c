"""The benchmark data set: generated once per size, cached under bench-data/<hash>/.

Layouts: ``clustered`` is what the generator writes (events sorted by account, then time);
``time`` is the same events sorted by time only (ORDER BY ts, event_id, exactly what the
generator does with ``clustered=False``), the other tables linked from ``clustered``.
Each layout directory also gets a copy of benchmarks/scorecard.yaml, whose source paths
are relative to it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from healthscore.demo import DemoConfig, generate_frames, write_demo

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
DATA_ROOT = REPO / "bench-data"
SCORECARD = BENCH_DIR / "scorecard.yaml"
LAYOUTS = ("clustered", "time")
TABLES_USED = ("accounts", "events", "invoices")
CALIBRATION_ACCOUNTS = 3000
CALIBRATION_RATE = 0.05
SORT_MEMORY = "6GB"

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Size:
    """How much data: accounts, and roughly how many events over `months` of history."""

    accounts: int = 100_000
    events_target: int = 10_000_000
    months: int = 18
    seed: int = 7
    end: dt.date = dt.date(2026, 6, 30)

    @property
    def as_of(self) -> dt.date:
        """The day after the last day of data: every row counts, up to 00:00 that day."""
        return self.end + dt.timedelta(days=1)


@dataclass(frozen=True)
class DataSet:
    root: Path
    size: Size
    events_per_user_day: float
    events: int
    generate_seconds: float
    stale: bool  # made by a different version of the generator than the installed one

    def directory(self, layout: str) -> Path:
        return self.root / layout


def generator_hash() -> str:
    """Hash of the generator's source, kept in meta.json to tell when the data is stale."""
    import healthscore.demo as demo

    digest = hashlib.sha256()
    for path in sorted(Path(demo.__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def key(size: Size) -> str:
    """The cache directory's name: a hash of the size (not of the generator's code, so an
    unrelated edit there does not cost a 100M-event regeneration; see `DataSet.stale`)."""
    text = json.dumps({**asdict(size), "end": size.end.isoformat()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def calibrate(size: Size) -> float:
    """events_per_user_day giving ~events_target events, from two small generations.

    Events are a Poisson volume proportional to the rate plus a small fixed part
    (integrations), so two points fit the line.
    """

    def per_account(rate: float) -> float:
        config = DemoConfig(
            n_accounts=CALIBRATION_ACCOUNTS,
            months=size.months,
            end=size.end,
            seed=size.seed,
            events_per_user_day=rate,
        )
        return len(generate_frames(config)["events"]) / CALIBRATION_ACCOUNTS

    fixed = per_account(0.0)
    slope = (per_account(CALIBRATION_RATE) - fixed) / CALIBRATION_RATE
    wanted = size.events_target / size.accounts
    return float(f"{max(wanted - fixed, 0.0) / slope:.4g}")


def _prepare_layout(directory: Path) -> None:
    shutil.copyfile(SCORECARD, directory / "scorecard.yaml")


def _sql_text(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _sort_by_time(source: Path, target: Path) -> None:
    scratch = target.parent / ".sort-tmp"
    scratch.mkdir(exist_ok=True)
    partial = target.with_suffix(".partial")
    try:
        with duckdb.connect() as con:
            con.execute(f"SET temp_directory = {_sql_text(scratch)}")
            # Spill rather than take most of the machine (the default is 80% of RAM).
            con.execute(f"SET memory_limit = '{SORT_MEMORY}'")
            con.execute(
                f"COPY (SELECT * FROM read_parquet({_sql_text(source)}) ORDER BY ts, event_id)"
                f" TO {_sql_text(partial)} (FORMAT parquet, COMPRESSION zstd)"
            )
        partial.rename(target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def ensure(size: Size, layouts: tuple[str, ...], progress: Progress | None = None) -> DataSet:
    """Generate what is missing (data, layouts) and return the cached data set."""
    root = DATA_ROOT / key(size)
    meta_path = root / "meta.json"
    if not meta_path.exists():
        if root.exists():
            shutil.rmtree(root)  # an interrupted generation
        started = time.perf_counter()
        if progress is not None:
            progress("calibrating events_per_user_day", 0, 1)
        rate = calibrate(size)
        config = DemoConfig(
            n_accounts=size.accounts,
            months=size.months,
            end=size.end,
            seed=size.seed,
            events_per_user_day=rate,
            clustered=True,
        )
        write_demo(root / "clustered", config, progress)
        events = pq.ParquetFile(root / "clustered" / "events.parquet").metadata.num_rows
        meta = {
            "size": {**asdict(size), "end": size.end.isoformat()},
            "events_per_user_day": rate,
            "events": events,
            "generate_seconds": round(time.perf_counter() - started, 1),
            "generator": generator_hash(),
        }
        _prepare_layout(root / "clustered")
        meta_path.write_text(json.dumps(meta, indent=2))
    meta = json.loads(meta_path.read_text())
    _prepare_layout(root / "clustered")  # the scorecard may have changed since
    if "time" in layouts:
        directory = root / "time"
        directory.mkdir(exist_ok=True)
        target = directory / "events.parquet"
        if not target.exists():
            if progress is not None:
                progress("sorting events by time", 0, 1)
            _sort_by_time(root / "clustered" / "events.parquet", target)
        for table in TABLES_USED:
            link = directory / f"{table}.parquet"
            if table != "events" and not link.exists():
                link.symlink_to(Path("..") / "clustered" / f"{table}.parquet")
        _prepare_layout(directory)
    return DataSet(
        root=root,
        size=size,
        events_per_user_day=float(meta["events_per_user_day"]),
        events=int(meta["events"]),
        generate_seconds=float(meta["generate_seconds"]),
        stale=meta.get("generator") != generator_hash(),
    )
