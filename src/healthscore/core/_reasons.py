"""Reason codes: stable codes with plain text carrying the numbers, ordered by impact.

Reasons are built column-wise: the top drags and lifts are picked for all rows at once,
and each measure's texts are formatted for just the rows that show it, each distinct
number formatted once. A million accounts cost seconds, not minutes.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np
from numpy.typing import NDArray

from healthscore.core._normalize import FloatArray

#: Impacts smaller than this many points are noise, not reasons.
MIN_IMPACT = 0.05
ObjectArray = NDArray[np.object_]
IntArray = NDArray[np.int64]


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


@dataclass(frozen=True)
class ReasonColumns:
    """Every reason of every row, flat and ordered: row by row, in display order."""

    rows: IntArray
    codes: ObjectArray
    texts: ObjectArray
    impacts: FloatArray

    @staticmethod
    def concat(parts: Sequence[ReasonColumns]) -> ReasonColumns:
        """Join parts and order them by row, keeping each part's order within a row."""
        parts = [part for part in parts if part.rows.size] or list(parts[:1])
        if not parts:
            return ReasonColumns.empty()
        rows = np.concatenate([part.rows for part in parts])
        order = np.argsort(rows, kind="stable")
        return ReasonColumns(
            rows[order],
            np.concatenate([part.codes for part in parts])[order],
            np.concatenate([part.texts for part in parts])[order],
            np.concatenate([part.impacts for part in parts])[order],
        )

    @staticmethod
    def empty() -> ReasonColumns:
        return ReasonColumns(
            np.zeros(0, np.int64), np.zeros(0, object), np.zeros(0, object), np.zeros(0)
        )

    def per_row(self, rows: int) -> list[list[Reason]]:
        """As Python lists of dicts (for small frames and tests)."""
        result: list[list[Reason]] = [[] for _ in range(rows)]
        for row, code, text, impact in zip(
            self.rows.tolist(), self.codes, self.texts, self.impacts.tolist(), strict=True
        ):
            result[row].append(Reason(code=code, text=text, impact=impact))
        return result


def format_number(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"


def gate_reasons(
    texts: Mapping[str, str],
    impacts: Mapping[str, FloatArray],
    fired: Mapping[str, NDArray[np.bool_]],
) -> ReasonColumns:
    """One reason per fired gate and row, in the order the gates are given."""
    parts = []
    for name, mask in fired.items():
        rows = np.flatnonzero(mask).astype(np.int64)
        parts.append(
            ReasonColumns(
                rows,
                np.full(rows.size, f"gate.{name}", dtype=object),
                np.full(rows.size, texts[name], dtype=object),
                np.round(impacts[name][rows], 2),
            )
        )
    return ReasonColumns.concat(parts)


def measure_reasons(
    sources: Sequence[ReasonSource],
    impacts: Mapping[str, FloatArray],
    max_drags: int,
    max_lifts: int,
    row_ids: IntArray,
) -> ReasonColumns:
    """Per row: the top drags (most negative first), then the top lifts (largest first).

    `row_ids` maps the sources' row positions to the rows of the final frame.
    """
    if not sources or row_ids.size == 0:
        return ReasonColumns.empty()
    matrix = np.column_stack([impacts[source.code] for source in sources])
    order = np.argsort(matrix, axis=1, kind="stable")
    picks = [order[:, slot] for slot in range(min(max_drags, len(sources)))]
    lifts = order[:, ::-1]
    picks += [lifts[:, slot] for slot in range(min(max_lifts, len(sources)))]
    local = np.arange(row_ids.size)
    rows, slots, columns = [], [], []
    for slot, column in enumerate(picks):
        impact = matrix[local, column]
        keep = (
            impact <= -MIN_IMPACT if slot < min(max_drags, len(sources)) else (impact >= MIN_IMPACT)
        )
        rows.append(local[keep])
        slots.append(np.full(int(keep.sum()), slot))
        columns.append(column[keep])
    row = np.concatenate(rows)
    slot_of = np.concatenate(slots)
    column_of = np.concatenate(columns)
    order = np.lexsort((slot_of, row))
    row, column_of = row[order], column_of[order]
    impact_of = matrix[row, column_of]
    codes = np.empty(row.size, dtype=object)
    texts = np.empty(row.size, dtype=object)
    for index, source in enumerate(sources):
        chosen = column_of == index
        if not chosen.any():
            continue
        at = row[chosen]
        observed = source.observed[at]
        suffix = np.where(~observed, ".missing", np.where(impact_of[chosen] < 0, ".low", ".high"))
        codes[chosen] = np.char.add(source.code, suffix.astype(str)).astype(object)
        texts[chosen] = _texts(source, at)
    return ReasonColumns(row_ids[row], codes, texts, np.round(impact_of, 2))


def _texts(source: ReasonSource, rows: IntArray) -> ObjectArray:
    """The template filled in for `rows`; 'no data for <label>' where a value is missing."""
    missing = ~source.observed[rows]
    pieces: list[ObjectArray | str] = []
    try:
        for literal, field, spec, conversion in string.Formatter().parse(source.template):
            if literal:
                pieces.append(literal.replace("{{", "{").replace("}}", "}"))
            if field is None:
                continue
            values, absent = _field(source, field, rows)
            missing |= absent
            pieces.append(_format_each(values, spec or "", conversion))
    except (ValueError, TypeError):
        pieces = [f"{source.label}: ", _format_each(_field(source, "shown", rows)[0], "", None)]
    text = np.full(rows.size, "", dtype=object)
    for piece in pieces:
        text = text + piece
    text[missing] = f"no data for {source.label}"
    return text


def _field(
    source: ReasonSource, name: str, rows: IntArray
) -> tuple[NDArray[Any], NDArray[np.bool_]]:
    if name == "label":
        return np.full(rows.size, source.label, dtype=object), np.zeros(rows.size, bool)
    if name == "shown":
        values = np.asarray(source.fields["value"], dtype=np.float64)[rows]
        shown = _format_unique(values, format_number)
        return shown, ~np.isfinite(values)
    values = np.asarray(source.fields[name])[rows]
    if values.dtype.kind == "f":
        return values, ~np.isfinite(values)
    return values, np.zeros(rows.size, bool)


def _format_each(values: NDArray[Any], spec: str, conversion: str | None) -> ObjectArray:
    def one(value: Any) -> str:
        if conversion == "r":
            value = repr(value)
        elif conversion == "s":
            value = str(value)
        return format(value, spec)

    if values.dtype == object and not spec and conversion is None:
        return values.astype(object)
    return _format_unique(values, one)


def _format_unique(values: NDArray[Any], formatter: Any) -> ObjectArray:
    """Format each distinct value once: counts and days repeat across accounts."""
    if values.size == 0:
        return np.zeros(0, dtype=object)
    if values.dtype.kind == "f":
        finite = np.where(np.isfinite(values), values, 0.0)
        unique, inverse = np.unique(finite, return_inverse=True)
        formatted = np.array([formatter(value) for value in unique.tolist()], dtype=object)
        return formatted[inverse]
    unique_objects, inverse = np.unique(values.astype(str), return_inverse=True)
    return np.array([formatter(value) for value in unique_objects.tolist()], dtype=object)[inverse]
