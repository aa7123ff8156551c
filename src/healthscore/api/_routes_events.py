"""POST /v1/events: per-event answers, durable before the response, then rescoring."""

from __future__ import annotations

from typing import Annotated, Any

import duckdb
from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from healthscore.api._auth import actor, require, service_of
from healthscore.api._service import Service
from healthscore.compute._ingest import IngestError, ingest_rows
from healthscore.store._keys import ApiKey
from healthscore.store._overrides import audit

router = APIRouter(prefix="/v1", tags=["events"])
Editor = Annotated[ApiKey, Depends(require("editor"))]
ServiceDep = Annotated[Service, Depends(service_of)]


class Event(BaseModel):
    """One product event. Missing or bad values are answered per event, not with a 422."""

    model_config = ConfigDict(extra="ignore")
    event_id: str | int | None = Field(default=None, description="Unique; repeats count once.")
    account_id: str | int | None = None
    user_id: str | int | None = None
    ts: str | None = Field(default=None, description="ISO-8601, e.g. 2026-07-01T09:30:00Z.")
    type: str | None = None
    value: float | None = None


class EventBatch(BaseModel):
    events: list[Event] = Field(min_length=1)


def _shape(body: Any) -> str:
    return "batch" if isinstance(body, dict) and "events" in body else "event"


# A body with "events" is a batch, whatever else fails in it: without the discriminator a
# batch of the wrong type fell back to an empty single event (200, "missing account_id").
EventBody = Annotated[
    Annotated[EventBatch, Tag("batch")] | Annotated[Event, Tag("event")], Discriminator(_shape)
]


class EventResult(BaseModel):
    event_id: str | None
    status: str  # accepted, duplicate, rejected
    reason: str | None


class EventsAnswer(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[EventResult]


@router.post("/events", response_model=EventsAnswer)
def post_events(body: EventBody, key: Editor, service: ServiceDep) -> EventsAnswer:
    """One event or a batch: each accepted, duplicate or rejected with a reason. Accepted
    events are committed before the answer; their accounts are then rescored."""
    events = body.events if isinstance(body, EventBatch) else [body]
    limit = service.settings.max_batch
    if len(events) > limit:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"a batch holds at most {limit:,} events. Got {len(events):,}; split it",
        )
    rows = [
        {name: value for name, value in event.model_dump().items() if value is not None}
        for event in events
    ]
    engine = service.engine
    raw = getattr(engine.con, "con", None)
    if raw is None:
        raise HTTPException(
            status.HTTP_501_NOT_IMPLEMENTED, "event intake needs the DuckDB warehouse"
        )
    try:
        result = ingest_rows(raw, "events", rows, source=f"POST /v1/events ({key.name})")
    except (duckdb.ConversionException, IngestError) as error:
        # A value the stored column cannot hold (e.g. text ids for numbered events):
        # nothing of the batch was written.
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"the batch does not fit the events table, nothing was stored: {error}",
        ) from None
    # The events are committed: their rescore may start while the audit row is written.
    service.rescorer.request(result.accounts)
    audit(
        engine.store.db,
        actor(key),
        "events.ingest",
        "table:events",
        {"accepted": result.accepted, "duplicates": result.duplicates,
         "rejected": result.rejected},
    )  # fmt: skip
    return EventsAnswer(
        accepted=result.accepted,
        duplicates=result.duplicates,
        rejected=result.rejected,
        results=[
            EventResult(event_id=row.id, status=str(row.status.value), reason=row.reason)
            for row in result.statuses
        ],
    )
