"""Plotly figures over time and by tier, and the style every figure shares.

Every label that comes from the user (tier, measure, cohort and version names) is escaped:
Plotly reads a few HTML tags in text. Hover texts are built here, so a missing number
reads "undefined" there too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.colors import DEFAULT_PLOTLY_COLORS, sample_colorscale
from plotly.subplots import make_subplots

from healthscore.evaluation import BacktestResult
from healthscore.report._format import count, percent, text

Figure = Any  # plotly ships no type hints
BANDS = [f"{low}-{low + 10}" for low in range(0, 100, 10)]
GREY = "#888888"
TIER_SCALE = [[0.0, "#c62828"], [0.5, "#f9a825"], [1.0, "#2e7d32"]]


def version_color(index: int) -> str:
    return str(DEFAULT_PLOTLY_COLORS[index % len(DEFAULT_PLOTLY_COLORS)])


def tier_colors(results: Sequence[BacktestResult]) -> dict[str, str]:
    """Red for the worst tier to green for the best, by each tier's place in its scorecard."""
    colors: dict[str, str] = {}
    for result in results:
        last = max(len(result.tiers) - 1, 1)
        for index, row in enumerate(result.tiers):
            place = index / last if len(result.tiers) > 1 else 0.5
            colors.setdefault(row.tier, str(sample_colorscale(TIER_SCALE, [place])[0]))
    return colors


def style(fig: Figure, height: int, x_title: str = "", y_title: str = "", top: int = 40) -> Figure:
    """Shared look: a legend above the plot (above subplot titles when `top` leaves room)."""
    fig.update_layout(
        height=height,
        margin={"l": 60, "r": 20, "t": top, "b": 50},
        legend={"orientation": "h", "y": 1.02 if top <= 40 else 1.12, "yanchor": "bottom"},
        hoverlabel={"align": "left"},
    )
    if not any(t.hoverinfo != "skip" and t.x is not None and len(t.x) for t in fig.data):
        fig.add_annotation(
            text="no data", xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False
        )
    if x_title:
        fig.update_xaxes(title_text=x_title)
    if y_title:
        fig.update_layout(yaxis_title_text=y_title)
    return fig


def _grid(names: Sequence[str]) -> Figure:
    if len(names) == 1:
        return make_subplots(rows=1, cols=1)
    titles = [text(name) for name in names]
    return make_subplots(rows=1, cols=len(names), shared_yaxes=True, subplot_titles=titles)


def tiers_over_time(results: Sequence[BacktestResult], names: Sequence[str]) -> Figure:
    """Stacked accounts per tier at each observation date, worst tier at the bottom."""
    fig = _grid(names)
    colors = tier_colors(results)
    shown: set[str] = set()
    for column, result in enumerate(results, start=1):
        dates = [row.as_of.isoformat() for row in result.by_date]
        for tier in [row.tier for row in result.tiers]:
            counts = [row.tiers.get(tier, 0) for row in result.by_date]
            hover = [
                f"{day}<br>{text(tier)}: {count(n)} of {count(sum(row.tiers.values()))}"
                for day, n, row in zip(dates, counts, result.by_date, strict=True)
            ]
            fig.add_trace(
                go.Bar(
                    x=dates,
                    y=counts,
                    name=text(tier),
                    legendgroup=tier,
                    showlegend=tier not in shown,
                    marker_color=colors[tier],
                    hovertext=hover,
                    hoverinfo="text",
                ),
                row=1,
                col=column,
            )
            shown.add(tier)
    fig.update_layout(barmode="stack")
    return style(fig, 380, "observation date", "accounts", 40 if len(names) == 1 else 80)


def score_bands(results: Sequence[BacktestResult], names: Sequence[str]) -> Figure:
    """Share of each date's accounts per 10-point score band, as a heatmap."""
    fig = _grid(names)
    for column, result in enumerate(results, start=1):
        dates = [row.as_of.isoformat() for row in result.by_date]
        totals = [sum(row.histogram) for row in result.by_date]
        shares: list[list[float | None]] = []
        hover: list[list[str]] = []
        for band, label in enumerate(BANDS):
            counts = [row.histogram[band] for row in result.by_date]
            share = [n / total if total else None for n, total in zip(counts, totals, strict=True)]
            shares.append(share)
            hover.append(
                [
                    f"{day}<br>score {label}: {count(n)} of {count(total)} ({percent(s)})"
                    for day, n, total, s in zip(dates, counts, totals, share, strict=True)
                ]
            )
        fig.add_trace(
            go.Heatmap(
                x=dates,
                y=BANDS,
                z=shares,
                hovertext=hover,
                hoverinfo="text",
                coloraxis="coloraxis",
            ),
            row=1,
            col=column,
        )
    fig.update_yaxes(type="category")
    fig.update_layout(
        coloraxis={
            "colorscale": "Blues",
            "colorbar": {"title": {"text": "share"}, "tickformat": ".0%"},
        },
    )
    return style(fig, 380, "observation date", "score band", 40 if len(names) == 1 else 60)


def churn_by_tier(results: Sequence[BacktestResult], names: Sequence[str]) -> Figure:
    fig = go.Figure()
    colors = tier_colors(results)
    for index, (name, result) in enumerate(zip(names, results, strict=True)):
        rows = result.tiers
        fig.add_trace(
            go.Bar(
                x=[text(row.tier) for row in rows],
                y=[row.churn_rate for row in rows],
                name=text(name),
                marker_color=(
                    [colors[row.tier] for row in rows]
                    if len(results) == 1
                    else version_color(index)
                ),
                text=[percent(row.churn_rate) for row in rows],
                textposition="outside",
                hovertext=[
                    f"{text(row.tier)}: {count(row.churned)} of {count(row.observations)} "
                    f"churned ({percent(row.churn_rate)})"
                    for row in rows
                ],
                hoverinfo="text",
            )
        )
    if len(results) == 1 and results[0].churn_rate is not None:
        fig.add_hline(
            y=results[0].churn_rate,
            line={"dash": "dash", "color": GREY},
            annotation_text=f"overall {percent(results[0].churn_rate)}",
        )
    fig.update_layout(barmode="group", showlegend=len(results) > 1)
    fig.update_xaxes(type="category")
    fig.update_yaxes(tickformat=".1~%", rangemode="tozero")
    return style(fig, 360, "tier (worst first)", "churn rate")
