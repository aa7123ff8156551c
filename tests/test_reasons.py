"""Reason texts and codes, rendered column-wise."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from healthscore.compute._reason_text import (
    ReasonSource,
    ReasonTable,
    gate_reasons,
    measure_reasons,
)
from healthscore.core import pick_reasons


def render(
    sources: list[ReasonSource],
    impacts: dict[str, np.ndarray],
    drags: int,
    lifts: int,
    row_ids: np.ndarray,
) -> ReasonTable:
    matrix = np.column_stack([impacts[source.code] for source in sources])
    return measure_reasons(pick_reasons(matrix, drags, lifts), sources, row_ids)


def test_reasons_order_drags_then_lifts_and_carry_numbers() -> None:
    sources = [
        ReasonSource(
            "u.logins", "logins", "{value:.0f} logins", {"value": np.array([3.0])}, np.array([True])
        ),
        ReasonSource(
            "u.nps", "NPS", "NPS {value:.0f}", {"value": np.array([9.0])}, np.array([True])
        ),
        ReasonSource("u.csat", "CSAT", "{shown}", {"value": np.array([np.nan])}, np.array([False])),
    ]
    impacts = {"u.logins": np.array([-12.0]), "u.nps": np.array([7.5]), "u.csat": np.array([-20.0])}
    columns = render(sources, impacts, 2, 1, np.array([0]))
    (reasons,) = columns.per_row(1)
    assert [r["code"] for r in reasons] == ["u.csat.missing", "u.logins.low", "u.nps.high"]
    assert [r["text"] for r in reasons] == ["no data for CSAT", "3 logins", "NPS 9"]
    assert [r["impact"] for r in reasons] == [-20.0, -12.0, 7.5]


def test_reasons_for_many_rows_keep_gates_first_and_format_each_row() -> None:
    values = np.array([3.0, 12.0, np.nan, 3.0])
    sources = [
        ReasonSource(
            "u.logins",
            "logins",
            "{value:,.0f} logins ({shown})",
            {"value": values},
            ~np.isnan(values),
        ),
        ReasonSource(
            "u.nps",
            "NPS",
            "NPS {value:.1f}",
            {"value": np.array([9.0, 1.0, 5.0, 7.0])},
            np.ones(4, bool),
        ),
    ]
    impacts = {
        "u.logins": np.array([-3.0, 2.0, -1.0, 0.0]),
        "u.nps": np.array([4.0, -5.0, 0.01, -0.2]),
    }
    measures = render(sources, impacts, 1, 1, np.array([10, 11, 12, 13]))
    gates = gate_reasons({"g": "gated"}, {"g": np.arange(14.0)}, {"g": np.arange(14) % 2 == 1})
    rows = ReasonTable.concat([gates, measures]).per_row(14)
    assert rows[10] == [
        {"code": "u.logins.low", "text": "3 logins (3)", "impact": -3.0},
        {"code": "u.nps.high", "text": "NPS 9.0", "impact": 4.0},
    ]
    assert [r["code"] for r in rows[11]] == ["gate.g", "u.nps.low", "u.logins.high"]
    assert rows[11][2]["text"] == "12 logins (12)"
    assert rows[12] == [{"code": "u.logins.missing", "text": "no data for logins", "impact": -1.0}]
    assert rows[13] == [
        {"code": "gate.g", "text": "gated", "impact": 13.0},
        {"code": "u.nps.low", "text": "NPS 7.0", "impact": -0.2},
    ]
    assert rows[0] == []


def test_a_template_that_cannot_format_falls_back_to_the_value() -> None:
    source = ReasonSource(
        "u.x", "x", "{value:d} things", {"value": np.array([2.5])}, np.array([True])
    )
    (reasons,) = render([source], {"u.x": np.array([-4.0])}, 1, 0, np.array([0])).per_row(1)
    assert reasons[0]["text"] == "x: 2.50"


@given(st.floats(allow_nan=False, allow_infinity=False, width=64), st.sampled_from([".0f", ",.0f"]))
def test_whole_number_formatting_is_unchanged_by_rounding_first(value: float, spec: str) -> None:
    # The renderer rounds with rint before formatting `.0f` fields, to format fewer values.
    assert format(float(np.rint(value)), spec) == format(value, spec)


def test_whole_number_fields_round_half_to_even_like_python() -> None:
    values = np.array([0.5, 1.5, 2.5, 2.4999999, 1_000_000.5])
    source = ReasonSource("u.x", "x", "{value:,.0f}", {"value": values}, np.ones(5, bool))
    table = render([source], {"u.x": -np.ones(5)}, 1, 0, np.arange(5))
    assert [r[0]["text"] for r in table.per_row(5)] == [format(v, ",.0f") for v in values]


@given(
    parts=st.lists(
        st.lists(st.tuples(st.integers(0, 50), st.integers(-3, 6)), max_size=30),
        min_size=1,
        max_size=4,
    ),
    huge=st.booleans(),
)
def test_reason_tables_join_by_row_then_rank(
    parts: list[list[tuple[int, int]]], huge: bool
) -> None:
    # The one-key sort (ranks within 16 bits) and lexsort (any rank) give the same order.
    tables = []
    for number, items in enumerate(parts):
        rows = np.array([row for row, _ in items], dtype=np.int64)
        ranks = np.array([rank * (10**6 if huge else 1) for _, rank in items], dtype=np.int64)
        texts = pa.array([f"{number}:{i}" for i in range(len(items))], pa.string())
        tables.append(ReasonTable(rows, ranks, texts, texts, np.zeros(len(items))))
    joined = ReasonTable.concat(tables)
    rows = np.concatenate([t.rows for t in tables])
    ranks = np.concatenate([t.ranks for t in tables])
    order = np.lexsort((ranks, rows))
    expected = pa.concat_arrays([t.texts for t in tables]).take(pa.array(order)).to_pylist()
    assert joined.rows.tolist() == rows[order].tolist()
    assert joined.ranks.tolist() == ranks[order].tolist()
    # Equal (row, rank) pairs keep the order of the parts, as lexsort does.
    assert joined.texts.to_pylist() == expected
