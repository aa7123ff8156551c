"""Rich output for backtests, weight suggestions and comparisons."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from healthscore.evaluation import BacktestResult, Comparison, WeightSuggestion


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
    render_gates(console, result)
    render_slices(console, result)
    render_warnings(console, result.warnings)


def render_gates(console: Console, result: BacktestResult) -> None:
    if not result.gates:
        return
    table = Table(title="Gates")
    for column in ("gate", "fired", "churned", "churn when fired", "churn otherwise"):
        table.add_column(column, justify="left" if column == "gate" else "right")
    for gate in result.gates:
        table.add_row(
            gate.name,
            f"{gate.fired:,}",
            f"{gate.churned_when_fired:,}",
            show(gate.churn_rate_fired, 3, True),
            show(gate.churn_rate_not_fired, 3, True),
        )
    console.print(table)


def render_slices(console: Console, result: BacktestResult) -> None:
    table = Table(title="By segment and stage")
    columns = ("", "name", "observations", "churned", "churn rate", "AUC", "lift", "tier order")
    for column in columns:
        table.add_column(column, justify="left" if column in {"", "name"} else "right")
    for kind, slices in (("segment", result.segments), ("stage", result.stages)):
        for item in slices:
            table.add_row(
                kind,
                item.name,
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


def render_suggestion(console: Console, result: WeightSuggestion) -> None:
    console.print(
        f"[bold]{result.scorecard_name}[/] {result.old_version} -> {result.new_version}: "
        f"{result.observations:,} observations, {result.churned:,} churned, C={result.strength:g}"
    )
    table = Table(
        title=f"Held-out dates {result.test_dates[0]} .. {result.test_dates[-1]} "
        f"(weights fitted on {len(result.train_dates)} earlier dates)"
    )
    for column in ("", "AUC", "top-decile lift", "tier order failures"):
        table.add_column(column, justify="right" if column else "left")
    for name, numbers in (("before", result.before), ("after", result.after)):
        table.add_row(
            f"{name} ({result.old_version if name == 'before' else result.new_version})",
            show(numbers.auc),
            show(numbers.top_decile_lift, 2),
            str(numbers.tier_order_failures),
        )
    console.print(table)
    weights = Table(title="Suggested weights (share of the score, %)")
    weights.add_column("measure")
    weights.add_column("weight", justify="right")
    weights.add_column("coefficient", justify="right")
    for code, weight in sorted(result.weights.items(), key=lambda item: -item[1]):
        coefficient = result.coefficients.get(code)
        weights.add_row(code, f"{weight:.2f}", "" if coefficient is None else f"{coefficient:+.3f}")
    console.print(weights)
    for item in result.dropped:
        console.print(f"weight 0: {item.measure}: {item.reason}", style="yellow", markup=False)


def render_comparison(console: Console, result: Comparison) -> None:
    table = Table(title="Same history, two scorecards")
    table.add_column("")
    for item in (result.a, result.b):
        table.add_column(f"{item.scorecard_name} {item.scorecard_version}", justify="right")
    rows = {
        "observations": (f"{result.a.observations:,}", f"{result.b.observations:,}"),
        "churned": (f"{result.a.churned:,}", f"{result.b.churned:,}"),
        "AUC": (show(result.a.auc), show(result.b.auc)),
        "top-decile lift": (show(result.a.top_decile_lift, 2), show(result.b.top_decile_lift, 2)),
        "tier order failures": (
            str(result.a.tier_order_failures),
            str(result.b.tier_order_failures),
        ),
    }
    for name, (left, right) in rows.items():
        table.add_row(name, left, right)
    console.print(table)
    moves = Table(title=f"Tier changes on {result.as_of}: {result.changed:,} of {result.scored:,}")
    for column in ("from", "to", "accounts"):
        moves.add_column(column, justify="right" if column == "accounts" else "left")
    for move in result.moves:
        moves.add_row(move.from_tier, move.to_tier, f"{move.accounts:,}")
    console.print(moves)
