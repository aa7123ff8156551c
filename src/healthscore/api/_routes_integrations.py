"""Intake adapters: Stripe webhooks and Segment calls, mapped onto the data contract.

Both write through `ingest_rows` (contract checks, rejects table, dedupe by row id), so
a replay counts once, and rescore the accounts of accepted rows like POST /v1/events.
The one write beside it: a Stripe subscription already stored is changed in place (its
end date, price and plan), because the contract keeps one row per subscription and
`active_subscriptions` counts rows without an end.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Annotated, Any

import duckdb
import stripe
from fastapi import APIRouter, Body, Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from healthscore.api import _segment, _stripe
from healthscore.api._auth import actor, require, service_of
from healthscore.api._service import Service
from healthscore.compute._contract import CONTRACTS
from healthscore.compute._ingest import IngestError, RowResult, Status, ingest_rows
from healthscore.compute._ingest_checks import (
    REJECTS_TABLE,
    exists,
    utc_naive,
    write_transaction,
)
from healthscore.store._keys import ApiKey
from healthscore.store._overrides import audit

router = APIRouter(prefix="/v1/integrations", tags=["integrations"])
Editor = Annotated[ApiKey, Depends(require("editor"))]
ServiceDep = Annotated[Service, Depends(service_of)]

SECRET_VARIABLE = "HEALTHSCORE_STRIPE_WEBHOOK_SECRET"
# The columns of a table the intake creates; a stored table takes every column of a row it
# has (so also currency, plan, product or email when it keeps them).
_BASE = {
    "invoices": ("invoice_id", "account_id", "ts", "amount", "status"),
    "subscriptions": ("subscription_id", "account_id", "start_date", "end_date", "mrr"),
    "events": ("event_id", "account_id", "user_id", "ts", "type", "value"),
    "identities": ("user_id", "account_id"),
}


class StripeAnswer(BaseModel):
    event_id: str
    type: str
    status: str  # accepted, duplicate, rejected, ignored
    reason: str | None = None
    table: str | None = None
    row_id: str | None = None
    account_id: str | None = None
    ignored: str | None = None


class CallResult(BaseModel):
    message_id: str | None
    type: str | None
    status: str  # accepted, duplicate, rejected
    reason: str | None


class SegmentAnswer(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[CallResult]


# Stripe signs the body and sends no API key; its format is Stripe's, not this API's, and
# the route answers 503 until a secret is set, so it stays out of the OpenAPI schema.
@router.post(
    "/stripe",
    response_model=StripeAnswer,
    response_model_exclude_none=True,
    include_in_schema=False,
)
async def stripe_webhook(request: Request, service: ServiceDep) -> StripeAnswer:
    """A Stripe webhook event, verified by its `Stripe-Signature`; 200 unless it cannot be
    taken at all (Stripe retries any other answer)."""
    secret = os.environ.get(SECRET_VARIABLE, "").strip()
    if not secret:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"Stripe intake is not configured: set {SECRET_VARIABLE}",
        )
    payload = await request.body()
    try:
        event = stripe.Webhook.construct_event(
            payload, request.headers.get("stripe-signature"), secret
        )
    except stripe.SignatureVerificationError as error:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"the Stripe-Signature does not verify, nothing was stored: {error.user_message}",
        ) from None
    except (ValueError, TypeError, AttributeError) as error:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"the body is not a Stripe event, nothing was stored: {error}",
        ) from None
    values: dict[str, Any] = event.to_dict()
    return await run_in_threadpool(_take_stripe, service, values)


def _take_stripe(service: Service, event: dict[str, Any]) -> StripeAnswer:
    kind, event_id = str(event.get("type")), str(event.get("id"))
    table = _stripe.TABLES.get(kind)
    if table is None:
        return StripeAnswer(event_id=event_id, type=kind, status="ignored", ignored=kind)
    try:
        row = _stripe.invoice_row(event) if table == "invoices" else _stripe.subscription_row(event)
    except (_stripe.StripeEventError, AttributeError, TypeError, ValueError) as error:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"the {kind} event does not have the shape this adapter reads: {error}",
        ) from None
    row_id = str(row[_id_column(table)])
    con = _warehouse(service)
    source = f"POST /v1/integrations/stripe ({event_id})"
    customer = _stripe.customer_of(event["data"]["object"])
    account, why = _stripe.customer_account(con, customer)
    if account is None:
        _reject(con, table, [(1, row, why)], source)
        result = RowResult(id=row_id, status=Status.REJECTED, reason=why)
    else:
        row["account_id"] = account
        found = _stripe.update_subscription(con, row) if table == "subscriptions" else None
        result = found or _intake(con, table, [row], source)[0][0]
    audit(
        service.engine.store.db,
        "stripe",
        f"stripe.{kind}",
        f"{table}:{row_id}",
        {"event_id": event_id, "customer": customer, "account_id": account,
         "status": result.status.value, "reason": result.reason},
    )  # fmt: skip
    if result.status is Status.ACCEPTED and account is not None:
        service.rescorer.request([account])
    return StripeAnswer(
        event_id=event_id,
        type=kind,
        status=result.status.value,
        reason=result.reason,
        table=table,
        row_id=row_id,
        account_id=account,
    )


@router.post("/segment", response_model=SegmentAnswer)
def segment(
    body: Annotated[dict[str, Any], Body()],
    key: Editor,
    service: ServiceDep,
) -> SegmentAnswer:
    """Segment calls (one, or `{"batch": [...]}`): track -> events, identify and group ->
    identities; each call accepted, duplicate or rejected with a reason.

    `{"type": "track", "messageId": "ajs-1", "userId": "u1", "event": "login",
    "timestamp": "2026-07-01T09:30:00Z", "context": {"groupId": "a001"}}`
    """
    calls, shared = _segment_calls(body, service.settings.max_batch)
    mapped = [_segment.map_call(raw, shared) for raw in calls]
    results = {
        index: RowResult(id=call.message_id, status=Status.REJECTED, reason=call.reason)
        for index, call in enumerate(mapped)
        if call.table is None
    }
    con = _warehouse(service)
    source = f"POST /v1/integrations/segment ({key.name})"
    accounts: set[str] = set()
    # Identities first: a track call later in the batch finds a user identified before it.
    for table in ("identities", "events"):
        picked = [i for i, call in enumerate(mapped) if call.table == table]
        if not picked:
            continue
        if table == "events":
            _segment.fill_accounts(con, [mapped[i].row for i in picked])
        answers, touched = _intake(con, table, [mapped[i].row for i in picked], source, picked)
        accounts.update(touched)
        for index, answer in zip(picked, answers, strict=True):
            hint = mapped[index].hint
            missing = answer.reason == "missing account_id" and not mapped[index].row["account_id"]
            reason = hint if missing and hint else answer.reason
            results[index] = RowResult(
                id=mapped[index].message_id, status=answer.status, reason=reason
            )
    done = [results[index] for index in range(len(mapped))]  # each call answered once
    counts = {kind: sum(r.status is kind for r in done) for kind in Status}
    audit(
        service.engine.store.db,
        actor(key),
        "segment.ingest",
        "integrations:segment",
        {"accepted": counts[Status.ACCEPTED], "duplicates": counts[Status.DUPLICATE],
         "rejected": counts[Status.REJECTED]},
    )  # fmt: skip
    service.rescorer.request(sorted(accounts))
    return SegmentAnswer(
        accepted=counts[Status.ACCEPTED],
        duplicates=counts[Status.DUPLICATE],
        rejected=counts[Status.REJECTED],
        results=[
            CallResult(message_id=r.id, type=m.type, status=r.status.value, reason=r.reason)
            for r, m in zip(done, mapped, strict=True)
        ],
    )


def _segment_calls(body: dict[str, Any], limit: int) -> tuple[list[Any], dict[str, Any]]:
    if "batch" not in body:
        return [body], {}
    try:
        batch = _segment.SegmentBatch.model_validate(body)
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
        ) from None
    if len(batch.batch) > limit:
        raise RequestValidationError(
            [{"type": "too_long", "loc": ("body", "batch"), "input": None,
              "msg": f"a batch holds at most {limit:,} calls. Got {len(batch.batch):,}; split it"}]
        )  # fmt: skip
    return batch.batch, batch.context or {}


def _warehouse(service: Service) -> duckdb.DuckDBPyConnection:
    raw = getattr(service.engine.con, "con", None)
    if raw is None:
        raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, "intake needs the DuckDB warehouse")
    found: duckdb.DuckDBPyConnection = raw
    return found


def _id_column(table: str) -> str:
    return _BASE[table][0]


def _columns(cursor: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """The stored table's columns and their types; empty when there is no such table."""
    if not exists(cursor, table):
        return {}
    stored = cursor.table(table)
    return {c: str(t) for c, t in zip(stored.columns, stored.types, strict=True)}


