"""What a backtest costs: 12 observation dates in one pass, against one batch score.

    python benchmarks/backtest.py                 # 100k accounts, ~10M events, clustered
    python benchmarks/backtest.py --large         # 1M accounts, ~100M events
    python benchmarks/backtest.py --accounts 20000 --events-target 2000000
    python benchmarks/backtest.py --data DIR      # demo Parquet files already in DIR

Three runs on the same cached data (benchmarks/_data.py), each in a fresh subprocess
(``python -m benchmarks.backtest --child RUN ...``), so its peak memory is its own:

- score: one batch ``Engine.score(as_of)``, as of the day after the data (as run.py);
- backtest: ``Engine.backtest(start, end, every="1mo", horizon="30d")``, the 12 monthly
  dates before that day, every date's metrics in one pass of the many-dates engine;
- separate: what a user would write without it: 12 ``Engine.score(as_of=d)`` (its two
  steps, ``Engine.metrics`` then ``score_frame``, keeping the metric frame the evidence
  reads), then the same outcome reading, labelling and summary as the backtest, so both
  return the same BacktestResult (checked: the exit status is 1 when they differ).

The target: the backtest costs less than 3x the one score (no rescan per date).
"""

from __future__ import annotations

import time

START = time.perf_counter()

# Only the standard library here: the children's clock starts above, before healthscore
# is imported, as in benchmarks/_child.py; the parent imports Rich and the rest in main.
import argparse  # noqa: E402 - after the clock starts, on purpose
import datetime as dt  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from itertools import pairwise  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._child import peak_rss  # noqa: E402 - standard library only

RUNS = ("score", "backtest", "separate")
LABELS = {"score": "one score", "backtest": "backtest", "separate": "12 scores"}
DATES = 12  # monthly observation dates, the last one a month before the score's as_of
EVERY = "1mo"
HORIZON = "30d"
TARGET = 3.0  # the backtest must cost less than this many single scores
MIB = 1024**2
# What the two backtests must agree on (from the BacktestResult).
SUMMARY_FIELDS = ("observations", "churned", "censored", "ineligible", "churn_rate", "auc")
# The steps of a run, cut where the backtest reports progress (the same cuts in `separate`).
STEPS = {
    "setup": "imports, Engine",
    "metrics": "metrics",
    "scores": "scores",
    "outcomes": "outcomes, labels, summary",
}
# The parts of healthscore.evaluation._summary.summarize that --phases times on their own.
SUMMARY_STEPS = ("auc_interval", "lead_time", "_components", "calibration", "_by_date")


# --- the children ----------------------------------------------------------------------


def _summary(result: Any) -> dict[str, Any]:
    return {name: getattr(result, name) for name in SUMMARY_FIELDS}


def _separate(
    scorecard: Path, start: dt.date, end: dt.date, stamps: dict[str, float]
) -> tuple[Any, Any]:
    """12 Engine.score calls, then the labelling and summary Engine.backtest does."""
    import pandas as pd

    from healthscore import Engine
    from healthscore.compute import score_frame
    from healthscore.compute._outcome_data import read_outcome_data
    from healthscore.engine import horizon_days
    from healthscore.evaluation import observation_dates
    from healthscore.evaluation._backtest import resolve_outcome
    from healthscore.evaluation._labels import LABEL_COLUMNS, label_observations
    from healthscore.evaluation._summary import summarize

    engine = Engine(scorecard)
    dates = observation_dates(start, end, EVERY)
    outcome = resolve_outcome(engine.scorecard, horizon_days(HORIZON))
    stamps["scores"] = time.perf_counter()
    metric_frames, score_frames = [], []
    for day in dates:
        metrics = engine.metrics(day)  # Engine.score(as_of=day) is these two lines
        score_frames.append(score_frame(engine.scorecard, metrics))
        metric_frames.append(metrics)
    metrics = pd.concat(metric_frames, ignore_index=True)
    scores = pd.concat(score_frames, ignore_index=True)
    stamps["outcomes"] = time.perf_counter()
    # From here on, what healthscore.evaluation._backtest.observations and run_backtest do.
    data = read_outcome_data(outcome, engine.sources)
    labels = label_observations(metrics, outcome, data)
    extra = [c for c in metrics.columns if c not in scores.columns]
    frame = pd.concat([scores, metrics[extra], labels[list(LABEL_COLUMNS)]], axis=1)
    frame["as_of"] = metrics["as_of"]
    return frame, summarize(engine.scorecard, outcome, frame, dates, data)


