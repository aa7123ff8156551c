"""What every command shares: consoles, exit codes, the scorecard and warehouse options."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.console import Console

from healthscore.cli._render import render_issues
from healthscore.engine import Engine
from healthscore.spec import ResolvedScorecard, ScorecardError, load_scorecard

console = Console()
errors = Console(stderr=True)
EXIT_INVALID = 2

ScorecardOption = Annotated[Path, typer.Option("--scorecard", "-c", help="The scorecard YAML.")]
WarehouseOption = Annotated[
    str | None, typer.Option("--warehouse", "-w", help="Ibis URL; default: the scorecard's.")
]

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        envvar="HEALTHSCORE_STORE",
        help="Where score history lives: postgresql://... or a DuckDB file; default: the "
        "DuckDB warehouse itself.",
    ),
]


def load_card(path: Path) -> ResolvedScorecard:
    """The scorecard in a file; every problem in it listed, then exit 2."""
    try:
        return load_scorecard(path)
    except ScorecardError as error:
        render_issues(errors, error.issues)
        errors.print(f"{len(error.issues)} problem(s) found.", style="bold red")
        raise typer.Exit(EXIT_INVALID) from None


def load_engine(path: Path, warehouse: str | None = None, store: str | None = None) -> Engine:
    """The engine for a scorecard file, connected to its warehouse (or `warehouse`)."""
    card = load_card(path)
    try:
        return Engine(card, warehouse, store)
    except duckdb.IOException as error:
        if "lock" not in str(error).lower():
            raise
        # DuckDB lets one process write a file; the usual holder is a running service.
        errors.print(
            "error: the DuckDB warehouse is in use by another process (a running "
            "`healthscore serve`?); stop it, or use its REST API. "
            f"DuckDB says: {error}",
            style="red",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_INVALID) from None
