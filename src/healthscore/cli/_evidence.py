"""`healthscore backtest`, `suggest-weights`, `compare` and `report`: evidence commands."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from healthscore.cli._render_evidence import render_backtest
from healthscore.compute import AssignmentError, SourceError
from healthscore.engine import Engine
from healthscore.evaluation import BacktestError, BacktestResult
from healthscore.evaluation._backtest import Progress as StepReport

console = Console()
errors = Console(stderr=True)
EXIT_INVALID = 2
BACKTEST_STEPS = 3  # metrics, scores, outcomes

StartOption = Annotated[str, typer.Option(help="First observation date, YYYY-MM-DD.")]
EndOption = Annotated[str, typer.Option(help="Last observation date, YYYY-MM-DD.")]
EveryOption = Annotated[str, typer.Option(help="Step between dates: 7d, 2w, 1mo, 1q, 1y.")]
HorizonOption = Annotated[
    str | None, typer.Option(help="Churn within this long, e.g. 30d; default: the scorecard's.")
]


def parse_date(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"must be a date as YYYY-MM-DD. Got '{text}' instead.", param_hint=option
        ) from None


@contextmanager
def steps(description: str, total: int) -> Iterator[StepReport]:
    """A progress bar advanced once per reported step."""
    progress = Progress(
        TextColumn("{task.description:<40}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    )
    with progress:
        task = progress.add_task(description, total=total)

        def report(step: str) -> None:
            progress.update(task, description=f"{description}: {step}")
            progress.advance(task)

        yield report
        progress.update(task, completed=total)


@contextmanager
def clear_errors() -> Iterator[None]:
    """Known failures become one red line and exit 2, never a traceback."""
    try:
        yield
    except (BacktestError, AssignmentError, SourceError, ValueError) as error:
        errors.print(f"error: {error}", style="red", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_INVALID) from None


def write_outputs(
    results: list[BacktestResult], json_path: Path | None, html_path: Path | None
) -> None:
    if json_path is not None:
        json_path.write_text(results[0].to_json() + "\n", encoding="utf-8")
        console.print(f"Wrote {json_path}")
    if html_path is not None:
        from healthscore.report import write_report

        write_report(html_path, results)
        console.print(f"Wrote {html_path}")


def run_backtest_command(
    engine: Engine,
    start: str,
    end: str,
    every: str,
    horizon: str | None,
    json_path: Path | None,
    html_path: Path | None,
) -> BacktestResult:
    first, last = parse_date(start, "--start"), parse_date(end, "--end")
    with clear_errors(), steps("backtest", BACKTEST_STEPS) as report:
        result = engine.backtest(first, last, every, horizon, progress=report)
    render_backtest(console, result)
    write_outputs([result], json_path, html_path)
    return result
