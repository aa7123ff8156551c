"""Reading scores: accounts, one account, its history and what changed, filtered lists."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Query, status

from healthscore.api._auth import require, service_of
from healthscore.api._json import account_row, plain, records
from healthscore.api._service import Service
from healthscore.store._current import Filters, Sort
from healthscore.store._keys import ApiKey

router = APIRouter(prefix="/v1", tags=["scores"])
Viewer = Annotated[ApiKey, Depends(require("viewer"))]
ServiceDep = Annotated[Service, Depends(service_of)]
SUMMARY = [
    "account_id", "as_of", "score", "tier", "trend_7d", "trend_30d", "direction",
    "confidence", "segment", "stage", "owner", "churn_probability", "revenue_at_risk",
    "value_tier", "override_id", "scorecard_version",
]  # fmt: skip


def _page(
    service: Service, filters: Filters, sort: Sort, limit: int, offset: int
) -> dict[str, Any]:
    engine = service.engine
    total, picked = engine.store.current_page(engine.scorecard.name, filters, sort, limit, offset)
    columns = [c for c in SUMMARY if c in picked.columns]
    return {"total": total, "limit": limit, "offset": offset,
            "items": records(picked[columns])}  # fmt: skip


@router.get("/accounts")
def list_accounts(
    _: Viewer,
    service: ServiceDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Every scored account's current score, by account id."""
    return _page(service, Filters(), "account_id", limit, offset)


@router.get("/scores")
def list_scores(
    _: Viewer,
    service: ServiceDep,
    tier: str | None = None,
    segment: str | None = None,
    owner: str | None = None,
    min_score: Annotated[float | None, Query(ge=0, le=100)] = None,
    max_score: Annotated[float | None, Query(ge=0, le=100)] = None,
    sort: Sort = "score",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Current scores filtered by tier, segment, owner and score range; lowest score
    first by default, or most revenue at risk first."""
    filters = Filters(tier, segment, owner, min_score, max_score)
    return _page(service, filters, sort, limit, offset)


def _history(service: Service, account_id: str) -> pd.DataFrame:
    rows = service.engine.history(account_id)
    if rows.empty:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no scores for account '{account_id}'")
    return rows


@router.get("/accounts/{account_id}")
def get_account(account_id: str, _: Viewer, service: ServiceDep) -> dict[str, Any]:
    """The account's current score, tier, trend, reasons, sub-scores and override."""
    engine = service.engine
    row = engine.store.current_page(engine.scorecard.name, Filters(accounts=(account_id,)))[1]
    if row.empty:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no scores for account '{account_id}'")
    return account_row(records(row)[0])


@router.get("/accounts/{account_id}/history")
def account_history(account_id: str, _: Viewer, service: ServiceDep) -> dict[str, Any]:
    """Every stored score of the account, oldest first, with the scorecard version."""
    rows = _history(service, account_id)
    columns = [c for c in (*SUMMARY, "run_id", "computed_score", "override_reason") if c in rows]
    return {"account_id": account_id, "items": records(rows[columns])}


@router.get("/accounts/{account_id}/explain")
def explain(account_id: str, since: dt.date, _: Viewer, service: ServiceDep) -> dict[str, Any]:
    """What moved the score since a date, in points per measure."""
    rows = _history(service, account_id)
    if (rows["as_of"] > pd.Timestamp(since)).sum() == len(rows):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"account '{account_id}' has no stored score on or before {since}",
        )
    result = service.engine.explain(account_id, since)
    out: dict[str, Any] = plain(result.model_dump(mode="json"))
    out["version_changed"] = result.version_changed
    return out
