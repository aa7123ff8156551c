"""What storing a run costs: Engine.run into DuckDB and PostgreSQL, against Engine.score.

    python benchmarks/store.py                        # 100k accounts, ~10M events, clustered
    python benchmarks/store.py --start-postgres       # also into a throwaway PostgreSQL
    python benchmarks/store.py --postgres URL         # also into this PostgreSQL database
    python benchmarks/store.py --accounts 20000 --events-target 2000000

On the cached data of run.py (benchmarks/_data.py), each in a fresh subprocess
(``python -m benchmarks._store_child``), so its peak memory is its own: Engine.score alone
(the baseline); Engine.run into a fresh store (first run, a week before as_of: no
history), then into the same store as of as_of (trend and hysteresis read the first
run's rows); and the write alone: the first run's encoded rows, built beforehand, written
by CREATE TABLE AS SELECT * FROM the frame in DuckDB. Then record_run's steps, timed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` (and `tests`) importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._store_child import WRITE

MIB = 1024**2
WEEK = dt.timedelta(days=7)
LABELS = {
    "score": "Engine.score alone",
    "duckdb first": "Engine.run, DuckDB, first (no history)",
    "duckdb second": "Engine.run, DuckDB, +7 days (history)",
    "postgresql first": "Engine.run, PostgreSQL, first (no history)",
    "postgresql second": "Engine.run, PostgreSQL, +7 days (history)",
    "ctas": "write only: DuckDB CREATE TABLE AS frame",
}


@dataclass(frozen=True)
class Run:
    """One method: best wall time of the repeats (and its report), worst peak memory."""

    method: str
    seconds: float
    startup_seconds: float | None
    peak_rss_bytes: int
    report: dict[str, Any]
    all_seconds: tuple[float, ...]


def _child(arguments: list[str]) -> dict[str, Any]:
    from benchmarks import _data
    from benchmarks.run import _child_env, console

    done = subprocess.run(
        [sys.executable, "-m", "benchmarks._store_child", *arguments],
        cwd=_data.REPO,
        env=_child_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        console.print(done.stderr)
        raise SystemExit(f"{arguments[0]} failed (exit {done.returncode})")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def _best(method: str, reports: list[dict[str, Any]]) -> Run:
    best = min(reports, key=lambda r: float(r["seconds"]))
    return Run(
        method=method,
        seconds=float(best["seconds"]),
        startup_seconds=None if method == "ctas" else float(best["startup_seconds"]),
        peak_rss_bytes=max(int(r["peak_rss_bytes"]) for r in reports),
        report=best,
        all_seconds=tuple(round(float(r["seconds"]), 3) for r in reports),
    )


def measure(
    card: Path, as_of: dt.date, stores: Callable[[int], dict[str, str]], repeat: int
) -> tuple[dict[str, Run], dict[str, Any]]:
    """Interleaved rounds, each into fresh stores (`stores(round)`); then the steps."""
    from benchmarks.run import console

    days = [(as_of - WEEK).isoformat(), as_of.isoformat()]
    reports: dict[str, list[dict[str, Any]]] = {method: [] for method in LABELS}
    for round_ in range(repeat):
        console.print(f"round {round_ + 1} of {repeat}")
        reports["score"].append(_child(["score", str(card), days[1]]))
        fresh = stores(round_)
        for backend, target in fresh.items():
            if backend != "ctas":
                for run, day in zip(("first", "second"), days, strict=True):
                    reports[f"{backend} {run}"].append(_child(["run", str(card), target, day]))
        reports["ctas"].append(_child(["ctas", str(card), days[0], fresh["ctas"]]))
    fresh = stores(repeat)
    steps = {b: _child(["steps", str(card), t, *days]) for b, t in fresh.items() if b != "ctas"}
    return {m: _best(m, rs) for m, rs in reports.items() if rs}, steps


def show(target: Any, runs: dict[str, Run]) -> bool:
    """The table; False when a run did not store every row or the second read no history."""
    from rich.table import Table

    from benchmarks._common import ratio
    from benchmarks.run import console

    one = runs["score"]
    table = Table(
        title=f"{target.accounts:,} accounts, {target.events:,} events; as of {target.as_of} "
        f"(first runs {target.as_of - WEEK}), best of {len(one.all_seconds)}"
    )
    for column in ("method", "seconds", "start-up s", "accounts/s", "peak RSS", "time / score"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for run in runs.values():
        table.add_row(
            LABELS[run.method],
            f"{run.seconds:.2f}",
            "-" if run.startup_seconds is None else f"{run.startup_seconds:.2f}",
            f"{run.report['rows'] / run.seconds / 1e3:,.1f}k",
            f"{run.peak_rss_bytes / MIB:,.0f} MiB",
            ratio(run.seconds, one.seconds),
        )
    console.print(table)
    sane = True
    for run in list(runs.values())[1:]:
        r = run.report
        # A first run scores a week earlier: accounts created since are not in it.
        expected = one.report["rows"] if run.method.endswith("second") else r["rows"]
        if r["stored_rows"] != expected:
            console.print(
                f"[red]{run.method}: {r['stored_rows']:,} rows stored, not {expected:,}[/]"
            )
            sane = False
        if run.method.endswith("second"):
            console.print(
                f"{run.method}: {r['stored_rows']:,} rows stored, {r['with_trend']:,} with a "
                f"7-day trend, {r['tier_held_back']:,} tiers held back by hysteresis"
            )
            sane &= r["with_trend"] > 0
    return sane


def show_steps(steps: dict[str, Any], ctas: Run) -> None:
    """record_run's steps per backend; its write against the cheapest one (CTAS)."""
    from rich.table import Table

    from benchmarks.run import console

    for backend, result in steps.items():
        table = Table(title=f"Engine.run into {backend}, step by step (s)")
        for column in ("step", "first run", "second run"):
            table.add_column(column, justify="left" if column == "step" else "right")
        for name in result["first"]:
            table.add_row(name, *(f"{result[run][name]:.3f}" for run in ("first", "second")))
        table.add_row("total", *(f"{sum(result[run].values()):.3f}" for run in ("first", "second")))
        console.print(table)
        fixed = {k: v for k, v in result.items() if isinstance(v, float)}
        console.print(", ".join(f"{k} {v:.3f} s" for k, v in fixed.items()))
        write = result["first"][WRITE]
        console.print(
            f"{backend}: the first run's write {write:.2f} s against CREATE TABLE AS "
            f"{ctas.seconds:.2f} s: {write / ctas.seconds:.2f}x"
        )


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--large", action="store_true", help="1M accounts, ~100M events")
    parser.add_argument("--accounts", type=int, help="accounts (default 100,000)")
    parser.add_argument("--events-target", type=int, help="about this many events")
    parser.add_argument("--layout", choices=("clustered", "time"), default="clustered")
    parser.add_argument("--data", help="a directory of demo Parquet files to use instead")
    parser.add_argument("--as-of", help="the second run's date (default 2026-07-01)")
    parser.add_argument("--repeat", type=int, default=2, help="rounds; the best time is shown")
    parser.add_argument("--postgres", help="also store into this PostgreSQL database (URL)")
    parser.add_argument(
        "--start-postgres", action="store_true", help="also store into a throwaway PostgreSQL"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from benchmarks._common import describe_machine
    from benchmarks._store_setup import drop_schema, fresh_schema, server_version, store_scorecard
    from benchmarks.backtest import find_target
    from benchmarks.run import console

    args = parse(argv)
    target, info = find_target(args)
    card = store_scorecard(target.directory)
    machine = describe_machine(console)
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hs-store-")))
        server = args.postgres
        if args.start_postgres:
            from tests._postgres import running_postgres

            server = stack.enter_context(running_postgres(scratch))
        if server:
            machine["postgresql"] = server_version(server)
        console.print(f"machine: {machine}")

        def stores(round_: int) -> dict[str, str]:
            fresh = {b: str(scratch / f"{b}-{round_}.duckdb") for b in ("duckdb", "ctas")}
            if server:
                fresh["postgresql"] = fresh_schema(server)
                if not args.start_postgres:  # ours, in the database we were given
                    stack.callback(drop_schema, fresh["postgresql"])
            return fresh

        runs, steps = measure(card, target.as_of, stores, max(args.repeat, 1))
        sane = show(target, runs)
        show_steps(steps, runs["ctas"])
    machine["load_after"] = os.getloadavg()
    command = ["python", "benchmarks/store.py", *(sys.argv[1:] if argv is None else argv)]
    results = {
        "command": " ".join(command),
        **info,
        "accounts": target.accounts,
        "events": target.events,
        "as_of": target.as_of.isoformat(),
        "first_runs_as_of": (target.as_of - WEEK).isoformat(),
        "machine": machine,
        "runs": {name: asdict(run) for name, run in runs.items()},
        "ratios": {f"{m} / score": r.seconds / runs["score"].seconds for m, r in runs.items()},
        "steps": steps,
    }
    out = target.results / "store-results.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    console.print(f"results: {out}")
    return 0 if sane else 1


if __name__ == "__main__":
    sys.exit(main())