def _intake(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: Sequence[dict[str, Any]],
    source: str,
    numbers: Sequence[int] | None = None,
) -> tuple[list[RowResult], list[str]]:
    """`rows` through `ingest_rows`, fitted to the stored table; a value the table cannot
    hold rejects its row (with a suggestion) instead of the whole request."""
    with con.cursor() as cursor:
        stored = _columns(cursor, table)
        fitted = [_fit(table, row, stored) for row in rows]
        misfits = _misfits(cursor, table, fitted, stored)
    id_column = _id_column(table)
    answers: list[RowResult | None] = [None] * len(rows)
    if misfits:
        number = list(numbers or range(len(rows)))
        _reject(con, table, [(number[i] + 1, fitted[i], why) for i, why in misfits.items()], source)
        for i, why in misfits.items():
            answers[i] = RowResult(
                id=_shown(fitted[i].get(id_column)), status=Status.REJECTED, reason=why
            )
    kept = [i for i in range(len(rows)) if i not in misfits]
    accounts: list[str] = []
    if kept:
        try:
            result = ingest_rows(con, table, [fitted[i] for i in kept], source=source)
        except (duckdb.ConversionException, IngestError) as error:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"the rows do not fit the {table} table, none of them was stored: {error}",
            ) from None
        for i, answer in zip(kept, result.statuses, strict=True):
            answers[i] = answer
        accounts = result.accounts
    return [a for a in answers if a is not None], accounts


