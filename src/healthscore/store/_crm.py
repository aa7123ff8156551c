"""The latest scores shaped for a CRM or marketing tool: one flat row per account.

Column names say what they are in a CRM's account object (`health_score`,
`health_tier`, ...), reasons are one readable line, and every value is a plain string,
number or date, so the file imports as is into Salesforce, HubSpot or a marketing list.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pandas as pd

ExportFormat = Literal["csv", "parquet", "jsonl"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("csv", "parquet", "jsonl")


def crm_frame(current: pd.DataFrame) -> pd.DataFrame:
    """`Store.current` rows -> the export's columns, lowest score first."""
    rows = current.sort_values(["score", "account_id"], kind="stable")

    def optional(name: str) -> pd.Series:
        return rows[name] if name in rows else pd.Series(None, index=rows.index, dtype=object)

    return pd.DataFrame(
        {
            "account_id": rows["account_id"].astype(str),
            "health_score": rows["score"].round(1),
            "health_tier": rows["tier"],
            "health_trend_7d": optional("trend_7d"),
            "health_trend_30d": optional("trend_30d"),
            "health_direction": optional("direction"),
            "health_confidence": rows["confidence"].round(2),
            "health_reasons": [
                "; ".join(str(r["text"]) for r in items) for items in rows["reasons"]
            ],
            "health_reason_codes": [
                ",".join(str(r["code"]) for r in items) for items in rows["reasons"]
            ],
            "health_churn_probability": optional("churn_probability"),
            "health_revenue_at_risk": optional("revenue_at_risk"),
            "health_overridden": optional("override_id").notna(),
            "health_segment": rows["segment"],
            "health_stage": rows["stage"],
            "health_owner": optional("owner"),
            "health_as_of": pd.to_datetime(rows["as_of"]).dt.date,
            "health_scorecard": rows["scorecard_name"] + " " + rows["scorecard_version"],
        }
    ).reset_index(drop=True)


def write_crm_export(frame: pd.DataFrame, path: Path, kind: ExportFormat) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "csv":
        frame.to_csv(path, index=False)
    elif kind == "parquet":
        frame.to_parquet(path, index=False)
    else:
        with path.open("w", encoding="utf-8") as out:
            for row in frame.astype(object).where(frame.notna(), None).to_dict("records"):
                out.write(json.dumps(row, default=str, ensure_ascii=False) + "\n")
