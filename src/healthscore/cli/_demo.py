"""`healthscore demo`: generate data, load it into DuckDB, score it, show the result."""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path

import duckdb
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from healthscore.cli._render import render_summary
from healthscore.compute._contract import CONTRACTS
from healthscore.demo import DemoConfig, write_demo
from healthscore.engine import Engine
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
        load_parquet_tables(directory / "healthscore.duckdb", files, progress)
        engine = Engine(scorecard)
        as_of = config.end + dt.timedelta(days=1)
        task = progress.add_task(f"scoring as of {as_of}", total=1)
        scores = engine.score(as_of=as_of)
        engine.save(scores)
        export_scores(scores, directory / "scores.parquet")
        progress.advance(task)
    render_summary(console, engine.scorecard, scores)
    console.print(
        f"\nData: {directory / 'data'}  Warehouse: {directory / 'healthscore.duckdb'}\n"
        f"Scores: {directory / 'scores.parquet'}\n"
        f"Again, any date: healthscore score -c {scorecard} --as-of {as_of}"
    )
