"""`healthscore train` and `healthscore drift`: the churn model from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from healthscore.cli._common import ScorecardOption, WarehouseOption, console, load_engine
from healthscore.cli._evidence import (
    BACKTEST_STEPS,
    EndOption,
    EveryOption,
    HorizonOption,
    StartOption,
    clear_errors,
    parse_date,
    steps,
)
from healthscore.cli._render_evidence import show
from healthscore.evaluation._training_report import TrainingReport
from healthscore.model._drift import DriftReport
from healthscore.model._estimator import ModelKind


def render_training(report: TrainingReport) -> None:
    held = report.held_out
    console.print(
        f"[bold]{report.kind}[/] churn model for {report.scorecard_name} "
        f"{report.scorecard_version}: {report.observations:,} observations, "
        f"{report.churned:,} churned, {len(report.features)} features, calibration "
        f"{report.calibration} {report.calibration_log_loss or ''}"
    )
    folds = Table(title="Forward in time: each block predicted by a model of the dates before")
    for column in ("trained until", "tested", "observations", "churned", "AUC"):
        folds.add_column(column, justify="right")
    for fold in report.folds:
        folds.add_row(
            str(fold.train_until),
            f"{fold.test_from} .. {fold.test_until}",
            f"{fold.test_observations:,}",
            f"{fold.test_churned:,}",
            show(fold.auc),
        )
    console.print(folds)
    table = Table(title=f"Held out: {held.dates[0]} .. {held.dates[-1]}, {held.churned} churned")
    for column in ("", "AUC", "top-decile lift", "Brier", "log-loss"):
        table.add_column(column, justify="right" if column else "left")
    table.add_row(
        "model",
        show(held.auc),
        show(held.top_decile_lift, 2),
        show(held.brier, 4),
        show(held.log_loss, 4),
    )
    table.add_row("rules score", show(held.rules_auc), show(held.rules_top_decile_lift, 2), "", "")
    console.print(table)
    for item in report.dropped:
        console.print(f"dropped {item['name']}: {item['reason']}", style="yellow", markup=False)
    if report.excluded_sensitive:
        console.print(f"sensitive, not used: {', '.join(report.excluded_sensitive)}")
    if report.bias:
        bias = Table(title="By attribute (bias check; training data, in-sample)")
        for column in ("attribute", "value", "observations", "churn", "mean P(churn)", "score"):
            bias.add_column(column, justify="left" if column in {"attribute", "value"} else "right")
        for row in report.bias:
            bias.add_row(
                row.attribute,
                row.value,
                f"{row.observations:,}",
                f"{row.churn_rate:.1%}",
                f"{row.mean_probability:.1%}",
                show(row.mean_rules_score, 1),
            )
        console.print(bias)
    console.print(f"Saved the model to {report.path}")


def render_drift(report: DriftReport) -> None:
    table = Table(title=f"Drift: {report.rows_now:,} accounts now vs {report.rows_train:,} trained")
    for column in ("feature", "PSI", "missing then", "missing now", "status"):
        table.add_column(column, justify="left" if column in {"feature", "status"} else "right")
    rows = [*report.features, *([report.score] if report.score else [])]
    for item in rows:
        style = {"stable": "", "moved": "yellow", "shifted": "red"}[item.status]
        table.add_row(
            item.name,
            show(item.psi, 3),
            f"{item.missing_share_train:.0%}",
            f"{item.missing_share_now:.0%}",
            f"[{style}]{item.status}[/]" if style else item.status,
        )
    console.print(table)
    for item in rows:
        if item.status != "stable":
            console.print(f"{item.name}: {item.why}", markup=False)


def register_model(app: typer.Typer) -> None:
    """Add train and drift to the `healthscore` command."""

    @app.command()
    def train(
        scorecard: ScorecardOption,
        start: StartOption,
        end: EndOption,
        out: Annotated[Path, typer.Option(help="The model folder to write.")] = Path("model"),
        every: EveryOption = "1mo",
        horizon: HorizonOption = None,
        model: Annotated[str, typer.Option(help="logistic or lightgbm.")] = "lightgbm",
        by: Annotated[
            list[str] | None, typer.Option(help="Account column for the bias check (repeat).")
        ] = None,
        warehouse: WarehouseOption = None,
    ) -> None:
        """Train a calibrated churn model on past dates, validated forward in time."""
        if model not in {"logistic", "lightgbm"}:
            raise typer.BadParameter(f"logistic or lightgbm. Got '{model}'.", param_hint="--model")
        engine = load_engine(scorecard, warehouse)
        first, last = parse_date(start, "--start"), parse_date(end, "--end")
        kind: ModelKind = "logistic" if model == "logistic" else "lightgbm"
        with clear_errors(), steps("train", BACKTEST_STEPS) as report:
            result = engine.train(first, last, out, every, horizon, kind, by or [], report)
        render_training(result)

    @app.command()
    def drift(
        scorecard: ScorecardOption,
        as_of: Annotated[str | None, typer.Option(help="YYYY-MM-DD; default: today.")] = None,
        model: Annotated[
            Path | None, typer.Option(help="The model folder; default: the scorecard's.")
        ] = None,
        strict: Annotated[
            bool, typer.Option(help="Exit 1 when any feature or the score moved.")
        ] = False,
        warehouse: WarehouseOption = None,
    ) -> None:
        """Compare features and churn probabilities now with the model's training data."""
        engine = load_engine(scorecard, warehouse)
        day = parse_date(as_of, "--as-of") if as_of else None
        with clear_errors():
            report = engine.drift(day, model)
        render_drift(report)
        if strict and report.flagged:
            raise typer.Exit(1)
