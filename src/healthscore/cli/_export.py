"""`healthscore export`: the latest stored scores for a CRM or marketing tool."""

from __future__ import annotations

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
    load_engine,
)
from healthscore.store._crm import EXPORT_FORMATS, crm_frame, write_crm_export


def register_export(app: typer.Typer) -> None:
    @app.command()
    def export(
        scorecard: ScorecardOption,
        out: Annotated[Path, typer.Option(help="The file to write.")],
        format: Annotated[str, typer.Option(help="csv, parquet or jsonl.")] = "csv",
        warehouse: WarehouseOption = None,
        store: StoreOption = None,
    ) -> None:
        """The latest score of every account, one flat row each (health_score, health_tier,
        health_reasons, ...), named for import into a CRM account field."""
        kind = next((k for k in EXPORT_FORMATS if k == format), None)
        if kind is None:
            raise typer.BadParameter(
                f"csv, parquet or jsonl. Got '{format}'.", param_hint="--format"
            )
        engine = load_engine(scorecard, warehouse, store)
        current = engine.store.current(engine.scorecard.name)
        if current.empty:
            errors.print("no stored live run yet: run `healthscore score` first", style="red")
            raise typer.Exit(EXIT_INVALID)
        frame = crm_frame(current)
        write_crm_export(frame, out, kind)
        console.print(f"Wrote {len(frame):,} accounts to {out} ({kind}).")
