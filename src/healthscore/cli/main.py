"""The `healthscore` command: thin wrappers that call the engine and format its answers."""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from healthscore.cli._common import (
    EXIT_INVALID,
    ScorecardOption,
    StoreOption,
    WarehouseOption,
    console,
    errors,
    load_card,
    load_engine,
)
from healthscore.cli._demo import run_demo
from healthscore.cli._evidence import register_evidence
from healthscore.cli._export import register_export
from healthscore.cli._history import register_history
from healthscore.cli._keys import register_keys
from healthscore.cli._model import register_model
from healthscore.cli._playbooks import register_playbooks
from healthscore.cli._render import render_ingest, render_issues, render_summary
from healthscore.cli._serve import register_serve
from healthscore.compute import AssignmentError, SourceError, connect
from healthscore.compute._ingest import IngestError, ingest_files
from healthscore.engine import Engine
from healthscore.model import ArtifactError, FeatureError
from healthscore.spec import Scorecard
from healthscore.store import ExportError, StoreError, export_scores

app = typer.Typer(
    help="Customer health scores as versioned, backtested, explainable code.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
register_evidence(app)
register_model(app)
register_history(app)
register_playbooks(app)
register_keys(app)
register_serve(app)
register_export(app)


@app.command()
def demo(
    directory: Annotated[Path, typer.Option(help="Where to write the data and warehouse.")] = Path(
        "healthscore-demo"
    ),
    accounts: Annotated[int, typer.Option(help="How many accounts to generate.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed of the generator.")] = 7,
) -> None:
    """Generate realistic data into DuckDB, score every account, and summarize."""
    run_demo(console, directory, accounts, seed)


@app.command()
def init(directory: Annotated[Path, typer.Argument(help="Folder for the example.")]) -> None:
    """Write an example scorecard, every section explained in comments."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "scorecard.yaml"
    if target.exists():
        errors.print(f"{target} exists already; not overwriting it.", style="red")
        raise typer.Exit(1)
    example = resources.files("healthscore.examples").joinpath("saas.yaml").read_text("utf-8")
    target.write_text(example, encoding="utf-8")
    console.print(f"Wrote {target}. Next: healthscore validate -c {target}")


@app.command()
def validate(
    scorecard: ScorecardOption,
    warehouse: WarehouseOption = None,
    offline: Annotated[bool, typer.Option(help="Check the file only, not the data.")] = False,
) -> None:
    """Check a scorecard against the schema and the data it names; exit 2 on any error."""
    # Offline checks the file alone: no connection, so no warehouse file is created.
    card = load_card(scorecard)
    if not offline:
        issues = Engine(card, warehouse).check()
        if issues:
            render_issues(errors, issues)
            errors.print(f"{len(issues)} problem(s) found.", style="bold red")
            raise typer.Exit(EXIT_INVALID)
    console.print(
        f"{scorecard}: OK — {card.name} {card.version} ({card.hash}), "
        f"{len([m for m in card.metrics if not m.name.startswith('_')])} metrics, "
        f"{len(card.measures)} measures, {len(card.variants)} variant(s)."
    )


@app.command()
def schema() -> None:
    """Print the JSON Schema of the scorecard format (for editor completion)."""
    console.print_json(json.dumps(Scorecard.model_json_schema()))


@app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(help="CSV or Parquet files.")],
    table: Annotated[str, typer.Option("--table", "-t", help="The contract table.")],
    warehouse: Annotated[Path, typer.Option(help="The DuckDB warehouse file.")] = Path(
        "healthscore.duckdb"
    ),
) -> None:
    """Load files into the warehouse; bad rows go to healthscore_rejects with a reason."""
    con = connect(f"duckdb://{warehouse}")
    try:
        summary = ingest_files(con.con, table, files)
    except IngestError as error:
        errors.print(str(error), style="red", markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    render_ingest(console, summary)


@app.command()
def score(
    scorecard: ScorecardOption,
    as_of: Annotated[str | None, typer.Option(help="YYYY-MM-DD; default: today.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write scores to .parquet or .csv.")] = None,
    warehouse: WarehouseOption = None,
    save: Annotated[
        bool, typer.Option(help="Store the scores as one run in the score history.")
    ] = True,
    shadow: Annotated[
        bool, typer.Option(help="Store beside the live history; playbooks ignore it.")
    ] = False,
    sort: Annotated[
        str, typer.Option(help="Order of the output: score (lowest first) or revenue_at_risk.")
    ] = "score",
    store: StoreOption = None,
) -> None:
    """Score every account as of a date."""
    if sort not in {"score", "revenue_at_risk"}:
        raise typer.BadParameter(f"score or revenue_at_risk. Got '{sort}'.", param_hint="--sort")
    if shadow and not save:
        raise typer.BadParameter("a shadow run is stored: drop --no-save", param_hint="--shadow")
    engine = load_engine(scorecard, warehouse, store)
    day = _parse_date(as_of) if as_of else dt.date.today()
    try:
        with console.status(f"Scoring as of {day}..."):
            if save:
                run = engine.run(day, mode="shadow" if shadow else "live")
                scores = run.scores
            else:
                scores = engine.score(as_of=day)
    except (AssignmentError, SourceError, ArtifactError, FeatureError, StoreError) as error:
        errors.print(str(error), style="red", markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    by_risk = sort == "revenue_at_risk"
    if by_risk and "revenue_at_risk" not in scores:
        errors.print(
            "--sort revenue_at_risk needs `value:` in the scorecard (and a model for churn "
            "probabilities)",
            style="red",
        )
        raise typer.Exit(EXIT_INVALID)
    scores = scores.sort_values(
        "revenue_at_risk" if by_risk else "score", ascending=not by_risk, kind="stable"
    ).reset_index(drop=True)
    if save:
        console.print(f"Stored as run {run.run_id} ({run.mode}).")
    if out is not None:
        try:
            export_scores(scores, out)
        except ExportError as error:
            errors.print(str(error), style="red", markup=False)
            raise typer.Exit(EXIT_INVALID) from None
        console.print(f"Wrote {len(scores):,} scores to {out}")
    render_summary(console, engine.scorecard, scores, by_risk=by_risk)


def _parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"must be a date as YYYY-MM-DD. Got '{text}' instead.", param_hint="--as-of"
        ) from None


if __name__ == "__main__":
    app()
