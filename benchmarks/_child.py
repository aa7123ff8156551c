"""Run one implementation in this fresh process and print what it cost, as one JSON line.

    python -m benchmarks._child {sql,engine,pandas} DATA_DIR AS_OF OUT.parquet [--profile F]

The clock starts before the implementation's libraries are imported, so the fixed
start-up cost (Ibis and healthscore for the engine, pandas, DuckDB) is part of the time.
Peak memory is this process's peak resident set once the scores are in memory: VmHWM
from /proc/self/status, which exec resets (ru_maxrss is not: after fork+exec it keeps
the parent's high-water mark, so a small child would report the parent's size).
"""

from __future__ import annotations

import time

START = time.perf_counter()

import datetime as dt  # noqa: E402 - after the clock starts, on purpose
import importlib  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

METHODS = ("sql", "engine", "pandas")


def peak_rss() -> int:
    """Bytes: the peak resident set size of this process image."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def main(argv: list[str]) -> int:
    method, data_dir, as_of_text, out = argv[:4]
    profile = Path(argv[5]) if len(argv) > 5 and argv[4] == "--profile" else None
    if method not in METHODS:
        raise SystemExit(f"unknown method {method!r}; one of {', '.join(METHODS)}")
    profiler: Any = None
    if profile is not None:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.002)
        profiler.start()
    module = importlib.import_module(f"benchmarks._{method}")
    startup = time.perf_counter() - START
    scores = module.score(Path(data_dir), dt.date.fromisoformat(as_of_text))
    seconds = time.perf_counter() - START
    peak = peak_rss()
    if profiler is not None and profile is not None:
        profiler.stop()
        profile.write_text(profiler.output_text(unicode=True, show_all=False))
        profile.with_suffix(".html").write_text(profiler.output_html())

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "account_id": pa.array(scores.account_id, pa.string()),
            "score": pa.array(scores.score, pa.float64()),
            "tier": pa.array(scores.tier, pa.string()),
            "raw": pa.array(scores.raw if scores.raw is not None else [None] * len(scores)).cast(
                pa.float64()
            ),
        }
    )
    pq.write_table(table, out)
    report = {
        "method": method,
        "seconds": seconds,
        "startup_seconds": startup,
        "peak_rss_bytes": peak,
        "rows": len(scores),
    }
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
