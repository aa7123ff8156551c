"""Writing and operating: overrides, tasks, runs, scorecards, health and readiness."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, Field

from healthscore.api._auth import actor, require, service_of
from healthscore.api._json import records
from healthscore.api._service import Service
from healthscore.store import OverrideError
from healthscore.store._keys import ApiKey

router = APIRouter(prefix="/v1", tags=["operations"])
Viewer = Annotated[ApiKey, Depends(require("viewer"))]
Editor = Annotated[ApiKey, Depends(require("editor"))]
Admin = Annotated[ApiKey, Depends(require("admin"))]
ServiceDep = Annotated[Service, Depends(service_of)]


class OverrideIn(BaseModel):
    score: float | None = Field(default=None, ge=0, le=100)
    tier: str | None = None
    reason: str = Field(min_length=1, max_length=2000)
    until: dt.date


class TaskPatch(BaseModel):
    status: Literal["open", "done", "dismissed"]
    note: str | None = Field(default=None, max_length=2000)


@router.get("/health", tags=["service"])
def health() -> dict[str, str]:
    """Liveness: the process answers (no key needed)."""
    return {"status": "ok"}


@router.get("/ready", tags=["service"])
def ready(_: Viewer, service: ServiceDep) -> dict[str, Any]:
    """Readiness: the store answers and a live run exists; plus the workers' state."""
    engine = service.engine
    latest = engine.store.latest_run(engine.scorecard.name)
    return {"ready": latest is not None, "latest_run": latest, **service.status()}


@router.post("/accounts/{account_id}/override", status_code=status.HTTP_201_CREATED)
def set_override(
    account_id: str, body: OverrideIn, key: Editor, service: ServiceDep
) -> dict[str, Any]:
    """Set the account's final score and/or tier until a date (audited)."""
    try:
        made = service.call(
            lambda engine: engine.override(
                account_id,
                score=body.score,
                tier=body.tier,
                reason=body.reason,
                by=actor(key),
                until=body.until,
            )
        )
    except OverrideError as error:
        code = status.HTTP_404_NOT_FOUND if "unknown account" in str(error) else 422
        raise HTTPException(code, str(error)) from None
    service.rescorer.request([account_id])  # the override shows on the next stored row
    return {"override_id": made, "account_id": account_id}


@router.delete("/accounts/{account_id}/override")
def revoke_override(account_id: str, key: Editor, service: ServiceDep) -> dict[str, Any]:
    """End the account's active override now (audited)."""
    ended = service.engine.revoke_override(account_id, actor(key))
    if not ended:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"'{account_id}' has no active override")
    service.rescorer.request([account_id])
    return {"revoked": ended}


@router.get("/tasks")
def list_tasks(
    _: Viewer,
    service: ServiceDep,
    status_: Annotated[Literal["open", "done", "dismissed", "all"], Query(alias="status")] = "open",
    owner: str | None = None,
    account_id: str | None = None,
) -> dict[str, Any]:
    """Tasks the playbooks created, earliest due first."""
    frame = service.engine.tasks(None if status_ == "all" else status_, owner, account_id)
    return {"items": records(frame)}


@router.patch("/tasks/{task_id}")
def update_task(task_id: str, body: TaskPatch, key: Editor, service: ServiceDep) -> dict[str, Any]:
    """Mark a task done, dismissed or open again (audited)."""
    found = service.engine.tasks(None)
    if task_id not in set(found["task_id"]):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown task '{task_id}'")
    service.engine.update_task(task_id, body.status, actor(key), body.note)
    return {"task_id": task_id, "status": body.status}


@router.get("/runs")
def list_runs(
    _: Viewer, service: ServiceDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> dict[str, Any]:
    """Runs, newest first: full runs and account rescorings, with their status."""
    return {"items": records(service.engine.store.runs(service.engine.scorecard.name, limit))}


@router.post("/runs", status_code=status.HTTP_202_ACCEPTED)
def start_run(key: Admin, service: ServiceDep, response: Response) -> dict[str, Any]:
    """Start a full rescore of every account in the background (never two at once)."""
    if not service.start_batch(actor(key)):
        response.status_code = status.HTTP_409_CONFLICT
        return {"started": False, "reason": "a batch run is already going"}
    return {"started": True}


@router.get("/scorecards")
def scorecards(_: Viewer, service: ServiceDep) -> dict[str, Any]:
    """The live scorecard and every version seen in stored runs."""
    card = service.engine.scorecard
    return {
        "live": {"name": card.name, "version": card.version, "hash": card.hash},
        "versions": records(service.engine.store.versions()),
    }
