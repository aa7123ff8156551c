"""Reason codes: stable codes with plain text carrying the numbers, ordered by impact."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np
from numpy.typing import NDArray

from healthscore.core._normalize import FloatArray

#: Impacts smaller than this many points are noise, not reasons.
MIN_IMPACT = 0.05


class Reason(TypedDict):
    code: str
    text: str
    impact: float


@dataclass(frozen=True)
class ReasonSource:
    """How to explain one measure: a template and the arrays it reads, row-aligned."""

    code: str
    label: str
    template: str
    fields: Mapping[str, NDArray[Any]]
    observed: NDArray[np.bool_]


def format_number(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"


class _Row(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        # `shown` is the value in words, formatted only for the reasons actually shown.
        if key == "shown" and "value" in self:
            return format_number(float(self["value"]))
        return "n/a"


def _text(source: ReasonSource, row: int) -> str:
    if not source.observed[row]:
        return f"no data for {source.label}"
    values = _Row(label=source.label)
    for name, array in source.fields.items():
        value = array[row]
        if isinstance(value, float | np.floating) and not math.isfinite(value):
            return f"no data for {source.label}"
        values[name] = value
    try:
        return source.template.format_map(values)
    except (ValueError, TypeError):
        return f"{source.label}: {format_number(float(values.get('value', math.nan)))}"


def build_reasons(
    rows: int,
    sources: Sequence[ReasonSource],
    impacts: Mapping[str, FloatArray],
    gate_texts: Mapping[str, str],
    gate_impacts: Mapping[str, FloatArray],
    gates_fired: Mapping[str, NDArray[np.bool_]],
    max_drags: int,
    max_lifts: int,
) -> list[list[Reason]]:
    """Per row: fired gates, then the top drags (most negative first), then the top lifts."""
    result: list[list[Reason]] = [[] for _ in range(rows)]
    for name, fired in gates_fired.items():
        for row in np.flatnonzero(fired).tolist():
            result[row].append(
                Reason(
                    code=f"gate.{name}",
                    text=gate_texts[name],
                    impact=round(float(gate_impacts[name][row]), 2),
                )
            )
    if not sources:
        return result
    matrix = np.column_stack([impacts[source.code] for source in sources])
    order = np.argsort(matrix, axis=1, kind="stable")
    drags = order[:, :max_drags]
    lifts = order[:, ::-1][:, :max_lifts]
    for row in range(rows):
        for column in drags[row].tolist():
            impact = float(matrix[row, column])
            if impact <= -MIN_IMPACT:
                result[row].append(_reason(sources[column], row, impact))
        for column in lifts[row].tolist():
            impact = float(matrix[row, column])
            if impact >= MIN_IMPACT:
                result[row].append(_reason(sources[column], row, impact))
    return result


def _reason(source: ReasonSource, row: int, impact: float) -> Reason:
    suffix = "missing" if not source.observed[row] else "low" if impact < 0 else "high"
    return Reason(
        code=f"{source.code}.{suffix}", text=_text(source, row), impact=round(float(impact), 2)
    )