def child(argv: list[str]) -> int:
    """One run in this fresh process; prints what it cost as one JSON line."""
    run, data_dir, as_of_text, start_text, end_text, out = argv[:6]
    if run not in RUNS:
        raise SystemExit(f"unknown run {run!r}; one of {', '.join(RUNS)}")
    import pyarrow as pa
    import pyarrow.parquet as pq

    from healthscore import Engine

    startup = time.perf_counter() - START
    scorecard = Path(data_dir) / "scorecard.yaml"
    as_of, start, end = (dt.date.fromisoformat(t) for t in (as_of_text, start_text, end_text))
    stamps: dict[str, float] = {}
    summary: dict[str, Any] = {}
    if run == "score":
        frame = Engine(scorecard).score(as_of=as_of)
    elif run == "backtest":

        def progress(step: str) -> None:  # "metrics at 12 dates", "scores", "outcomes"
            stamps[step.split()[0]] = time.perf_counter()

        result = Engine(scorecard).backtest(start, end, EVERY, HORIZON, progress)
        frame = result.observation_frame
        summary = _summary(result)
    else:
        frame, result = _separate(scorecard, start, end, stamps)
        summary = _summary(result)
    finished = time.perf_counter()
    seconds = finished - START
    peak = peak_rss()
    # Steps, from the progress the backtest reports (and the same cuts in `separate`).
    cuts = [("setup", START), *sorted(stamps.items(), key=lambda kv: kv[1])]
    cuts.append(("end", finished))
    steps = {STEPS[name]: t1 - t0 for (name, t0), (_, t1) in pairwise(cuts)} if stamps else {}
    table = pa.table(
        {
            "account_id": pa.array(frame["account_id"].astype(str), pa.string()),
            "as_of": pa.array(frame["as_of"]).cast(pa.timestamp("us")),
            "score": pa.array(frame["score"], pa.float64()),
            "tier": pa.array(frame["tier"].astype(str), pa.string()),
        }
    )
    pq.write_table(table, out)
    report = {
        "run": run,
        "seconds": seconds,
        "startup_seconds": startup,
        "peak_rss_bytes": peak,
        "rows": len(frame),
        "dates": int(frame["as_of"].nunique()),
        "steps": steps,
        "summary": summary,
    }
    print(json.dumps(report, default=str), flush=True)
    return 0


def _range_join_rows(sources: Any, scorecard: Any, dates: list[dt.date]) -> dict[str, int]:
    """How many (event, date) rows the many-dates engine's range join over events makes.

    An aggregate without a window (days_since) joins each event to every later date; with
    only windowed aggregates each event would meet the dates within the widest window.
    """
    import ibis

    from healthscore.spec._resolved import AggregateSpec

    events = sources.table("events")
    stamp = events.ts.cast("timestamp")
    windowed = [
        spec.window_days + spec.offset_days
        for spec in scorecard.metrics
        if isinstance(spec, AggregateSpec) and spec.table == "events" and spec.window_days
    ]
    span = max(windowed, default=0)
    unbounded = within = 0
    for day in dates:
        as_of = ibis.literal(dt.datetime(day.year, day.month, day.day), type="timestamp")
        unbounded += int(events.filter(stamp < as_of).count().execute())
        recent = (stamp < as_of) & (stamp >= as_of - ibis.interval(days=span))
        within += int(events.filter(recent).count().execute())
    return {
        "events": int(events.count().execute()),
        "(event, date) pairs, every event before each date": unbounded,
        f"(event, date) pairs within {span} days (the widest window)": within,
    }


