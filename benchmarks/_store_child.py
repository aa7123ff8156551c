"""The children of benchmarks/store.py: one measured run in this fresh process, as JSON.

    python -m benchmarks._store_child score CARD AS_OF
    python -m benchmarks._store_child run CARD STORE AS_OF        # Engine.run into STORE
    python -m benchmarks._store_child ctas CARD AS_OF DB_FILE     # the cheapest write
    python -m benchmarks._store_child steps CARD STORE DAY DAY    # record_run, step by step

The clock starts before healthscore is imported, as in benchmarks/_child.py; peak RSS is
VmHWM. STORE is a DuckDB file or a postgresql:// URL, fresh for a first run.
"""

from __future__ import annotations

import time

START = time.perf_counter()

import datetime as dt  # noqa: E402 - after the clock starts, on purpose
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from benchmarks._child import peak_rss  # noqa: E402 - standard library only

COUNT_ROWS = "SELECT count(*) AS n FROM healthscore_scores WHERE run_id = ?"
WRITE = "write: finish_run (insert, commit)"  # the step benchmarks/store.py compares


def score(card: str, as_of: dt.date) -> dict[str, Any]:
    from healthscore import Engine

    startup = time.perf_counter() - START
    frame = Engine(card).score(as_of=as_of)
    return {"startup_seconds": startup, "seconds": time.perf_counter() - START, "rows": len(frame)}


def run(card: str, store: str, as_of: dt.date) -> dict[str, Any]:
    """Engine.run: what is timed ends when the run's transaction has committed."""
    from healthscore import Engine

    startup = time.perf_counter() - START
    engine = Engine(card, store=store)
    result = engine.run(as_of)
    seconds = time.perf_counter() - START
    peak = peak_rss()
    stored = engine.store.db.query(COUNT_ROWS, (result.run_id,))
    closing = time.perf_counter()
    engine.close()  # DuckDB may checkpoint here: reported, not timed
    rows = result.scores
    return {
        "startup_seconds": startup,
        "seconds": seconds,
        "peak_rss_bytes": peak,
        "rows": len(rows),
        "stored_rows": int(stored["n"].iloc[0]),
        "with_trend": int(rows["trend_7d"].notna().sum()),
        "tier_held_back": int((rows["tier"] != rows["computed_tier"]).sum()),
        "close_seconds": time.perf_counter() - closing,
    }


def _recorded(engine: Any, day: dt.date, spent: dict[str, float], write: bool) -> Any:
    """record_run's steps in its order, each timed (healthscore/store/_record.py)."""
    from healthscore.compute import score_frame
    from healthscore.store._finalize import TREND_DAYS, finalize
    from healthscore.store._overrides import active_overrides
    from healthscore.store._rows import encode
    from healthscore.store._runs import begin_run, finish_run

    card, store = engine.scorecard, engine.store
    lap = [time.perf_counter()]

    def step(name: str) -> None:
        lap.append(time.perf_counter())
        spent[name] = spent.get(name, 0.0) + lap[-1] - lap[-2]

    ticket = begin_run(store.db, card.name, card.version, card.hash, day, "live", None)
    step("begin_run (lock, run row)")
    metrics = engine.metrics(day)
    step("compute: metrics")
    scores = score_frame(card, metrics, with_impacts=True)
    step("compute: score_frame with impacts")
    recent = store.recent(card.name, day, 2 * max(TREND_DAYS) + 366, "live")
    step("read history (recent)")
    overrides = active_overrides(store.db, card.name, day)
    step("read overrides")
    final = finalize(scores, recent, overrides, card.tiers, card.hysteresis)
    step("finalize (hysteresis, overrides, trend)")
    kept = [m.name for m in card.metrics if m.name in metrics.columns]
    rows = encode(final, metrics[kept], ticket.run_id)
    step("encode (JSON text)")
    if write:
        finish_run(store.db, ticket, rows)
        step(WRITE)
    return rows


def steps(card: str, store: str, days: list[dt.date]) -> dict[str, Any]:
    """Where Engine.run's time goes: a first run (empty store), then one with history."""
    from healthscore import Engine
    from healthscore.compute import score_frame

    imported = time.perf_counter()
    engine = Engine(card, store=store)
    opened = time.perf_counter()
    engine.store  # noqa: B018 - opens the store and creates its schema
    result: dict[str, Any] = {
        "import healthscore": imported - START,
        "Engine(...)": opened - imported,
        "open the store (schema)": time.perf_counter() - opened,
    }
    for label, day in zip(("first", "second"), days, strict=True):
        spent: dict[str, float] = {}
        _recorded(engine, day, spent, write=True)
        result[label] = spent
    metrics = engine.metrics(days[-1])
    started = time.perf_counter()
    score_frame(engine.scorecard, metrics)
    result["score_frame without impacts (Engine.score's)"] = time.perf_counter() - started
    engine.close()
    return result | {"peak_rss_bytes": peak_rss()}


def ctas(card: str, as_of: dt.date, target: Path) -> dict[str, Any]:
    """The stored rows of a first run, then only their write: CREATE TABLE AS the frame."""
    import duckdb

    from healthscore import Engine

    startup = time.perf_counter() - START
    engine = Engine(card, store=str(target.with_suffix(".store.duckdb")))
    rows = _recorded(engine, as_of, {}, write=False)
    engine.close()
    with duckdb.connect(str(target)) as con:
        started = time.perf_counter()
        con.register("frame", rows)
        con.execute("CREATE TABLE scores AS SELECT * FROM frame")
        seconds = time.perf_counter() - started
        stored = con.execute("SELECT count(*) FROM scores").fetchone()
    return {
        "startup_seconds": startup,
        "seconds": seconds,  # the write alone
        "peak_rss_bytes": peak_rss(),
        "rows": len(rows),
        "stored_rows": int(stored[0]) if stored else 0,
    }


def main(argv: list[str]) -> int:
    kind, card, *rest = argv
    day = dt.date.fromisoformat
    if kind == "score":
        report = score(card, day(rest[0]))
    elif kind == "run":
        report = run(card, rest[0], day(rest[1]))
    elif kind == "ctas":
        report = ctas(card, day(rest[0]), Path(rest[1]))
    elif kind == "steps":
        report = steps(card, rest[0], [day(text) for text in rest[1:3]])
    else:
        raise SystemExit(f"unknown child {kind!r}; one of score, run, ctas, steps")
    report.setdefault("peak_rss_bytes", peak_rss())
    print(json.dumps(report, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
