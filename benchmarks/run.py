"""Score the same Parquet files three ways and compare time, memory and answers.

    python benchmarks/run.py                      # 100k accounts, ~10M events, both layouts
    python benchmarks/run.py --large              # 1M accounts, ~100M events
    python benchmarks/run.py --accounts 20000 --events-target 2000000 --layout clustered

(a) healthscore's Engine with benchmarks/scorecard.yaml, (b) one hand-written DuckDB
query, (c) vectorized pandas; each in a fresh subprocess, so its peak memory is its own.
The data is generated once per size and cached under bench-data/<hash>/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from benchmarks import _data
from benchmarks._common import Comparison, Scores, compare, describe_machine, ratio

METHODS = ("sql", "engine", "pandas")
LABELS = {"sql": "SQL (DuckDB)", "engine": "healthscore", "pandas": "pandas"}
GIB = 1024**3
MIB = 1024**2

console = Console(width=None if sys.stdout.isatty() else 110)


@dataclass(frozen=True)
class Run:
    """One implementation on one layout: best wall time of the repeats, worst peak memory."""

    method: str
    layout: str
    seconds: float
    startup_seconds: float
    peak_rss_bytes: int
    rows: int
    all_seconds: tuple[float, ...]


def _child(
    method: str, directory: Path, data: _data.DataSet, out: Path, profile: Path | None = None
) -> dict[str, float]:
    command = [
        sys.executable,
        "-m",
        "benchmarks._child",
        method,
        str(directory),
        data.size.as_of.isoformat(),
        str(out),
    ]
    if profile is not None:
        command += ["--profile", str(profile)]
    done = subprocess.run(
        command, cwd=_data.REPO, env=_child_env(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        console.print(done.stderr)
        raise SystemExit(f"{method} failed on {directory} (exit {done.returncode})")
    report: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def engine_phases(directory: Path, data: _data.DataSet) -> dict[str, float]:
    """Where one healthscore run spends its time and memory (python -m benchmarks._engine)."""
    command = [sys.executable, "-m", "benchmarks._engine", str(directory)]
    done = subprocess.run(
        [*command, data.size.as_of.isoformat()],
        cwd=_data.REPO,
        env=_child_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    phases: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return phases


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_data.REPO), env.get("PYTHONPATH")]))
    return env


def _read(path: Path) -> Scores:
    table = pq.read_table(path)
    raw = table.column("raw").to_numpy(zero_copy_only=False).astype(np.float64)
    return Scores(
        table.column("account_id").to_numpy(zero_copy_only=False).astype(object),
        table.column("score").to_numpy(zero_copy_only=False).astype(np.float64),
        table.column("tier").to_numpy(zero_copy_only=False).astype(object),
        None if np.isnan(raw).all() else raw,
    )


def measure(
    data: _data.DataSet, layout: str, methods: tuple[str, ...], repeat: int, scratch: Path
) -> tuple[dict[str, Run], dict[str, Scores]]:
    reports: dict[str, list[dict[str, float]]] = {method: [] for method in methods}
    directory = data.directory(layout)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task(f"{layout}: scoring", total=repeat * len(methods))
        for round_ in range(repeat):
            # Interleaved, so a noisy moment on the machine does not hit one method only.
            for method in methods:
                progress.update(task, description=f"{layout}: {LABELS[method]} ({round_ + 1})")
                out = scratch / f"{layout}-{method}.parquet"
                reports[method].append(_child(method, directory, data, out))
                progress.advance(task)
    runs = {
        method: Run(
            method=method,
            layout=layout,
            seconds=min(r["seconds"] for r in rs),
            startup_seconds=min(r["startup_seconds"] for r in rs),
            peak_rss_bytes=int(max(r["peak_rss_bytes"] for r in rs)),
            rows=int(rs[0]["rows"]),
            all_seconds=tuple(round(r["seconds"], 3) for r in rs),
        )
        for method, rs in reports.items()
    }
    scores = {method: _read(scratch / f"{layout}-{method}.parquet") for method in methods}
    return runs, scores


def show_runs(data: _data.DataSet, layout: str, runs: dict[str, Run]) -> None:
    table = Table(
        title=f"{data.size.accounts:,} accounts, {data.events:,} events, layout: {layout}"
        f" (best of {len(next(iter(runs.values())).all_seconds)})"
    )
    for column in ("approach", "wall s", "of which start-up s", "events/s", "peak RSS"):
        table.add_column(column, justify="left" if column == "approach" else "right")
    table.add_column("time / SQL", justify="right")
    table.add_column("memory / SQL", justify="right")
    sql = runs.get("sql")
    for method, run in runs.items():
        table.add_row(
            LABELS[method],
            f"{run.seconds:.2f}",
            f"{run.startup_seconds:.2f}",
            f"{data.events / run.seconds / 1e6:.1f}M",
            f"{run.peak_rss_bytes / MIB:,.0f} MiB",
            ratio(run.seconds, sql.seconds) if sql else "-",
            ratio(run.peak_rss_bytes, sql.peak_rss_bytes) if sql else "-",
        )
    console.print(table)
    engine, pandas_run = runs.get("engine"), runs.get("pandas")
    if engine and sql:
        console.print(
            f"healthscore / SQL: time {ratio(engine.seconds, sql.seconds)}, "
            f"memory {ratio(engine.peak_rss_bytes, sql.peak_rss_bytes)}"
        )
    if engine and pandas_run:
        console.print(
            f"pandas / healthscore: time {ratio(pandas_run.seconds, engine.seconds)}, "
            f"memory {ratio(pandas_run.peak_rss_bytes, engine.peak_rss_bytes)}"
        )


def agreement(scores: dict[str, Scores]) -> list[Comparison]:
    names = list(scores)
    return [
        compare(a, scores[a], b, scores[b]) for i, a in enumerate(names) for b in names[i + 1 :]
    ]


def show_agreement(layout: str, comparisons: list[Comparison]) -> None:
    table = Table(title=f"Do the answers agree? (layout: {layout})")
    for column in ("pair", "same accounts", "max |score diff|", "max |raw diff|", "tier diffs"):
        table.add_column(column, justify="left" if column == "pair" else "right")
    table.add_column("agree", justify="center")
    for c in comparisons:
        table.add_row(
            f"{LABELS[c.left]} vs {LABELS[c.right]}",
            "yes" if c.same_accounts else "NO",
            f"{c.max_score_diff:.3g}",
            "-" if c.max_raw_diff is None else f"{c.max_raw_diff:.3g}",
            str(c.tier_mismatches),
            "[green]yes[/]" if c.agrees else "[red]NO[/]",
        )
    console.print(table)


def show_targets(data: _data.DataSet, all_runs: dict[str, dict[str, Run]]) -> list[str]:
    """The targets healthscore is measured against, and where this run stands."""
    lines = []
    large = data.size.accounts >= 1_000_000 and data.events >= 90_000_000
    for layout, runs in all_runs.items():
        engine, sql, pandas_run = runs.get("engine"), runs.get("sql"), runs.get("pandas")
        if engine is None:
            continue
        checks: list[tuple[str, bool]] = []
        if sql:
            ratio = engine.seconds / sql.seconds
            checks.append((f"within 1.2x of hand-written SQL: {ratio:.2f}x", ratio <= 1.2))
        if large:
            limit = 6.0 if layout == "clustered" else 15.0
            checks.append(
                (
                    f"1M accounts/100M events in <= {limit:g} s: {engine.seconds:.1f} s",
                    engine.seconds <= limit,
                )
            )
            checks.append(
                (
                    f"<= 1 GiB peak: {engine.peak_rss_bytes / GIB:.2f} GiB",
                    engine.peak_rss_bytes <= GIB,
                )
            )
        if pandas_run:
            speed = pandas_run.seconds / engine.seconds
            memory = pandas_run.peak_rss_bytes / engine.peak_rss_bytes
            checks.append((f">= 3x faster than pandas: {speed:.2f}x", speed >= 3))
            checks.append((f"<= 1/5 of pandas' memory: 1/{memory:.2f}", memory >= 5))
        for text, ok in checks:
            line = f"{layout}: {'met' if ok else 'NOT met'} - {text}"
            lines.append(line)
            console.print(f"[{'green' if ok else 'red'}]{line}[/]")
    return lines


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--large", action="store_true", help="1M accounts, ~100M events")
    parser.add_argument("--accounts", type=int, help="accounts (default 100,000)")
    parser.add_argument("--events-target", type=int, help="about this many events")
    parser.add_argument("--layout", choices=("clustered", "time", "both"), default="both")
    parser.add_argument(
        "--methods", default=",".join(METHODS), help="comma-separated: sql,engine,pandas"
    )
    parser.add_argument("--repeat", type=int, help="runs per method; best time is shown")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile one healthscore run per layout with pyinstrument",
    )
    parser.add_argument(
        "--generate-only", action="store_true", help="make (or find) the data, then stop"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    accounts = args.accounts or (1_000_000 if args.large else 100_000)
    events = args.events_target or (
        100_000_000 if args.large else 100 * accounts if args.accounts else 10_000_000
    )
    size = _data.Size(accounts=accounts, events_target=events)
    layouts = _data.LAYOUTS if args.layout == "both" else (args.layout,)
    methods = tuple(m for m in METHODS if m in args.methods.split(","))
    repeat = args.repeat or (1 if events >= 50_000_000 else 3)

    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("data", total=1)

        def report(step: str, done: int, total: int) -> None:
            progress.update(task, description=f"data: {step}", completed=done, total=total)

        data = _data.ensure(size, layouts, report)
    console.print(
        f"data: {data.root} ({data.events:,} events, events_per_user_day="
        f"{data.events_per_user_day:g}, generated in {data.generate_seconds:.0f} s); "
        f"as of {size.as_of}"
    )
    if data.stale:
        console.print(
            f"[yellow]the data was made by another version of the generator; delete "
            f"{data.root} to make it again[/]"
        )
    if args.generate_only:
        return 0
    machine = describe_machine(console)
    by_layout: dict[str, dict[str, object]] = {}
    all_runs: dict[str, dict[str, Run]] = {}
    ok = True
    with tempfile.TemporaryDirectory(prefix="healthscore-bench-") as scratch:
        for layout in layouts:
            runs, scores = measure(data, layout, methods, repeat, Path(scratch))
            all_runs[layout] = runs
            show_runs(data, layout, runs)
            comparisons = agreement(scores)
            show_agreement(layout, comparisons)
            ok &= all(c.agrees for c in comparisons)
            by_layout[layout] = {
                "runs": {m: asdict(r) for m, r in runs.items()},
                "agreement": [asdict(c) | {"agrees": c.agrees} for c in comparisons],
            }
            if args.profile and "engine" in methods:
                profile = data.root / f"profile-engine-{layout}.txt"
                _child("engine", data.directory(layout), data, Path(scratch) / "p.parquet", profile)
                console.print(f"profile of one healthscore run: {profile} (and .html)")
                by_layout[layout]["profile"] = str(profile)
                phases = engine_phases(data.directory(layout), data)
                console.print(f"healthscore, step by step: {phases}")
                by_layout[layout]["engine_phases"] = phases
    machine["load_after"] = os.getloadavg()
    command = ["python", "benchmarks/run.py", *(sys.argv[1:] if argv is None else argv)]
    results = {
        "command": " ".join(command),
        "size": asdict(size) | {"end": size.end.isoformat()},
        "events": data.events,
        "events_per_user_day": data.events_per_user_day,
        "machine": machine,
        "layouts": by_layout,
        "targets": show_targets(data, all_runs),
    }
    out = data.root / "results.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    console.print(f"results: {out}")
    if not ok:
        console.print("[red]the implementations disagree: the timings above mean nothing[/]")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
