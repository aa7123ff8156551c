"""Reason texts, rendered column-wise in Arrow: no Python object per account.

Each measure's template is filled in for just the rows that show it; each distinct
number is formatted once (counts and days repeat across accounts) and spread with
`take`, and the pieces are joined by Arrow's string kernels.
"""

from __future__ import annotations

import functools
import math
import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from healthscore.core._reasons import Reason, ReasonPicks

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
WHOLE_NUMBER = re.compile(r"^,?\.0f$")
# Ranks within a row fit in 16 bits (gates count down from -1, measures up from 0).
_RANK_SPAN = 1 << 15


@dataclass(frozen=True)
class ReasonSource:
    """How to explain one measure: a template and the arrays it reads, row-aligned."""

    code: str
    label: str
    template: str
    fields: Mapping[str, NDArray[Any]]
    observed: NDArray[np.bool_]


@dataclass(frozen=True)
class ReasonTable:
    """Reasons, flat: rows of the final frame, their rank within the row, codes, texts,
    impacts. `concat` puts them in display order (by row, then rank) with one sort."""

    rows: IntArray
    ranks: IntArray
    codes: pa.Array
    texts: pa.Array
    impacts: FloatArray

    @staticmethod
    def empty() -> ReasonTable:
        nothing = np.zeros(0, np.int64)
        strings = pa.array([], pa.string())
        return ReasonTable(nothing, nothing, strings, strings, np.zeros(0))

    @staticmethod
    def concat(parts: Sequence[ReasonTable]) -> ReasonTable:
        """Join parts in display order: by row, then by rank."""
        if not parts:
            return ReasonTable.empty()
        rows = np.concatenate([part.rows for part in parts])
        ranks = np.concatenate([part.ranks for part in parts])
        if ranks.size and ranks.min() >= -_RANK_SPAN and ranks.max() < _RANK_SPAN:
            # One key, sorted stably: the parts are runs already in row order, which a
            # stable sort merges in a third of lexsort's time.
            order = np.argsort((rows << 16) + (ranks + _RANK_SPAN), kind="stable")
        else:
            order = np.lexsort((ranks, rows))
        take = pa.array(order)
        return ReasonTable(
            rows[order],
            ranks[order],
            pa.concat_arrays([part.codes for part in parts]).take(take),
            pa.concat_arrays([part.texts for part in parts]).take(take),
            np.concatenate([part.impacts for part in parts])[order],
        )

    def column(self, rows: int) -> pd.Series:
        """One Arrow list<struct<code, text, impact>> column with `rows` entries."""
        offsets = np.zeros(rows + 1, dtype=np.int32)
        np.cumsum(np.bincount(self.rows, minlength=rows), out=offsets[1:])
        items = pa.StructArray.from_arrays(
            [self.codes, self.texts, pa.array(self.impacts, type=pa.float64())],
            names=["code", "text", "impact"],
        )
        lists = pa.ListArray.from_arrays(pa.array(offsets), items)
        return pd.Series(pd.arrays.ArrowExtensionArray(lists))

    def per_row(self, rows: int) -> list[list[Reason]]:
        result: list[list[Reason]] = ReasonTable.concat([self]).column(rows).tolist()
        return result


def format_number(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"


def _repeat(text: str, count: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(count, np.int32)), pa.array([text])
    ).cast(pa.string())


def gate_reasons(
    texts: Mapping[str, str],
    impacts: Mapping[str, FloatArray],
    fired: Mapping[str, NDArray[np.bool_]],
) -> ReasonTable:
    """One reason per fired gate and row, in the order the gates are given."""
    parts = []
    for index, (name, mask) in enumerate(fired.items()):
        rows = np.flatnonzero(mask).astype(np.int64)
        parts.append(
            ReasonTable(
                rows,
                np.full(rows.size, index - len(fired), np.int64),  # before every measure
                _repeat(f"gate.{name}", rows.size),
                _repeat(texts[name], rows.size),
                np.round(impacts[name][rows], 2),
            )
        )
    return ReasonTable.concat(parts)