def phases(data_dir: Path, as_of: dt.date, start: dt.date, end: dt.date) -> dict[str, Any]:
    """Where the backtest spends its time, step by step (no profiler), beside one score.

    ``python -m benchmarks.backtest --step-by-step DATA_DIR AS_OF START END``; the steps are
    those of healthscore.evaluation._backtest.observations and run_backtest.
    """
    import pandas as pd

    import healthscore.compute._outcome_data as outcome_data
    import healthscore.compute._scores as scores_module
    import healthscore.evaluation._summary as summary_module
    from healthscore import Engine
    from healthscore.compute import metric_frame, score_frame
    from healthscore.engine import horizon_days
    from healthscore.evaluation import observation_dates
    from healthscore.evaluation._backtest import resolve_outcome
    from healthscore.evaluation._labels import LABEL_COLUMNS, label_observations

    imported = time.perf_counter()
    spent: dict[str, float] = {}
    patched: list[tuple[Any, str, Callable[..., Any]]] = []

    def time_calls(module: Any, name: str) -> None:
        original: Callable[..., Any] = getattr(module, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - started

        setattr(module, name, timed)
        patched.append((module, name, original))

    def reasons_since(mark: float) -> float:
        return spent.get("measure_reasons", 0.0) - mark

    # Private functions, wrapped on purpose (as benchmarks/_engine.py does).
    time_calls(scores_module, "measure_reasons")
    time_calls(outcome_data, "data_span")
    for name in SUMMARY_STEPS:
        time_calls(summary_module, name)
    try:
        t0 = time.perf_counter()
        engine = Engine(data_dir / "scorecard.yaml")
        scorecard, sources = engine.scorecard, engine.sources
        dates = observation_dates(start, end, EVERY)
        outcome = resolve_outcome(scorecard, horizon_days(HORIZON))
        t1 = time.perf_counter()
        one = metric_frame(scorecard, sources, [as_of])
        t2 = time.perf_counter()
        score_frame(scorecard, one)
        t3 = time.perf_counter()
        reasons_one = reasons_since(0.0)
        metrics = metric_frame(scorecard, sources, dates)
        t4 = time.perf_counter()
        scores = score_frame(scorecard, metrics)
        t5 = time.perf_counter()
        reasons_all = reasons_since(reasons_one)
        data = outcome_data.read_outcome_data(outcome, sources)
        t6 = time.perf_counter()
        labels = label_observations(metrics, outcome, data)
        t7 = time.perf_counter()
        extra = [c for c in metrics.columns if c not in scores.columns]
        frame = pd.concat([scores, metrics[extra], labels[list(LABEL_COLUMNS)]], axis=1)
        frame["as_of"] = metrics["as_of"]
        t8 = time.perf_counter()
        summary_module.summarize(scorecard, outcome, frame, dates, data)
        t9 = time.perf_counter()
        peak = peak_rss()
        # For comparison, not part of the backtest: the same rows scored date by date.
        marked = spent["measure_reasons"]
        for _, part in metrics.groupby("as_of", sort=True):
            score_frame(scorecard, part.reset_index(drop=True))
        t10 = time.perf_counter()
        reasons_by_date = reasons_since(marked)
    finally:
        for module, name, original in patched:
            setattr(module, name, original)
    return {
        "rows": {
            "one score": len(one),
            "backtest": len(metrics),
            **_range_join_rows(sources, scorecard, dates),
        },
        "seconds": {
            "import healthscore": imported - START,
            "Engine(...), dates, outcome": t1 - t0,
            "one score: metric_frame (1 date)": t2 - t1,
            "one score: score_frame": t3 - t2,
            "... of which reason texts (measure_reasons), 1 date": reasons_one,
            f"backtest: metric_frame ({len(dates)} dates, range join)": t4 - t3,
            "backtest: score_frame (all rows at once)": t5 - t4,
            "... of which reason texts (measure_reasons), 12 dates": reasons_all,
            "backtest: read_outcome_data": t6 - t5,
            "... of which data_span (min/max stamp of every source)": spent["data_span"],
            "backtest: label_observations": t7 - t6,
            "backtest: assemble the observation frame": t8 - t7,
            "backtest: summarize": t9 - t8,
            **{f"... of which {name}": spent.get(name, 0.0) for name in SUMMARY_STEPS},
            "(for comparison) score_frame date by date, 12 calls": t10 - t9,
            "(for comparison) ... of which reason texts": reasons_by_date,
        },
        "peak_rss_bytes": peak,
    }


# --- the parent ------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """The data the runs read: a layout directory of Parquet files and the scorecard."""

    directory: Path
    results: Path  # where backtest-results.json goes
    accounts: int
    events: int
    as_of: dt.date
    start: dt.date
    end: dt.date


@dataclass(frozen=True)
class Run:
    """One run: best wall time of the repeats (and that run's steps), worst peak memory."""

    run: str
    seconds: float
    startup_seconds: float
    peak_rss_bytes: int
    rows: int
    dates: int
    steps: dict[str, float]
    summary: dict[str, Any]
    all_seconds: tuple[float, ...]


def months_before(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, min(day.day, 28))


def _arguments(target: Target) -> list[str]:
    return [
        str(target.directory),
        *(d.isoformat() for d in (target.as_of, target.start, target.end)),
    ]


def _child(run: str, target: Target, out: Path) -> dict[str, Any]:
    from benchmarks import _data
    from benchmarks.run import _child_env, console

    command = [sys.executable, "-m", "benchmarks.backtest", "--child", run]
    done = subprocess.run(
        [*command, *_arguments(target), str(out)],
        cwd=_data.REPO,
        env=_child_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        console.print(done.stderr)
        raise SystemExit(f"{run} failed on {target.directory} (exit {done.returncode})")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def backtest_phases(target: Target) -> dict[str, Any]:
    """python -m benchmarks.backtest --step-by-step ..., in a fresh process."""
    from benchmarks import _data
    from benchmarks.run import _child_env

    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.backtest", "--step-by-step", *_arguments(target)],
        cwd=_data.REPO,
        env=_child_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(target: Target, repeat: int, scratch: Path) -> dict[str, Run]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from benchmarks.run import console

    reports: dict[str, list[dict[str, Any]]] = {run: [] for run in RUNS}
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("running", total=repeat * len(RUNS))
        for round_ in range(repeat):
            # Interleaved, so a noisy moment on the machine does not hit one run only.
            for run in RUNS:
                progress.update(task, description=f"{LABELS[run]} ({round_ + 1})")
                reports[run].append(_child(run, target, scratch / f"{run}.parquet"))
                progress.advance(task)
    runs = {}
    for run, rs in reports.items():
        best = min(rs, key=lambda r: float(r["seconds"]))
        runs[run] = Run(
            run=run,
            seconds=float(best["seconds"]),
            startup_seconds=min(float(r["startup_seconds"]) for r in rs),
            peak_rss_bytes=max(int(r["peak_rss_bytes"]) for r in rs),
            rows=int(best["rows"]),
            dates=int(best["dates"]),
            steps={k: round(v, 3) for k, v in best["steps"].items()},
            summary=best["summary"],
            all_seconds=tuple(round(float(r["seconds"]), 3) for r in rs),
        )
    return runs


@dataclass(frozen=True)
class Agreement:
    """The backtest against the 12 separate scores: the same observations, scores, labels."""

    same_observations: bool
    max_score_diff: float
    tier_mismatches: int
    summary_differences: dict[str, tuple[Any, Any]]

    @property
    def agrees(self) -> bool:
        return (
            self.same_observations
            and self.max_score_diff < 1e-6
            and self.tier_mismatches == 0
            and not self.summary_differences
        )


def agreement(runs: dict[str, Run], scratch: Path) -> Agreement:
    import numpy as np
    import pandas as pd

    frames = [pd.read_parquet(scratch / f"{run}.parquet") for run in ("backtest", "separate")]
    keys = ["account_id", "as_of"]
    a, b = (f.sort_values(keys, kind="stable").reset_index(drop=True) for f in frames)
    same = len(a) == len(b) and a[keys].equals(b[keys])
    diff = float(np.max(np.abs(a["score"] - b["score"]))) if same and len(a) else 0.0
    tiers = int((a["tier"] != b["tier"]).sum()) if same else -1
    left, right = runs["backtest"].summary, runs["separate"].summary
    differences = {k: (left[k], right[k]) for k in SUMMARY_FIELDS if left[k] != right[k]}
    return Agreement(same, diff if same else float("inf"), tiers, differences)


def _per_second(count: float) -> str:
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f}{unit}"
    return f"{count:.0f}"


def show(target: Target, runs: dict[str, Run]) -> list[str]:
    from rich.table import Table

    from benchmarks._common import ratio
    from benchmarks.run import console

    one = runs["score"]
    table = Table(
        title=f"{target.accounts:,} accounts, {target.events:,} events; one score as of "
        f"{target.as_of}, backtest {target.start}..{target.end} monthly, horizon {HORIZON}"
        f" (best of {len(one.all_seconds)})"
    )
    for column in (
        "run",
        "dates",
        "wall s",
        "start-up s",
        "account-dates",
        "per s",
        "events/s",
        "peak RSS",
        "time / 1 score",
        "mem / 1 score",
    ):
        table.add_column(column, justify="left" if column == "run" else "right")
    for run in runs.values():
        table.add_row(
            LABELS[run.run],
            str(run.dates),
            f"{run.seconds:.2f}",
            f"{run.startup_seconds:.2f}",
            f"{run.rows:,}",
            _per_second(run.rows / run.seconds),
            _per_second(target.events / run.seconds),
            f"{run.peak_rss_bytes / MIB:,.0f} MiB",
            ratio(run.seconds, one.seconds),
            ratio(run.peak_rss_bytes, one.peak_rss_bytes),
        )
    console.print(table)
    backtest, separate = runs["backtest"], runs["separate"]
    times = backtest.seconds / one.seconds
    met = times < TARGET
    lines = [
        f"backtest / one score: time {ratio(backtest.seconds, one.seconds)}, memory "
        f"{ratio(backtest.peak_rss_bytes, one.peak_rss_bytes)}",
        f"backtest / 12 separate scores: time {ratio(backtest.seconds, separate.seconds)}, "
        f"memory {ratio(backtest.peak_rss_bytes, separate.peak_rss_bytes)}",
        f"{'met' if met else 'NOT met'} - a backtest of {DATES} monthly dates costs less than "
        f"{TARGET:g}x one score: {times:.2f}x",
    ]
    for line in lines[:2]:
        console.print(line)
    console.print(f"[{'green' if met else 'red'}]{lines[2]}[/]")
    for run in (backtest, separate):
        steps = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in run.steps.items())
        console.print(f"{LABELS[run.run]}, steps (best run): {steps}")
    s = backtest.summary
    console.print(
        f"backtest: {backtest.rows:,} account-dates scored, {s['observations']:,} labelled "
        f"({s['churned']:,} churned), {s['censored']:,} censored, {s['ineligible']:,} not "
        f"eligible; AUC {s['auc']}"
    )
    return lines


