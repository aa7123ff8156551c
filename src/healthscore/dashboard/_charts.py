"""Plotly figures as plain JSON, drawn in the page by the local plotly.min.js.

Each figure goes into the page as `<script type="application/json">` next to an empty
div; `static/dashboard.js` calls `Plotly.newPlot` on every such div. Labels from users
(tier, measure, version names) are escaped: Plotly reads a few HTML tags in text.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from healthscore.dashboard._html import Html, fill
from healthscore.spec import ResolvedScorecard

Figure = dict[str, Any]
CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["toImage"]}
GREY = "#8a8f98"
DRAG = "#c62828"
LIFT = "#2e7d32"
VALUE_TIERS = ("high", "medium", "low", "unknown")


def label(value: object) -> str:
    return html.escape(str(value), quote=True)


def embed(div_id: str, figure: Figure, css: str = "chart") -> Html:
    """The figure's div and its JSON; '<' is written as \\u003c so no text ends the script."""
    payload = {"data": figure["data"], "layout": figure["layout"], "config": CONFIG}
    text = json.dumps(_clean(payload), allow_nan=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return fill(
        '<div class="{css}" id="{id}" data-figure="{id}-data"></div>'
        '<script type="application/json" id="{id}-data">{json}</script>',
        css=css,
        id=div_id,
        json=Html(text),
    )


def _clean(value: Any) -> Any:
    """JSON-ready: NaN -> null, numpy scalars -> Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _layout(height: int, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "height": height,
        "margin": {"l": 56, "r": 16, "t": 36, "b": 44},
        "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        "font": {"family": "system-ui, -apple-system, 'Segoe UI', sans-serif", "size": 12},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "#ffffff",
        "hoverlabel": {"align": "left"},
    }
    layout.update(extra)
    return layout


def _no_data(layout: dict[str, Any], empty: bool) -> dict[str, Any]:
    if empty:
        layout["annotations"] = [
            *layout.get("annotations", []),
            {
                "text": "no data yet",
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "showarrow": False,
                "font": {"color": GREY, "size": 14},
            },
        ]
    return layout


def tier_colors(card: ResolvedScorecard) -> dict[str, str]:
    return {tier.name: tier.color for tier in card.tiers}


def tiers_over_time(counts: pd.DataFrame, card: ResolvedScorecard) -> Figure:
    """Stacked bars: accounts per tier on each full live run's date, worst tier at the bottom."""
    colors = tier_colors(card)
    dates = sorted(set(counts["as_of"]))
    data = []
    for tier in reversed(card.tiers):
        rows = counts[counts["tier"] == tier.name].set_index("as_of")["accounts"]
        data.append(
            {
                "type": "bar",
                "name": label(tier.name),
                "x": dates,
                "y": [int(rows.get(d, 0)) for d in dates],
                "marker": {"color": colors[tier.name]},
                "hovertemplate": "%{x}: %{y} accounts<extra>" + label(tier.name) + "</extra>",
            }
        )
    layout = _layout(
        300,
        barmode="stack",
        xaxis={"type": "category", "title": {"text": "as of"}},
        yaxis={"title": {"text": "accounts"}},
    )
    return {"data": data, "layout": _no_data(layout, not dates)}


def score_histogram(current: pd.DataFrame, card: ResolvedScorecard) -> Figure:
    """Current scores in 5-point bins, stacked by tier, with each tier's minimum marked."""
    colors = tier_colors(card)
    data = []
    for tier in reversed(card.tiers):
        scores = current.loc[current["tier"] == tier.name, "score"].dropna()
        data.append(
            {
                "type": "histogram",
                "name": label(tier.name),
                "x": scores.round(2).tolist(),
                "xbins": {"start": 0, "end": 100.001, "size": 5},
                "marker": {"color": colors[tier.name], "line": {"color": "#ffffff", "width": 1}},
                "hovertemplate": "score %{x}: %{y} accounts<extra>" + label(tier.name) + "</extra>",
            }
        )
    lines = [
        {
            "type": "line",
            "x0": t.min,
            "x1": t.min,
            "yref": "paper",
            "y0": 0,
            "y1": 1,
            "line": {"color": GREY, "dash": "dot", "width": 1},
        }
        for t in card.tiers
        if t.min > 0
    ]
    layout = _layout(
        300,
        barmode="stack",
        shapes=lines,
        xaxis={"range": [0, 100], "title": {"text": "score"}},
        yaxis={"title": {"text": "accounts"}},
    )
    return {"data": data, "layout": _no_data(layout, current.empty)}


def risk_by_value(current: pd.DataFrame, card: ResolvedScorecard) -> Figure:
    """Accounts per value tier (rows) and health tier (columns)."""
    tiers = [t.name for t in card.tiers]
    values = current["value_tier"].fillna("unknown").astype(str)
    rows = [v for v in VALUE_TIERS if (values == v).any()] or list(VALUE_TIERS[:3])
    z = [[int(((values == v) & (current["tier"] == t)).sum()) for t in tiers] for v in rows]
    data = [
        {
            "type": "heatmap",
            "x": [label(t) for t in tiers],
            "y": [label(v) for v in rows],
            "z": z,
            "colorscale": "Blues",
            "showscale": False,
            "texttemplate": "%{z}",
            "hovertemplate": "value %{y}, %{x}: %{z} accounts<extra></extra>",
            "xgap": 2,
            "ygap": 2,
        }
    ]
    layout = _layout(
        260,
        xaxis={"title": {"text": "health tier"}, "side": "bottom"},
        yaxis={"title": {"text": "value tier"}, "autorange": "reversed"},
    )
    return {"data": data, "layout": layout}


def history(rows: pd.DataFrame, card: ResolvedScorecard) -> Figure:
    """An account's score over time, points colored by tier, tier bands behind, a dashed
    line wherever the scorecard version changed and diamonds where an override held."""
    colors = tier_colors(card)
    dates = pd.to_datetime(rows["as_of"]).dt.strftime("%Y-%m-%d").tolist()
    versions = rows["scorecard_version"].astype(str).tolist()
    overridden = rows["override_id"].notna().tolist() if "override_id" in rows else []
    hover = [
        f"{d}<br>score {s:.1f} ({label(t)})<br>version {label(v)}" + (" · override" if o else "")
        for d, s, t, v, o in zip(
            dates,
            rows["score"],
            rows["tier"],
            versions,
            overridden or [False] * len(dates),
            strict=True,
        )
    ]
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "score",
            "x": dates,
            "y": rows["score"].round(2).tolist(),
            "text": hover,
            "hovertemplate": "%{text}<extra></extra>",
            "line": {"color": "#37474f", "width": 2},
            "marker": {
                "size": 9,
                "color": [colors.get(str(t), GREY) for t in rows["tier"]],
                "symbol": ["diamond" if o else "circle" for o in overridden] or "circle",
                "line": {"color": "#ffffff", "width": 1},
            },
        }
    ]
    shapes: list[dict[str, Any]] = []
    tops = [100.0, *(t.min for t in card.tiers[:-1])]
    for tier, top in zip(card.tiers, tops, strict=True):
        shapes.append(
            {
                "type": "rect",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": tier.min,
                "y1": top,
                "fillcolor": tier.color,
                "opacity": 0.08,
                "line": {"width": 0},
                "layer": "below",
            }
        )
    annotations = []
    for index in range(1, len(versions)):
        if versions[index] != versions[index - 1]:
            shapes.append(
                {
                    "type": "line",
                    "x0": dates[index],
                    "x1": dates[index],
                    "yref": "paper",
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": "#6a1b9a", "dash": "dash"},
                }
            )
            annotations.append(
                {
                    "x": dates[index],
                    "yref": "paper",
                    "y": 1,
                    "yanchor": "bottom",
                    "text": label(f"version {versions[index - 1]} → {versions[index]}"),
                    "showarrow": False,
                    "font": {"color": "#6a1b9a"},
                }
            )
    layout = _layout(
        320,
        shapes=shapes,
        annotations=annotations,
        showlegend=False,
        xaxis={"type": "category", "title": {"text": "as of"}},
        yaxis={"range": [0, 100], "title": {"text": "score"}},
    )
    return {"data": data, "layout": _no_data(layout, rows.empty)}


def impacts(names: Sequence[str], points: Sequence[float]) -> Figure:
    """Points each measure adds to or takes from 50, largest effect on top."""
    pairs = sorted(zip(names, points, strict=True), key=lambda p: abs(p[1]))
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "y": [label(n) for n, _ in pairs],
            "x": [round(p, 2) for _, p in pairs],
            "marker": {"color": [DRAG if p < 0 else LIFT for _, p in pairs]},
            "hovertemplate": "%{y}: %{x:+.2f} points<extra></extra>",
        }
    ]
    layout = _layout(
        max(220, 28 * len(pairs) + 80),
        showlegend=False,
        margin={"l": 16, "r": 16, "t": 20, "b": 44},
        yaxis={"automargin": True},
        xaxis={"title": {"text": "points against 50"}, "zeroline": True},
    )
    return {"data": data, "layout": _no_data(layout, not pairs)}