def measure_reasons(
    picks: ReasonPicks, sources: Sequence[ReasonSource], row_ids: IntArray
) -> ReasonTable:
    """Codes and texts for the picked reasons; `row_ids` maps local rows to frame rows."""
    if picks.rows.size == 0:
        return ReasonTable.empty()
    codes: list[pa.Array] = []
    texts: list[pa.Array] = []
    positions: list[IntArray] = []
    # The picks of each measure, in row order: one stable sort instead of a scan per measure.
    by_measure = np.argsort(picks.measures, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(picks.measures, minlength=len(sources)))])
    for index, source in enumerate(sources):
        chosen = by_measure[bounds[index] : bounds[index + 1]]
        if chosen.size == 0:
            continue
        at = picks.rows[chosen]
        # 0: low, 1: high, 2: missing - the code's suffix.
        kind = np.where(source.observed[at], (picks.impacts[chosen] >= 0).astype(np.int32), 2)
        suffixes = pa.array([f"{source.code}.low", f"{source.code}.high", f"{source.code}.missing"])
        codes.append(
            pa.DictionaryArray.from_arrays(pa.array(kind.astype(np.int32)), suffixes).cast(
                pa.string()
            )
        )
        texts.append(_texts(source, at))
        positions.append(chosen)
    # Left grouped by measure: ReasonTable.concat sorts once, by row and pick order.
    chosen_all = np.concatenate(positions)
    # The pick's place within its row (picks come row by row): its index minus the index
    # of its row's first pick.
    place = np.arange(picks.rows.size)
    first = np.ones(picks.rows.size, dtype=bool)
    first[1:] = picks.rows[1:] != picks.rows[:-1]
    within_row = place - np.maximum.accumulate(np.where(first, place, 0))
    return ReasonTable(
        row_ids[picks.rows[chosen_all]],
        within_row[chosen_all].astype(np.int64),
        pa.concat_arrays(codes),
        pa.concat_arrays(texts),
        np.round(picks.impacts[chosen_all], 2),
    )


def _texts(source: ReasonSource, rows: IntArray) -> pa.Array:
    """The template filled in for `rows`; 'no data for <label>' where a value is missing."""
    missing = ~source.observed[rows]
    pieces: list[pa.Array | str] = []
    try:
        for literal, field, spec, conversion in string.Formatter().parse(source.template):
            if literal:
                pieces.append(literal)
            if field is None:
                continue
            if field == "label":
                pieces.append(_one(source.label, spec or "", conversion))
                continue
            name = "value" if field == "shown" else field
            values = np.asarray(source.fields[name])[rows]
            if values.dtype.kind == "f":
                missing = missing | ~np.isfinite(values)
            if field == "shown":
                pieces.append(_format(values, format_number))
            else:
                if values.dtype.kind == "f" and WHOLE_NUMBER.match(spec or "") and not conversion:
                    # rint rounds half to even exactly as format does for no decimals, and
                    # leaves far fewer distinct values to format.
                    values = np.rint(values)
                formatter = functools.partial(_one, spec=spec or "", conversion=conversion)
                pieces.append(_format(values, formatter))
    except (ValueError, TypeError, KeyError):
        values = np.asarray(source.fields["value"], dtype=np.float64)[rows]
        missing = missing | ~np.isfinite(values)
        pieces = [f"{source.label}: ", _format(values, format_number)]
    arrays = [piece for piece in pieces if isinstance(piece, pa.Array)]
    if not arrays:
        joined = _repeat("".join(str(piece) for piece in pieces), rows.size)
    elif len(pieces) == 1:
        joined = arrays[0]
    else:
        joined = pc.binary_join_element_wise(*pieces, "")
    return pc.if_else(pa.array(missing), f"no data for {source.label}", joined)


def _one(value: Any, spec: str, conversion: str | None) -> str:
    if conversion == "r":
        value = repr(value)
    elif conversion == "s":
        value = str(value)
    return format(value, spec)


def _format(values: NDArray[Any], formatter: Callable[[Any], str]) -> pa.Array:
    """Each distinct value formatted once (hash-based), spread back over the rows."""
    if values.size == 0:
        return pa.array([], pa.string())
    if values.dtype.kind == "f":
        values = np.where(np.isfinite(values), values, 0.0)
    codes, unique = pd.factorize(values)
    formatted = [formatter(value) for value in np.asarray(unique).tolist()]
    return pa.array(formatted, pa.string()).take(pa.array(codes.astype(np.int64)))