def show_agreement(check: Agreement) -> None:
    from benchmarks.run import console

    if check.agrees:
        console.print(
            "[green]backtest and 12 separate scores agree[/]: the same account-dates, "
            f"max |score diff| = {check.max_score_diff:.3g}, the same labels and summary"
        )
        return
    console.print(
        f"[red]backtest and 12 separate scores DISAGREE[/]: same account-dates "
        f"{check.same_observations}, max |score diff| {check.max_score_diff:.3g}, tier "
        f"mismatches {check.tier_mismatches}, summary differences {check.summary_differences}"
    )


def show_phases(result: dict[str, Any]) -> None:
    from rich.table import Table

    from benchmarks.run import console

    rows = result["rows"]
    table = Table(
        title=f"Where the backtest spends its time ({rows['backtest']:,} account-dates; "
        f"one score: {rows['one score']:,} accounts)"
    )
    table.add_column("step")
    table.add_column("s", justify="right")
    for step, seconds in result["seconds"].items():
        table.add_row(step, f"{seconds:.3f}")
    console.print(table)
    console.print(f"peak RSS of the step-by-step run: {result['peak_rss_bytes'] / MIB:,.0f} MiB")
    for name, count in list(rows.items())[2:]:
        console.print(f"range join over events: {name}: {count:,}")