def _fit(table: str, row: dict[str, Any], stored: dict[str, str]) -> dict[str, Any]:
    """The row's columns the table takes: its stored ones, or the base ones of a new table."""
    if stored:
        return {c: v for c, v in row.items() if c in stored}
    return {c: v for c, v in row.items() if c in _BASE[table]}


def _misfits(
    cursor: duckdb.DuckDBPyConnection,
    table: str,
    rows: Sequence[dict[str, Any]],
    stored: dict[str, str],
) -> dict[int, str]:
    """Rows with a value their stored column's type cannot hold (text ids in a numbered
    column), by index. Times and numbers are the contract's checks, not these."""
    contract = CONTRACTS[table]
    typed = {*contract.temporal, *contract.numeric}
    found: dict[int, str] = {}
    for column, kind in stored.items():
        if column in typed or kind == "VARCHAR":
            continue
        values = sorted({str(r[column]) for r in rows if r.get(column) is not None})
        if not values:
            continue
        failing = {
            value
            for (value,) in cursor.execute(
                "SELECT v FROM (SELECT unnest(?::VARCHAR[]) AS v) "
                f"WHERE TRY_CAST(v AS {kind}) IS NULL",
                [values],
            ).fetchall()
        }
        for index, row in enumerate(rows):
            value = row.get(column)
            if index not in found and value is not None and str(value) in failing:
                found[index] = (
                    f"{column} '{value}' does not fit the {table} table's {kind} column "
                    f"{column}. Suggestion: store {column} as VARCHAR"
                )
    return found


def _reject(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: Sequence[tuple[int, dict[str, Any], str | None]],
    source: str,
) -> None:
    """Rejected rows (input row number, row, reason) into the rejects table, as ingest does."""
    now = utc_naive(None)

    def work(cursor: duckdb.DuckDBPyConnection) -> None:
        cursor.executemany(
            f"INSERT INTO {REJECTS_TABLE} VALUES (?, ?, ?, ?, ?, ?)",
            [
                [now, table, source, number, reason, json.dumps(row, default=str)]
                for number, row, reason in rows
            ],
        )

    write_transaction(con, table, work)


def _shown(value: object) -> str | None:
    return None if value is None else str(value)
