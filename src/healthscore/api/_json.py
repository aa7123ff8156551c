"""Frames and rows as JSON: NaN and NaT become null, dates ISO text, numpy scalars plain."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd

# Columns of a stored row that are for the store, not for API readers.
_HIDDEN = ("mode", "finished_at")


def plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        return (
            value.isoformat() if value.tz or value.time() != dt.time() else value.date().isoformat()
        )
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [plain(row) for row in frame.to_dict("records")]


def account_row(row: dict[str, Any]) -> dict[str, Any]:
    """A stored score row for readers: sub-scores, impacts and metrics grouped."""
    out: dict[str, Any] = {"measures": {}, "groups": {}, "impacts": {}, "metrics": {}}
    fixed = {
        "run_id", "account_id", "as_of", "score", "tier", "computed_score", "computed_tier",
        "confidence", "reasons", "segment", "stage", "owner", "churn_probability", "value",
        "revenue_at_risk", "value_tier", "gates", "trend_7d", "trend_30d", "direction",
        "override_id", "override_reason", "override_by", "override_until", "scorecard_name",
        "scorecard_version", "scorecard_hash",
    }  # fmt: skip
    for name, value in row.items():
        if name in fixed:
            out[name] = value
        elif name.startswith("measure."):
            out["measures"][name.removeprefix("measure.")] = value
        elif name.startswith("group."):
            out["groups"][name.removeprefix("group.")] = value
        elif name.startswith("impact."):
            out["impacts"][name.removeprefix("impact.")] = value
        elif name not in _HIDDEN:
            out["metrics"][name] = value
    return out
