"""Numbers and text as the report shows them: a missing number is "undefined", text escaped."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence

from healthscore.evaluation import BacktestResult

UNDEFINED = "undefined"


def text(value: object) -> str:
    """User text, safe inside HTML and inside Plotly labels (which read a few tags)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return UNDEFINED
    return html.escape(str(value), quote=True)


def count(value: int | None) -> str:
    return UNDEFINED if value is None else f"{value:,}"


def number(value: float | None, digits: int = 3) -> str:
    return UNDEFINED if value is None or math.isnan(value) else f"{value:.{digits}f}"


def percent(value: float | None, digits: int = 1) -> str:
    return UNDEFINED if value is None or math.isnan(value) else f"{100 * value:.{digits}f}%"


def lift(value: float | None) -> str:
    return UNDEFINED if value is None or math.isnan(value) else f"{value:.2f}x"


def days(value: float | None) -> str:
    return UNDEFINED if value is None or math.isnan(value) else f"{value:g} days"


def auc_with_interval(result: BacktestResult) -> str:
    if result.auc is None:
        return UNDEFINED
    if result.auc_interval is None:
        return f"{result.auc:.3f} (interval {UNDEFINED})"
    low, high = result.auc_interval.low, result.auc_interval.high
    return f"{result.auc:.3f} ({low:.3f} to {high:.3f})"


def labels(results: Sequence[BacktestResult]) -> list[str]:
    """A short, distinct, unescaped name per result: name and version, then hash if needed."""
    names = [f"{r.scorecard_name} {r.scorecard_version}" for r in results]
    if len(set(names)) < len(names):
        names = [f"{n} ({r.scorecard_hash[:8]})" for n, r in zip(names, results, strict=True)]
    if len(set(names)) < len(names):
        names = [f"{n} #{i}" for i, n in enumerate(names, start=1)]
    return names


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    css: str = "",
    numeric_from: int = 1,
) -> str:
    """An HTML table of cells already formatted (and escaped) by the caller."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{cell}</td>' if i >= numeric_from else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    classes = f' class="{css}"' if css else ""
    return f"<table{classes}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
