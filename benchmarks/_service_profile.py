"""Where one rescore spends its time: the service's rescore step by step, in one process.

``python -m benchmarks._service_profile SCORECARD N SEED [--pyinstrument OUT]`` rescores N
sampled accounts one at a time exactly as the service's rescorer does (`Engine.rescore`,
then the playbooks) with the steps wrapped and timed, and prints one JSON line: per step,
the median and p99 in seconds. Run it while no server holds the warehouse.
"""

from __future__ import annotations

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
from healthscore.compute._metrics import metric_table
from healthscore.engine import Engine

Spent = dict[str, list[float]]

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
    patches: dict[object, dict[str, Callable[..., Any]]] = {
        engine: {
            "_population": engine._population,
            "metrics": engine.metrics,
            "_scores": engine._scores,
            "run_playbooks": engine.run_playbooks,
        },
        store: {"recent": store.recent},
    }
    labels = {
        "_population": "engine: population for percentiles",
        "metrics": "metric engine: Engine.metrics (Ibis -> DuckDB -> pandas)",
        "_scores": "scoring: score_frame (sub-scores, reasons, impacts)",
        "run_playbooks": "playbooks: run_playbooks",
        "recent": "store: recent rows (trend, hysteresis)",
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


def metric_parts(engine: Engine, account: str, spent: Spent) -> None:
    """Engine.metrics for one account taken apart: build the Ibis expression, compile it
    to SQL, run that SQL on DuckDB alone, and the whole Ibis execute to pandas."""
    import datetime as dt

    day = dt.date.today() + dt.timedelta(days=1)
    started = time.perf_counter()
    table = metric_table(engine.scorecard, engine.sources, [day], [account])
    ordered = table.order_by(["as_of", "account_id"])
    built = time.perf_counter()
    sql = str(engine.con.compile(ordered))
    compiled = time.perf_counter()
    engine.con.con.execute(sql).fetchall()
    ran = time.perf_counter()
    ordered.to_pandas()
    done = time.perf_counter()
    spent["metrics, part: build the Ibis expression"].append(built - started)
    spent["metrics, part: compile it to SQL"].append(compiled - built)
    spent["metrics, part: run that SQL in DuckDB alone"].append(ran - compiled)
    spent["metrics, part: Ibis to_pandas (compile + run + convert)"].append(done - ran)


def profile(card: Path, count: int, seed: int) -> dict[str, Any]:
    engine = Engine(card)
    accounts = list(engine.store.current(engine.scorecard.name)["account_id"])
    picked = random.Random(seed).sample(accounts, min(count + 2, len(accounts)))
    for account in picked[:2]:  # warm-up: caches, the first reads of the file
        _rescore_and_act(engine, accounts=[account])
    spent: Spent = defaultdict(list)
    with wrapped(engine, spent):
        for account in picked[2:]:
            started = time.perf_counter()
            _rescore_and_act(engine, accounts=[account])
            spent["the whole rescore (Engine.rescore + playbooks)"].append(
                time.perf_counter() - started
            )
    for account in picked[2:]:
        metric_parts(engine, account, spent)
    engine.close()
    return {
        label: {
            "median_s": float(np.median(values)),
            "p99_s": float(np.percentile(values, 99)),
            "n": len(values),
        }
        for label, values in spent.items()
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
