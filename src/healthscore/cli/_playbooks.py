"""`healthscore playbooks run|lift|log` and `healthscore tasks list|set`."""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from healthscore.cli._common import (
    ScorecardOption,
    StoreOption,
    WarehouseOption,
    console,
    load_engine,
)
from healthscore.cli._evidence import clear_errors
from healthscore.playbooks import LiftReport
from healthscore.store._playbook_run import PlaybookRun

playbooks_app = typer.Typer(help="Act on score changes: run playbooks, measure their lift.")
tasks_app = typer.Typer(help="Tasks the playbooks created for account owners.")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


@playbooks_app.command("run")
def run(
    scorecard: ScorecardOption,
    dry_run: Annotated[
        bool, typer.Option(help="Show what would fire and why; send and create nothing.")
    ] = False,
    warehouse: WarehouseOption = None,
    store: StoreOption = None,
) -> None:
    """Evaluate the latest live run against the previous one and fire the actions."""
    engine = load_engine(scorecard, warehouse, store)
    with clear_errors(), console.status("Running playbooks..."):
        result = engine.run_playbooks(dry_run=dry_run)
    render_playbook_run(result, dry_run)


def render_playbook_run(result: PlaybookRun, dry_run: bool) -> None:
    console.print(
        f"Run {result.run_id} ({result.as_of}) against "
        f"{result.previous_run_id or 'no earlier run'}: {len(result.fired)} trigger(s) fired."
    )
    if not result.log:
        return
    table = Table(title="Would fire (dry run)" if dry_run else "Actions")
    for column in ("playbook", "account", "why", "action", "group", "status", "detail"):
        table.add_column(column, overflow="fold")
    for entry in result.log[:50]:
        table.add_row(
            entry["playbook"],
            entry["account_id"],
            entry["why"],
            entry["action_type"],
            entry["group_name"],
            entry["status"],
            entry["detail"] or "",
        )
    console.print(table)
    if len(result.log) > 50:
        console.print(f"... and {len(result.log) - 50} more; see `healthscore playbooks log`.")
    counts = Table(title="Per playbook and status")
    for column in ("playbook", "status", "actions"):
        counts.add_column(column)
    for row in _records(result.counts()):
        counts.add_row(str(row["playbook"]), str(row["status"]), str(row["actions"]))
    console.print(counts)


@playbooks_app.command("lift")
def lift(
    scorecard: ScorecardOption,
    horizon: Annotated[
        str | None, typer.Option(help="Outcome window after the trigger, e.g. 30d.")
    ] = None,
    min_group: Annotated[int, typer.Option(help="Fewest accounts per group to judge.")] = 20,
    warehouse: WarehouseOption = None,
    store: StoreOption = None,
) -> None:
    """Churn and recovery of treated versus held-out accounts, per playbook and tier."""
    engine = load_engine(scorecard, warehouse, store)
    with clear_errors(), console.status("Measuring playbook lift..."):
        report = engine.playbook_lift(horizon, min_group)
    render_lift(report)


def render_lift(report: LiftReport) -> None:
    table = Table(title=f"Playbook lift: treated vs held out ({report.confidence:.0%} interval)")
    columns = ("playbook", "tier", "outcome", "treated", "held out", "difference", "verdict")
    for column in columns:
        table.add_column(column, overflow="fold")

    def rate(events: int, n: int, value: float | None) -> str:
        return "-" if value is None else f"{value:.1%} ({events}/{n})"

    for row in report.rows:
        if row.difference is None:
            difference = "-"
        else:
            difference = f"{row.difference:+.1%} [{row.low:+.1%}, {row.high:+.1%}]"
        table.add_row(
            row.playbook,
            row.tier,
            row.outcome.value,
            rate(row.treated_events, row.treated_n, row.treated_rate),
            rate(row.control_events, row.control_n, row.control_rate),
            difference,
            row.verdict.value,
        )
    console.print(table if report.rows else "No playbook has acted yet.")


@playbooks_app.command("log")
def log(
    scorecard: ScorecardOption,
    playbook: Annotated[str | None, typer.Option(help="Only this playbook.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
    warehouse: WarehouseOption = None,
    store: StoreOption = None,
) -> None:
    """The action log: every action, skip (cooldown, control group, dry run) and outcome."""
    engine = load_engine(scorecard, warehouse, store)
    frame = engine.actions(playbook).tail(limit).iloc[::-1]
    table = Table(title="Action log, newest first")
    for column in ("when (UTC)", "playbook", "account", "as of", "action", "status", "detail"):
        table.add_column(column, overflow="fold")
    for row in _records(frame):
        table.add_row(
            str(pd.Timestamp(row["logged_at"]).floor("s")),
            str(row["playbook"]),
            str(row["account_id"]),
            str(pd.Timestamp(row["as_of"]).date()),
            str(row["action_type"]),
            str(row["status"]),
            "" if pd.isna(row["detail"]) else str(row["detail"]),
        )
    console.print(table)


@tasks_app.command("list")
def list_tasks(
    scorecard: ScorecardOption,
    status: Annotated[str, typer.Option(help="open, done, dismissed or all.")] = "open",
    owner: Annotated[str | None, typer.Option(help="Only this owner's.")] = None,
    warehouse: WarehouseOption = None,
    store: StoreOption = None,
) -> None:
    """Tasks, earliest due first."""
    engine = load_engine(scorecard, warehouse, store)
    frame = engine.tasks(None if status == "all" else status, owner)
    table = Table(title=f"Tasks ({status})")
    for column in ("task", "due", "owner", "account", "title", "status"):
        table.add_column(column, overflow="fold")
    for row in _records(frame):
        table.add_row(
            str(row["task_id"]),
            str(pd.Timestamp(row["due"]).date()),
            str(row["owner"] or ""),
            str(row["account_id"]),
            str(row["title"]),
            str(row["status"]),
        )
    console.print(table)


@tasks_app.command("set")
def set_task(
    task_id: Annotated[str, typer.Argument(help="The task id.")],
    scorecard: ScorecardOption,
    status: Annotated[str, typer.Option(help="open, done or dismissed.")],
    by: Annotated[str, typer.Option(help="Who (kept in the audit log).")],
    note: Annotated[str | None, typer.Option(help="Why, for the audit log.")] = None,
    warehouse: WarehouseOption = None,
    store: StoreOption = None,
) -> None:
    """Mark a task done, dismissed, or open again."""
    engine = load_engine(scorecard, warehouse, store)
    with clear_errors():
        engine.update_task(task_id, status, by, note)
    console.print(f"Task {task_id}: {status} (by {by}).")


def register_playbooks(app: typer.Typer) -> None:
    app.add_typer(playbooks_app, name="playbooks")
    app.add_typer(tasks_app, name="tasks")
