"""Rich output for backtests, weight suggestions and comparisons."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from healthscore.evaluation import BacktestResult


def show(value: float | None, digits: int = 3, percent: bool = False) -> str:
    if value is None:
        return "undefined"
    return f"{value:.{max(digits - 2, 1)}%}" if percent else f"{value:.{digits}f}"


def render_backtest(console: Console, result: BacktestResult, measures: int = 8) -> None:
    interval = result.auc_interval
    span = f"{result.dates[0]} .. {result.dates[-1]}" if result.dates else "no dates"
    console.print(
        f"[bold]{result.scorecard_name} {result.scorecard_version}[/] ({result.scorecard_hash}) "
        f"— outcome {result.outcome}, {result.horizon_days}-day horizon, "
        f"{len(result.dates)} date(s) {span}"
    )
    console.print(
        f"{result.observations:,} observations, {result.churned:,} churned "
        f"({show(result.churn_rate, 3, percent=True)}); left out: {result.censored:,} censored, "
        f"{result.ineligible:,} not eligible"
    )
    auc_text = show(result.auc)
    if interval is not None:
        auc_text += f" (95% {interval.low:.3f}-{interval.high:.3f})"
    console.print(f"AUC {auc_text}   top-decile lift {show(result.top_decile_lift, 2)}")
    if result.lead_time is not None and result.lead_time.churners:
        lead = result.lead_time
        console.print(
            f"Lead time: {lead.flagged} of {lead.churners} churners were in the worst tier "
            f"before churning (median {show(lead.median_days, 0)} days ahead); never flagged: "
            f"{show(lead.never_flagged_share, 3, percent=True)}"
        )
    tiers = Table(title="Churn by tier (worst first)")
    for column in ("tier", "observations", "churned", "churn rate"):
        tiers.add_column(column, justify="left" if column == "tier" else "right")
    for row in result.tiers:
        tiers.add_row(
            row.tier, f"{row.observations:,}", f"{row.churned:,}", show(row.churn_rate, 3, True)
        )
    console.print(tiers)
    ranked = sorted(result.measures, key=lambda m: -1.0 if m.auc is None else m.auc, reverse=True)
    table = Table(title="Measures by univariate AUC")
    for column in ("measure", "metric", "AUC", "observations"):
        table.add_column(column, justify="right" if column in {"AUC", "observations"} else "left")
    for item in ranked[:measures]:
        table.add_row(item.name, item.metric or "", show(item.auc), f"{item.observations:,}")
    console.print(table)
    render_slices(console, result)
    render_warnings(console, result.warnings)


def render_slices(console: Console, result: BacktestResult) -> None:
    table = Table(title="By segment and stage")
    for column in ("slice", "observations", "churned", "churn rate", "AUC", "lift", "tier order"):
        table.add_column(column, justify="left" if column == "slice" else "right")
    for kind, slices in (("segment", result.segments), ("stage", result.stages)):
        for item in slices:
            table.add_row(
                f"{kind} {item.name}",
                f"{item.observations:,}",
                f"{item.churned:,}",
                show(item.churn_rate, 3, True),
                show(item.auc),
                show(item.top_decile_lift, 2),
                "ok" if item.tier_order_failures == 0 else f"{item.tier_order_failures} out",
            )
    console.print(table)


def render_warnings(console: Console, warnings: Sequence[str]) -> None:
    for warning in warnings:
        console.print(f"warning: {warning}", style="yellow", markup=False, soft_wrap=True)
