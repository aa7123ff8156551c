"""`healthscore demo`: generate data, load it into DuckDB, score it, show the result."""

from __future__ import annotations

import datetime as dt
import shutil
from importlib import resources
from pathlib import Path

import duckdb
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from healthscore.cli._render import render_summary
from healthscore.cli._render_evidence import render_backtest
from healthscore.compute._contract import CONTRACTS
from healthscore.demo import DemoConfig, write_demo
from healthscore.engine import Engine
from healthscore.report import write_report
from healthscore.store import export_scores


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    )


def load_parquet_tables(warehouse: Path, files: dict[str, Path], progress: Progress) -> None:
    """Load each table into DuckDB, clustered by account and time (see DESIGN.md's speed)."""
    task = progress.add_task("loading into DuckDB", total=len(files))
    with duckdb.connect(str(warehouse)) as con:
        for table, path in files.items():
            contract = CONTRACTS[table]
            order = f' ORDER BY "{contract.key}", "{contract.time}"' if contract.time else ""
            con.execute(
                f'CREATE OR REPLACE TABLE "{table}" AS SELECT * FROM read_parquet(?){order}',
                [str(path)],
            )
            progress.advance(task)


HISTORY_WEEKS = 6  # 35 days: enough for the 30-day trend of the last run


def run_demo(console: Console, directory: Path, accounts: int, seed: int) -> None:
    config = DemoConfig(n_accounts=accounts, seed=seed)
    directory.mkdir(parents=True, exist_ok=True)
    scorecard = directory / "scorecard.yaml"
    example = resources.files("healthscore.examples").joinpath("saas.yaml").read_text("utf-8")
    scorecard.write_text(example, encoding="utf-8")
    with _progress(console) as progress:
        tasks: dict[str, TaskID] = {}

        def report(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = progress.add_task(step, total=total)
            progress.update(tasks[step], completed=done, total=total)

        files = write_demo(directory / "data", config, progress=report)
        # A demo starts from nothing: an earlier demo's runs and actions would mix in.
        for stale in ("healthscore.duckdb", "healthscore.duckdb.wal"):
            (directory / stale).unlink(missing_ok=True)
        shutil.rmtree(directory / "journeys", ignore_errors=True)
        load_parquet_tables(directory / "healthscore.duckdb", files, progress)
        engine = Engine(scorecard)
        as_of = config.end + dt.timedelta(days=1)
        # Weekly runs, so history, trends and "what changed" have something to show.
        weeks = [as_of - dt.timedelta(days=7 * back) for back in range(HISTORY_WEEKS - 1, -1, -1)]
        task = progress.add_task(f"scoring {len(weeks)} weekly runs to {as_of}", total=len(weeks))
        acted = 0
        for day in weeks:
            scores = engine.run(day).scores
            # Playbooks act on each new run against the one before (tasks, journey files).
            acted += len(engine.run_playbooks().log)
            progress.advance(task)
        export_scores(scores, directory / "scores.parquet")
        # The evidence: a year of monthly dates whose 30-day horizon the data still covers.
        start, end = _backtest_span(config)
        checks = progress.add_task("backtest: 12 monthly dates", total=3)
        result = engine.backtest(start, end, "1mo", progress=lambda _: progress.advance(checks))
        write_report(directory / "report.html", [result])
    render_summary(console, engine.scorecard, scores)
    console.print()
    render_backtest(console, result, measures=5)
    console.print(
        f"\nData: {directory / 'data'}  Warehouse: {directory / 'healthscore.duckdb'}\n"
        f"Scores: {directory / 'scores.parquet'}  Report: {directory / 'report.html'}\n"
        f"Again, any date: healthscore score -c {scorecard} --as-of {as_of}\n"
        f"One account over time: healthscore history {_lowest(scores)} -c {scorecard}\n"
        f"Playbooks logged {acted} actions; open tasks: healthscore tasks list -c {scorecard}\n"
        f"Evidence: healthscore backtest -c {scorecard} --start {start} --end {end}\n"
        f"Serve it (API and dashboard at /ui/): healthscore keys create --role admin "
        f"--name me -c {scorecard}, then healthscore serve -c {scorecard}"
    )


def _lowest(scores: pd.DataFrame) -> str:
    return str(scores.nsmallest(1, "score")["account_id"].iloc[0])


def _backtest_span(config: DemoConfig) -> tuple[dt.date, dt.date]:
    """Up to 12 monthly dates whose 30-day horizon and 7-day grace the data covers."""
    last = (pd.Timestamp(config.end.replace(day=1)) - pd.DateOffset(months=1)).date()
    months = max(1, min(12, config.months - 3))
    start = (pd.Timestamp(last) - pd.DateOffset(months=months - 1)).date()
    return start, last
