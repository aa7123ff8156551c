"""Rich output for the CLI: tier counts, lowest scores with reasons, issues, ingest summaries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from healthscore.compute._ingest import IngestSummary
from healthscore.spec import Issue, ResolvedScorecard


def render_issues(console: Console, issues: Sequence[Issue]) -> None:
    for issue in issues:
        style = "red" if issue.level == "error" else "yellow"
        console.print(str(issue), style=style, markup=False, highlight=False, soft_wrap=True)


def render_summary(
    console: Console,
    scorecard: ResolvedScorecard,
    scores: pd.DataFrame,
    lowest: int = 10,
    by_risk: bool = False,
) -> None:
    counts = scores["tier"].value_counts()
    tiers = Table(
        title=f"{scorecard.name} {scorecard.version} ({scorecard.hash}) — {len(scores):,} accounts"
    )
    tiers.add_column("tier")
    tiers.add_column("accounts", justify="right")
    tiers.add_column("share", justify="right")
    for tier in scorecard.tiers:
        count = int(counts.get(tier.name, 0))
        share = count / len(scores) if len(scores) else 0.0
        tiers.add_row(f"[{tier.color}]{tier.label}[/]", f"{count:,}", f"{share:.1%}")
    console.print(tiers)
    if by_risk:
        title, picked = "most revenue at risk", scores.nlargest(lowest, "revenue_at_risk")
    else:
        title, picked = "lowest scores", scores.nsmallest(lowest, "score")
    table = Table(title=f"The {lowest} {title}")
    for column in ("account", "score", "tier", "confidence", "segment / stage", "top reasons"):
        table.add_column(column, overflow="fold")
    colors = {tier.name: tier.color for tier in scorecard.tiers}
    for row in picked.itertuples():
        top: list[Any] = list(row.reasons)[:3]  # type: ignore[arg-type]
        reasons = "\n".join(f"{r['impact']:+.1f} {r['text']}" for r in top)
        table.add_row(
            str(row.account_id),
            f"{row.score:.1f}",
            f"[{colors.get(str(row.tier), 'white')}]{row.tier}[/]",
            f"{row.confidence:.0%}",
            f"{row.segment} / {row.stage}",
            reasons,
        )
    console.print(table)


def render_ingest(console: Console, summary: IngestSummary) -> None:
    table = Table(title=f"ingest into {summary.table}")
    table.add_column("rows")
    table.add_column("count", justify="right")
    table.add_row("read", f"{summary.read:,}")
    table.add_row("inserted", f"{summary.inserted:,}")
    table.add_row("already stored (skipped)", f"{summary.duplicates:,}")
    for reason, count in sorted(summary.rejected.items()):
        table.add_row(f"rejected: {reason}", f"{count:,}", style="red")
    console.print(table)
    if summary.rejected:
        console.print("Rejected rows are in the table healthscore_rejects, with a reason each.")
