"""Curves and small charts: gains, lift, calibration, lead time, metric cohorts.

Drawn from the result's fields only; user labels escaped, hover texts built here.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from healthscore.evaluation import BacktestResult
from healthscore.evaluation._result import ComponentEvidence
from healthscore.report._charts import GREY, Figure, style, version_color
from healthscore.report._format import count, lift, percent, text


def _diagonal(fig: Figure, y: float, to: float, name: str) -> None:
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[y, to],
            mode="lines",
            name=name,
            line={"dash": "dash", "color": GREY},
            hoverinfo="skip",
        )
    )


def gains(results: Sequence[BacktestResult], names: Sequence[str]) -> Figure:
    """Cumulative gains: the share of all churners among the riskiest share of accounts."""
    fig = go.Figure()
    _diagonal(fig, 0.0, 1.0, "random order")
    for index, (name, result) in enumerate(zip(names, results, strict=True)):
        points = result.lift_curve
        if not points:
            continue
        fig.add_trace(
            go.Scatter(
                x=[0.0, *[p.share for p in points]],
                y=[0.0, *[p.captured for p in points]],
                mode="lines",
                name=text(name),
                line={"color": version_color(index)},
                hovertext=[
                    "none of the accounts: none of the churners",
                    *[
                        f"riskiest {percent(p.share, 0)} of accounts hold "
                        f"{percent(p.captured)} of churners"
                        for p in points
                    ],
                ],
                hoverinfo="text",
            )
        )
    fig.update_xaxes(tickformat=".0%", range=[0, 1])
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02])
    return style(fig, 380, "share of accounts, lowest score first", "share of churners captured")


def roc(results: Sequence[BacktestResult], names: Sequence[str]) -> Figure:
    """ROC: churners flagged against non-churners flagged, as the score threshold rises."""
    fig = go.Figure()
    _diagonal(fig, 0.0, 1.0, "random order (AUC 0.5)")
    for index, (name, result) in enumerate(zip(names, results, strict=True)):
        if not result.roc:
            continue
        fig.add_trace(
            go.Scatter(
                x=[p.false_positive_rate for p in result.roc],
                y=[p.true_positive_rate for p in result.roc],
                mode="lines",
                name=text(f"{name} (AUC {result.auc:.3f})" if result.auc is not None else name),
                line={"color": version_color(index)},
                hovertext=[
                    f"flagging {percent(p.false_positive_rate, 0)} of non-churners catches "
                    f"{percent(p.true_positive_rate)} of churners"
                    for p in result.roc
                ],
                hoverinfo="text",
            )
        )
    fig.update_xaxes(tickformat=".0%", range=[0, 1])
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02])
    return style(fig, 380, "non-churners flagged (false positives)", "churners flagged")


def lift_curve(results: Sequence[BacktestResult], names: Sequence[str]) -> Figure:
    fig = go.Figure()
    _diagonal(fig, 1.0, 1.0, "random order (lift 1)")
    for index, (name, result) in enumerate(zip(names, results, strict=True)):
        points = result.lift_curve
        if not points:
            continue
        fig.add_trace(
            go.Scatter(
                x=[p.share for p in points],
                y=[p.lift for p in points],
                mode="lines",
                name=text(name),
                line={"color": version_color(index)},
                hovertext=[
                    f"riskiest {percent(p.share, 0)} of accounts: churn {lift(p.lift)} the average"
                    for p in points
                ],
                hoverinfo="text",
            )
        )
    fig.update_xaxes(tickformat=".0%", range=[0, 1])
    fig.update_yaxes(rangemode="tozero")
    return style(fig, 380, "share of accounts, lowest score first", "lift")


def calibration(results: Sequence[BacktestResult], names: Sequence[str]) -> Figure:
    """Observed churn per score band (bars) and the fitted monotone map (line)."""
    fig = go.Figure()
    several = len(results) > 1
    for index, (name, result) in enumerate(zip(names, results, strict=True)):
        color = version_color(index)
        prefix = f"{text(name)}: " if several else ""
        bands = result.calibration.bands
        fig.add_trace(
            go.Bar(
                x=[(band.low + band.high) / 2 for band in bands],
                y=[band.churn_rate for band in bands],
                name=f"{prefix}observed churn",
                marker={"color": color, "opacity": 0.55},
                hovertext=[
                    f"score {band.low:g}-{band.high:g}: {count(band.churned)} of "
                    f"{count(band.observations)} churned ({percent(band.churn_rate)})<br>"
                    f"calibrated probability {percent(band.predicted)}"
                    for band in bands
                ],
                hoverinfo="text",
            )
        )
        scores, probabilities = result.calibration.scores, result.calibration.probabilities
        if scores:
            # np.interp holds the end values beyond the fitted range: so does the line.
            xs = [0.0, *scores, 100.0]
            ys = [probabilities[0], *probabilities, probabilities[-1]]
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines",
                    name=f"{prefix}isotonic fit",
                    line={"color": color},
                    hovertext=[
                        f"score {x:g}: churn probability {percent(y)}"
                        for x, y in zip(xs, ys, strict=True)
                    ],
                    hoverinfo="text",
                )
            )
    fig.update_layout(barmode="group")
    fig.update_xaxes(range=[0, 100], dtick=10)
    fig.update_yaxes(tickformat=".1~%", rangemode="tozero")
    return style(fig, 380, "score", "churn within the horizon")


def lead_times(results: Sequence[BacktestResult], names: Sequence[str]) -> Figure | None:
    """Days from entering the worst tier to churn; None when no result has any."""
    drawn = [
        (index, name, result.lead_time.days)
        for index, (name, result) in enumerate(zip(names, results, strict=True))
        if result.lead_time is not None and result.lead_time.days
    ]
    if not drawn:
        return None
    longest = max(max(days) for _, _, days in drawn)
    size = 7 if longest <= 140 else 30
    fig = go.Figure()
    for index, name, days in drawn:
        fig.add_trace(
            go.Histogram(
                x=days,
                name=text(name),
                xbins={"start": 0, "size": size},
                marker_color=version_color(index),
                opacity=0.6 if len(drawn) > 1 else 1.0,
                hovertemplate="%{x} days: %{y} churner(s)<extra></extra>",
            )
        )
    fig.update_layout(barmode="overlay", showlegend=len(drawn) > 1)
    fig.update_xaxes(rangemode="tozero")
    return style(
        fig, 320, f"days from entering the worst tier to churn ({size}-day bins)", "churners"
    )


def cohorts(
    components: Sequence[ComponentEvidence | None],
    names: Sequence[str],
    overall: float | None,
) -> Figure:
    """Churn rate per cohort (decile) of one measure's metric, cohorts in the given order."""
    fig = go.Figure()
    order: list[str] = []
    for index, (name, component) in enumerate(zip(names, components, strict=True)):
        if component is None:
            continue
        rows = component.cohorts
        order.extend(text(row.label) for row in rows if text(row.label) not in order)
        fig.add_trace(
            go.Bar(
                x=[text(row.label) for row in rows],
                y=[row.churn_rate for row in rows],
                name=text(name),
                marker_color=version_color(index),
                hovertext=[
                    f"{text(row.label)}: churn {percent(row.churn_rate)} of "
                    f"{count(row.observations)} observations"
                    for row in rows
                ],
                hoverinfo="text",
            )
        )
    if overall is not None:
        fig.add_hline(y=overall, line={"dash": "dash", "color": GREY})
    fig.update_layout(barmode="group", showlegend=len(names) > 1)
    fig.update_xaxes(
        type="category",
        categoryorder="array",
        categoryarray=order,
        tickangle=-45,
        tickfont={"size": 10},
    )
    fig.update_yaxes(tickformat=".1~%", rangemode="tozero")
    style(fig, 320, "", "churn rate")
    fig.update_layout(margin={"l": 50, "r": 10, "t": 30, "b": 90})
    return fig
