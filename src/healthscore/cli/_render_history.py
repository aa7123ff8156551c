"""Rich output for the stored history: score over time, what changed, versions, runs."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from healthscore.spec import ResolvedScorecard
from healthscore.spec._diff import LogicChange
from healthscore.store._explain import Explanation

BARS = "▁▂▃▄▅▆▇█"


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def sparkline(values: Sequence[float]) -> str:
    """Scores 0-100 as block characters (a gap for a missing one)."""
    return "".join(
        " " if math.isnan(v) else BARS[min(len(BARS) - 1, int(v / 100 * len(BARS)))] for v in values
    )


def _color(scorecard: ResolvedScorecard, tier: str) -> str:
    return next((t.color for t in scorecard.tiers if t.name == tier), "white")


def _signed(value: object) -> str:
    if not isinstance(value, float | int) or math.isnan(value):
        return ""
    return f"{value:+.1f}"


def render_history(
    console: Console, scorecard: ResolvedScorecard, account: str, rows: pd.DataFrame
) -> None:
    scores = rows["score"].astype(float).tolist()
    console.print(
        f"[bold]{account}[/] {sparkline(scores)}  {scores[0]:.1f} -> {scores[-1]:.1f} "
        f"over {len(rows)} run(s)"
    )
    table = Table(title=f"{scorecard.name}: score history of {account}")
    for column in ("as of", "score", "tier", "7d", "30d", "version", "note"):
        table.add_column(column, justify="right" if column in {"score", "7d", "30d"} else "left")
    previous_version = None
    for row in _records(rows):
        notes = []
        version = str(row["scorecard_version"])
        if previous_version is not None and version != previous_version:
            notes.append(f"◆ scorecard {previous_version} -> {version}: logic changed")
        previous_version = version
        if isinstance(row["override_id"], str):
            notes.append(
                f"override by {row['override_by']} until "
                f"{pd.Timestamp(row['override_until']).date()}: "
                f"{row['override_reason']} (computed {row['computed_score']:.1f})"
            )
        tier = str(row["tier"])
        table.add_row(
            pd.Timestamp(row["as_of"]).date().isoformat(),
            f"{row['score']:.1f}",
            f"[{_color(scorecard, tier)}]{tier}[/]",
            _signed(row["trend_7d"]),
            _signed(row["trend_30d"]),
            version,
            "; ".join(notes),
        )
    console.print(table)


def render_explanation(console: Console, scorecard: ResolvedScorecard, result: Explanation) -> None:
    if result.version_changed:
        console.print(
            f"[bold yellow]The scorecard changed from {result.version_before} to "
            f"{result.version_after} in between: part of this move is new logic, not the "
            "account.[/]"
        )
    console.print(
        f"[bold]{result.account_id}[/]: {result.score_before:.1f} ({result.tier_before}) on "
        f"{result.since} -> {result.score_after:.1f} ({result.tier_after}) on {result.as_of}, "
        f"{result.score_after - result.score_before:+.1f} points"
    )
    labels = {m.code: m.label for m in scorecard.measures}
    table = Table(title="What moved the score")
    for column in ("measure", "sub-score before", "after", "points"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    for move in result.measures:
        if move.points == 0 and move.sub_score_before == move.sub_score_after:
            continue
        table.add_row(
            labels.get(move.measure, move.measure),
            "" if move.sub_score_before is None else f"{move.sub_score_before:.1f}",
            "" if move.sub_score_after is None else f"{move.sub_score_after:.1f}",
            f"{move.points:+.1f}",
        )
    console.print(table)
    for name in sorted(set(result.gates_after) - set(result.gates_before)):
        console.print(f"gate [red]{name}[/] now fires")
    for name in sorted(set(result.gates_before) - set(result.gates_after)):
        console.print(f"gate {name} no longer fires")
    if result.override_after:
        console.print(f"An override ({result.override_after}) sets the current score.")


def render_versions(console: Console, versions: pd.DataFrame) -> None:
    table = Table(title="Scorecard versions seen")
    for column in ("scorecard", "version", "hash", "as-of dates", "live", "shadow", "backfill"):
        table.add_column(column)
    for row in _records(versions):
        first = pd.Timestamp(row["first_as_of"]).date()
        last = pd.Timestamp(row["last_as_of"]).date()
        table.add_row(
            str(row["scorecard_name"]),
            str(row["scorecard_version"]),
            str(row["scorecard_hash"]),
            f"{first} .. {last}",
            str(int(row["live_runs"])),
            str(int(row["shadow_runs"])),
            str(int(row["backfill_runs"])),
        )
    console.print(table)


def render_runs(console: Console, runs: pd.DataFrame) -> None:
    table = Table(title="Runs, newest first")
    for column in ("run", "scorecard", "as of", "mode", "status", "rows", "started (UTC)", "error"):
        table.add_column(column, overflow="fold")
    style = {"done": "green", "failed": "red", "abandoned": "red", "running": "yellow"}
    for row in _records(runs):
        table.add_row(
            str(row["run_id"]),
            f"{row['scorecard_name']} {row['scorecard_version']}",
            str(pd.Timestamp(row["as_of"]).date()),
            str(row["mode"]),
            f"[{style.get(str(row['status']), 'white')}]{row['status']}[/]",
            "" if pd.isna(row["row_count"]) else f"{int(row['row_count']):,}",
            str(pd.Timestamp(row["started_at"]).floor("s")),
            "" if not isinstance(row["error"], str) else row["error"],
        )
    console.print(table)


def render_diff(
    console: Console,
    old: ResolvedScorecard,
    new: ResolvedScorecard,
    changes: Sequence[LogicChange],
    moves: pd.DataFrame,
    day: dt.date,
) -> None:
    table = Table(title=f"{old.name} {old.version} -> {new.name} {new.version}: logic changes")
    for column in ("section", "name", "change", "detail"):
        table.add_column(column, overflow="fold")
    for change in changes:
        table.add_row(change.section, change.name, change.change, change.detail)
    console.print(table if changes else "No logic changes.")
    moved = moves[moves["from_tier"] != moves["to_tier"]]
    counts = moved.groupby(["from_tier", "to_tier"]).size().reset_index(name="accounts")
    tiers = Table(title=f"Tier changes as of {day}: {len(moved):,} of {len(moves):,} accounts")
    for column in ("from", "to", "accounts"):
        tiers.add_column(column)
    for row in _records(counts):
        tiers.add_row(str(row["from_tier"]), str(row["to_tier"]), f"{int(row['accounts']):,}")
    console.print(tiers)


def render_audit(console: Console, log: pd.DataFrame) -> None:
    table = Table(title="Audit log, newest first")
    for column in ("when (UTC)", "who", "action", "object", "detail"):
        table.add_column(column, overflow="fold")
    for row in _records(log):
        table.add_row(
            str(pd.Timestamp(row["logged_at"]).floor("s")),
            str(row["actor"]),
            str(row["action"]),
            str(row["object"]),
            str(row["detail"]),
        )
    console.print(table)
