"""Score frames <-> stored rows: fixed columns, with the variable parts as JSON text.

Sub-scores and metric values differ between scorecard versions, so they travel as one
JSON object per row; reading them back restores the `measure.*`/`group.*` columns of the
score frame and one column per stored metric.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Sequence
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from healthscore.store._schema import SCORE_COLUMNS

SUB_SCORE_PREFIXES = ("measure.", "group.", "impact.")
_OPTIONAL = ("owner", "churn_probability", "value", "revenue_at_risk", "value_tier")


def _json_lines(frame: pd.DataFrame) -> list[str | None]:
    if frame.shape[1] == 0 or len(frame) == 0:
        return [None] * len(frame)
    # pandas writes every row's JSON in C; NaN becomes null.
    text = frame.reset_index(drop=True).to_json(orient="records", lines=True, double_precision=6)
    lines: list[str | None] = list(text.splitlines()) if text else []
    return lines


_THREAD = threading.local()
# Up to this many rows (a rescore of a few accounts), Python's json is quicker than DuckDB.
FEW_ROWS = 200


def _local_duckdb() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB of this thread's own (the default connection is shared between
    threads, and opening one per call cost a rescore tens of milliseconds)."""
    con: duckdb.DuckDBPyConnection | None = getattr(_THREAD, "duckdb", None)
    if con is None:
        con = duckdb.connect()
        _THREAD.duckdb = con
    return con


def _reason_texts(reasons: pd.Series) -> tuple[list[str], list[str]]:
    """Reasons and the names of fired gates as JSON text, one of each per row.

    The score frame keeps reasons as one Arrow list<struct> column; DuckDB turns that into
    JSON in C, where a Python loop over 100k rows of dicts took seconds.
    """
    values = reasons.array
    if isinstance(values, pd.arrays.ArrowExtensionArray) and len(values) > FEW_ROWS:
        con = _local_duckdb()
        con.register("reason_rows", pa.table({"r": pa.array(values)}))
        try:
            rows = con.execute(
                "SELECT coalesce(to_json(r), '[]')::VARCHAR, coalesce(to_json(list_transform("
                "list_filter(r, x -> starts_with(x.code, 'gate.')), x -> x.code[6:])), '[]')"
                "::VARCHAR FROM reason_rows"
            ).fetchall()
        finally:
            con.unregister("reason_rows")
        return [row[0] for row in rows], [row[1] for row in rows]
    if isinstance(values, pd.arrays.ArrowExtensionArray):
        lists = pa.array(values).to_pylist()
    else:
        lists = [list(items) for items in reasons]
    gates = [
        [r["code"].removeprefix("gate.") for r in items if r["code"].startswith("gate.")]
        for items in lists
    ]
    return [json.dumps(items) for items in lists], [json.dumps(names) for names in gates]


def encode(scores: pd.DataFrame, metrics: pd.DataFrame | None, run_id: str) -> pd.DataFrame:
    """The stored form of finalized scores (`metrics`: values to keep, aligned by row)."""
    rows = len(scores)
    # Built as plain columns and made a frame once: per-column assignment into a frame
    # cost a one-account rescore 8 ms of pandas bookkeeping.
    columns: dict[str, Any] = {}
    scores = scores.reset_index(drop=True)
    for name in SCORE_COLUMNS:
        if name in scores.columns:
            columns[name] = scores[name]
        elif name in _OPTIONAL:
            columns[name] = np.full(rows, None, dtype=object)
    columns["run_id"] = np.full(rows, run_id, dtype=object)
    columns["account_id"] = scores["account_id"].astype(str).to_numpy(dtype=object)
    as_of = pd.to_datetime(pd.Series(scores["as_of"]).astype("datetime64[us]")).dt.date
    columns["as_of"] = as_of.to_numpy()
    columns["reasons"], columns["gates"] = _reason_texts(scores["reasons"])
    subs = [c for c in scores.columns if c.startswith(SUB_SCORE_PREFIXES)]
    columns["subscores"] = _json_lines(scores[subs])
    columns["metrics"] = _json_lines(metrics if metrics is not None else scores[[]])
    for name in _NUMBERS:
        columns[name] = pd.to_numeric(pd.Series(columns[name]), errors="coerce").to_numpy(float)
    for name in _TEXTS:
        values = pd.Series(columns[name], dtype=object)
        # Object, not pandas' text type, which would turn None into NaN.
        columns[name] = values.where(values.notna(), None).astype(object)
    return pd.DataFrame({name: columns[name] for name in SCORE_COLUMNS})


_NUMBERS = (
    "score", "computed_score", "confidence", "trend_7d", "trend_30d",
    "churn_probability", "value", "revenue_at_risk",
)  # fmt: skip
_TEXTS = ("owner", "value_tier", "direction", "override_id")


def _expand(texts: pd.Series, skip: Sequence[str]) -> pd.DataFrame:
    present = texts.notna()
    if not present.any():
        return pd.DataFrame(index=texts.index)
    lines = "\n".join(texts[present].astype(str))
    expanded = pd.read_json(io.StringIO(lines), lines=True, dtype=False)
    expanded.index = texts.index[present]
    expanded = expanded.drop(columns=[c for c in expanded.columns if c in skip])
    numbers: pd.DataFrame = expanded.reindex(texts.index).apply(pd.to_numeric, errors="coerce")
    return numbers


def decode(rows: pd.DataFrame) -> pd.DataFrame:
    """Stored rows -> a score frame (reasons and gates as lists; sub-scores and metrics as
    columns). An empty input keeps the fixed columns."""
    frame = rows.reset_index(drop=True).copy()
    if frame.empty:
        return frame.drop(columns=["subscores", "metrics"], errors="ignore")
    frame["reasons"] = [json.loads(text) if text else [] for text in frame["reasons"]]
    frame["gates"] = [json.loads(text) if text else [] for text in frame["gates"]]
    frame["as_of"] = pd.to_datetime(frame["as_of"]).astype("datetime64[us]")
    for name in ("score", "computed_score", "confidence", "churn_probability", "value"):
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
    for name in ("revenue_at_risk", "trend_7d", "trend_30d"):
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
    subs = _expand(frame["subscores"], ())
    metrics = _expand(frame["metrics"], [*frame.columns, *subs.columns])
    frame = frame.drop(columns=["subscores", "metrics"])
    return pd.concat([frame, subs, metrics], axis=1)
