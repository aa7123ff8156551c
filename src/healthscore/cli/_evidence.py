"""`healthscore backtest`, `suggest-weights`, `compare` and `report`: evidence commands."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from healthscore.cli._common import (
    EXIT_INVALID,
    ScorecardOption,
    WarehouseOption,
    console,
    errors,
    load_engine,
)
from healthscore.cli._render_evidence import (
    render_backtest,
    render_comparison,
    render_suggestion,
)
from healthscore.compute import AssignmentError, SourceError
from healthscore.evaluation import BacktestError, BacktestResult, SuggestError
from healthscore.evaluation._backtest import Progress as StepReport
from healthscore.model import ArtifactError, FeatureError
from healthscore.report import write_report
from healthscore.store import StoreError

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
    except (
        BacktestError,
        SuggestError,
        AssignmentError,
        SourceError,
        ArtifactError,
        FeatureError,
        StoreError,
    ) as error:
        errors.print(f"error: {error}", style="red", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_INVALID) from None


def write_outputs(
    results: list[BacktestResult], json_path: Path | None, html_path: Path | None
) -> None:
    if json_path is not None:
        json_path.write_text(results[0].to_json() + "\n", encoding="utf-8")
        console.print(f"Wrote {json_path}")
    if html_path is not None:
        write_report(html_path, results)
        console.print(f"Wrote {html_path}")


def register_evidence(app: typer.Typer) -> None:
    """Add backtest, suggest-weights, compare and report to the `healthscore` command."""

    @app.command()
    def backtest(
        scorecard: ScorecardOption,
        start: StartOption,
        end: EndOption,
        every: EveryOption = "1mo",
        horizon: HorizonOption = None,
        json_path: Annotated[Path | None, typer.Option("--json", help="Write the result.")] = None,
        html: Annotated[Path | None, typer.Option(help="Write the HTML report.")] = None,
        warehouse: WarehouseOption = None,
    ) -> None:
        """Score every account at each past date and check the scores against real churn."""
        engine = load_engine(scorecard, warehouse)
        first, last = parse_date(start, "--start"), parse_date(end, "--end")
        with clear_errors(), steps("backtest", BACKTEST_STEPS) as report:
            result = engine.backtest(first, last, every, horizon, progress=report)
        render_backtest(console, result)
        write_outputs([result], json_path, html)

    @app.command("suggest-weights")
    def suggest_weights(
        scorecard: ScorecardOption,
        start: StartOption,
        end: EndOption,
        every: EveryOption = "1mo",
        horizon: HorizonOption = None,
        out: Annotated[
            Path | None, typer.Option(help="The new scorecard; default: NAME.suggested.yaml.")
        ] = None,
        version: Annotated[
            str | None, typer.Option(help="The new version; default: minor bump.")
        ] = None,
        json_path: Annotated[Path | None, typer.Option("--json", help="Write the result.")] = None,
        warehouse: WarehouseOption = None,
    ) -> None:
        """Fit weights on the backtest and write them as a new scorecard version."""
        engine = load_engine(scorecard, warehouse)
        first, last = parse_date(start, "--start"), parse_date(end, "--end")
        with clear_errors(), steps("suggest weights", BACKTEST_STEPS) as report:
            result = engine.suggest_weights(first, last, every, horizon, version, report)
        target = out or scorecard.with_suffix(".suggested.yaml")
        target.write_text(result.scorecard_text, encoding="utf-8")
        render_suggestion(console, result)
        if json_path is not None:
            json_path.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
        console.print(f"Wrote {target} (version {result.new_version})")

    @app.command()
    def compare(
        scorecards: Annotated[
            list[Path], typer.Option("--scorecard", "-c", help="Two scorecards: old, then new.")
        ],
        start: StartOption,
        end: EndOption,
        every: EveryOption = "1mo",
        horizon: HorizonOption = None,
        as_of: Annotated[
            str | None, typer.Option(help="Tier changes on this day; default: today.")
        ] = None,
        json_path: Annotated[Path | None, typer.Option("--json", help="Write the result.")] = None,
        html: Annotated[Path | None, typer.Option(help="Write the HTML report.")] = None,
        changes: Annotated[
            Path | None, typer.Option(help="Write the accounts that change tier (.csv).")
        ] = None,
        warehouse: WarehouseOption = None,
    ) -> None:
        """Backtest two scorecards on the same history; list who would change tier."""
        if len(scorecards) != 2:
            raise typer.BadParameter(
                f"exactly two scorecards. Got {len(scorecards)}.", param_hint="--scorecard"
            )
        old, new = (load_engine(path, warehouse) for path in scorecards)
        first, last = parse_date(start, "--start"), parse_date(end, "--end")
        day = parse_date(as_of, "--as-of") if as_of else dt.date.today()
        with clear_errors(), console.status("Backtesting both scorecards..."):
            result = old.compare(new, first, last, every, horizon, day)
        render_comparison(console, result)
        if json_path is not None:
            json_path.write_text(result.to_json() + "\n", encoding="utf-8")
        if changes is not None:
            result.changes.to_csv(changes, index=False)
            console.print(f"Wrote {len(result.changes):,} tier changes to {changes}")
        if html is not None:
            write_report(html, [result.a, result.b], tier_changes=result.changes)
            console.print(f"Wrote {html}")

    @app.command()
    def report(
        scorecards: Annotated[
            list[Path], typer.Option("--scorecard", "-c", help="One scorecard, or two to compare.")
        ],
        start: StartOption,
        end: EndOption,
        out: Annotated[Path, typer.Option(help="The HTML file.")] = Path("healthscore-report.html"),
        every: EveryOption = "1mo",
        horizon: HorizonOption = None,
        as_of: Annotated[
            str | None, typer.Option(help="With two: tier changes on this day; default: --end.")
        ] = None,
        warehouse: WarehouseOption = None,
    ) -> None:
        """Write one self-contained HTML report (works offline) of a backtest or two."""
        if len(scorecards) not in {1, 2}:
            raise typer.BadParameter(
                f"one or two scorecards. Got {len(scorecards)}.", param_hint="--scorecard"
            )
        engines = [load_engine(path, warehouse) for path in scorecards]
        first, last = parse_date(start, "--start"), parse_date(end, "--end")
        with clear_errors(), console.status("Backtesting..."):
            if len(engines) == 1:
                results, moved = [engines[0].backtest(first, last, every, horizon)], None
            else:
                day = parse_date(as_of, "--as-of") if as_of else last
                both = engines[0].compare(engines[1], first, last, every, horizon, day)
                results, moved = [both.a, both.b], both.changes
        write_report(out, results, tier_changes=moved)
        console.print(f"Wrote {out}")