def find_target(args: argparse.Namespace) -> tuple[Target, dict[str, Any]]:
    """The data: a directory given with --data, or the cached benchmark data set."""
    import pyarrow.parquet as pq
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from benchmarks import _data
    from benchmarks.run import console

    def rows(directory: Path, table: str) -> int:
        return int(pq.ParquetFile(directory / f"{table}.parquet").metadata.num_rows)

    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else _data.Size().as_of
    start, end = months_before(as_of, DATES), months_before(as_of, 1)
    if args.data is not None:
        directory = Path(args.data).resolve()
        _data._prepare_layout(directory)  # the scorecard beside the files
        info: dict[str, Any] = {"data": str(directory)}
        return (
            Target(
                directory,
                directory,
                rows(directory, "accounts"),
                rows(directory, "events"),
                as_of,
                start,
                end,
            ),
            info,
        )
    accounts = args.accounts or (1_000_000 if args.large else 100_000)
    events = args.events_target or (
        100_000_000 if args.large else 100 * accounts if args.accounts else 10_000_000
    )
    size = _data.Size(accounts=accounts, events_target=events)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("data", total=1)

        def report(step: str, done: int, total: int) -> None:
            progress.update(task, description=f"data: {step}", completed=done, total=total)

        data = _data.ensure(size, (args.layout,), report)
    directory = data.directory(args.layout)
    link = directory / "subscriptions.parquet"  # the outcome's table; _data links 3 tables
    if not link.exists():
        link.symlink_to(Path("..") / "clustered" / "subscriptions.parquet")
    console.print(
        f"data: {directory} ({data.events:,} events, generated in {data.generate_seconds:.0f} s)"
    )
    if data.stale:
        console.print(
            f"[yellow]the data was made by another version of the generator; delete "
            f"{data.root} to make it again[/]"
        )
    info = {"size": asdict(size) | {"end": size.end.isoformat()}, "layout": args.layout}
    return Target(directory, data.root, accounts, data.events, as_of, start, end), info


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--large", action="store_true", help="1M accounts, ~100M events")
    parser.add_argument("--accounts", type=int, help="accounts (default 100,000)")
    parser.add_argument("--events-target", type=int, help="about this many events")
    parser.add_argument("--layout", choices=("clustered", "time"), default="clustered")
    parser.add_argument("--data", help="a directory of demo Parquet files to use instead")
    parser.add_argument(
        "--as-of", help="the one score's date (default 2026-07-01, the day after the data)"
    )
    parser.add_argument("--repeat", type=int, help="runs of each; the best time is shown")
    parser.add_argument("--phases", action="store_true", help="also time the backtest step by step")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:

    from benchmarks._common import describe_machine
    from benchmarks.run import console

    args = parse(argv)
    target, info = find_target(args)
    repeat = args.repeat or (1 if target.events >= 50_000_000 else 3)
    machine = describe_machine(console)
    with tempfile.TemporaryDirectory(prefix="healthscore-backtest-") as scratch:
        runs = measure(target, repeat, Path(scratch))
        lines = show(target, runs)
        check = agreement(runs, Path(scratch))
    show_agreement(check)
    step_by_step = None
    if args.phases:
        step_by_step = backtest_phases(target)
        show_phases(step_by_step)
    machine["load_after"] = os.getloadavg()
    command = ["python", "benchmarks/backtest.py", *(sys.argv[1:] if argv is None else argv)]
    results = {
        "command": " ".join(command),
        **info,
        "accounts": target.accounts,
        "events": target.events,
        "as_of": target.as_of.isoformat(),
        "dates": {"start": target.start.isoformat(), "end": target.end.isoformat()},
        "every": EVERY,
        "horizon": HORIZON,
        "machine": machine,
        "runs": {run: asdict(r) for run, r in runs.items()},
        "ratios": {
            "backtest / one score": runs["backtest"].seconds / runs["score"].seconds,
            "backtest / 12 separate scores": runs["backtest"].seconds / runs["separate"].seconds,
        },
        "agreement": asdict(check) | {"agrees": check.agrees},
        "phases": step_by_step,
        "target": lines[2],
    }
    out = target.results / "backtest-results.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    console.print(f"results: {out}")
    if not check.agrees:
        console.print("[red]the backtest and the separate scores disagree[/]")
    return 0 if check.agrees else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        sys.exit(child(sys.argv[2:]))
    if sys.argv[1:2] == ["--step-by-step"]:
        directory, *days = sys.argv[2:]
        as_of, start, end = (dt.date.fromisoformat(d) for d in days)
        print(json.dumps(phases(Path(directory), as_of, start, end)))
        sys.exit(0)
    sys.exit(main())
