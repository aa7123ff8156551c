"""Where one rescore spends its time: the service's rescore step by step, in one process.

``python -m benchmarks._service_profile SCORECARD N SEED [--pyinstrument OUT]`` rescores N
sampled accounts one at a time exactly as the service's rescorer does (`Engine.rescore`,
then the playbooks) with the steps wrapped and timed, and prints one JSON line: per step,
the median and p99 in seconds. Run it while no server holds the warehouse.
"""

from __future__ import annotations

import gc
import json
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

import healthscore.store._record as record_module
from healthscore.api._service import _rescore_and_act
from healthscore.engine import Engine

Spent = dict[str, list[float]]
METRICS = "metric engine: Engine.metrics (Ibis -> DuckDB -> pandas)"
FILL = "metrics, part: write the date and accounts into the compiled SQL"
RUN = "metrics, part: run it in DuckDB, Arrow -> pandas (the rest)"
WHOLE = "the whole rescore (Engine.rescore + playbooks)"
GC = "... of which Python's garbage collector, in any step"

# (label, module or object, attribute): wrapped for the profile, restored after it.
RECORD_STEPS = (
    ("store: begin_run (run row, lock)", "begin_run"),
    ("store: active_overrides", "active_overrides"),
    ("store: finalize (trend, hysteresis, overrides)", "finalize"),
    ("store: encode rows", "encode"),
    ("store: finish_run (insert, commit)", "finish_run"),
)


def _timed(spent: Spent, label: str, work: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return work(*args, **kwargs)
        finally:
            spent[label].append(time.perf_counter() - started)

    return wrapper


@contextmanager
def wrapped(engine: Engine, spent: Spent) -> Iterator[None]:
    """Time the steps of `_rescore_and_act` (instance and module attributes, restored)."""
    originals = {name: getattr(record_module, name) for _, name in RECORD_STEPS}
    store = engine.store
    for label, name in RECORD_STEPS:
        setattr(record_module, name, _timed(spent, label, originals[name]))
    query = engine._account_query
    assert query is not None, "the rescoring query did not compile: the service builds it"
    patches: dict[object, dict[str, Callable[..., Any]]] = {
        engine: {
            "_population": engine._population,
            "metrics": engine.metrics,
            "_scores": engine._scores,
            "run_playbooks": engine.run_playbooks,
        },
        store: {"recent": store.recent},
        query: {"_fill": query._fill},
    }
    labels = {
        "_population": "engine: population for percentiles",
        "metrics": METRICS,
        "_scores": "scoring: score_frame (sub-scores, reasons, impacts)",
        "run_playbooks": "playbooks: run_playbooks",
        "recent": "store: recent rows (trend, hysteresis)",
        "_fill": FILL,
    }
    for target, methods in patches.items():
        for name, method in methods.items():
            setattr(target, name, _timed(spent, labels[name], method))
    try:
        yield
    finally:
        for _, name in RECORD_STEPS:
            setattr(record_module, name, originals[name])
        for target, methods in patches.items():
            for name in methods:
                delattr(target, name)


def engine_sql(engine: Engine, account: str, spent: Spent) -> None:
    """The SQL the metric engine makes for one account, run in DuckDB alone: what the
    metrics cost without Ibis and pandas, against the hand-written query's time."""
    import datetime as dt

    day = dt.date.today() + dt.timedelta(days=1)
    assert engine._account_query is not None
    sql = engine._account_query._fill(day, [account])
    started = time.perf_counter()
    engine.con.con.execute(sql).fetchall()
    spent["metrics: the engine's SQL run in DuckDB alone"].append(time.perf_counter() - started)


def ingest_parts(engine: Engine, accounts: list[str], count: int, spent: Spent) -> None:
    """POST /v1/events' own work: `ingest_rows` (checks, duplicates, insert, commit) for
    one event and for 1,000, on the warehouse connection as the route calls it."""
    import datetime as dt

    from healthscore.compute._ingest import ingest_rows, prepare_intake

    raw = engine.con.con
    prepare_intake(raw, "events")  # as the service does at start
    found = raw.execute("SELECT max(event_id) FROM events").fetchone()
    next_id = int(found[0] if found and found[0] is not None else 0) + 1
    ts = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None).isoformat()
    rng = random.Random(count)
    for size, label in ((1, "ingest: ingest_rows, 1 event"), (1000, "ingest: ingest_rows, 1,000")):
        for _ in range(count):
            rows: list[dict[str, object]] = [
                {"event_id": next_id + i, "account_id": rng.choice(accounts), "ts": ts,
                 "type": "login", "user_id": "u_bench"}
                for i in range(size)
            ]  # fmt: skip
            next_id += size
            started = time.perf_counter()
            ingest_rows(raw, "events", rows, source="profile")
            spent[label].append(time.perf_counter() - started)


class Collector:
    """Seconds Python's cyclic garbage collector ran (a gc callback), in every step."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started


def profile(card: Path, count: int, seed: int) -> dict[str, Any]:
    engine = Engine(card)
    engine.prepare_rescoring()
    accounts = list(engine.store.current(engine.scorecard.name)["account_id"])
    gc.collect()
    gc.freeze()  # as the service does once it has started
    picked = random.Random(seed).sample(accounts, min(count + 2, len(accounts)))
    for account in picked[:2]:  # warm-up: caches, the first reads of the file
        _rescore_and_act(engine, accounts=[account])
    spent: Spent = defaultdict(list)
    collecting = Collector()
    gc.callbacks.append(collecting)
    try:
        with wrapped(engine, spent):
            for account in picked[2:]:
                started, before = time.perf_counter(), collecting.seconds
                _rescore_and_act(engine, accounts=[account])
                spent[WHOLE].append(time.perf_counter() - started)
                spent[GC].append(collecting.seconds - before)
    finally:
        gc.callbacks.remove(collecting)
    for account in picked[2:]:
        engine_sql(engine, account, spent)
    ingest_parts(engine, accounts, count, spent)
    engine.close()
    spent[RUN] = [whole - fill for whole, fill in zip(spent[METRICS], spent[FILL], strict=True)]
    order = [WHOLE, GC, *(label for label in spent if label not in (WHOLE, GC))]
    return {
        label: {
            "median_s": float(np.median(spent[label])),
            "p99_s": float(np.percentile(spent[label], 99)),
            "n": len(spent[label]),
        }
        for label in order
    }


def main(argv: list[str]) -> None:
    card, count, seed = Path(argv[0]), int(argv[1]), int(argv[2])
    if len(argv) > 4 and argv[3] == "--pyinstrument":
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
        result = profile(card, count, seed)
        profiler.stop()
        out = Path(argv[4])
        out.with_suffix(".txt").write_text(profiler.output_text(unicode=False, color=False))
        out.with_suffix(".html").write_text(profiler.output_html())
    else:
        result = profile(card, count, seed)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
