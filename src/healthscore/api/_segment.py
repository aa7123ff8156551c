"""Segment calls (its spec: track, identify, group) as rows of the data contract.

`map_call` maps one call; `fill_accounts` gives track rows without an account the one
their user has in identities; the route writes. Field names follow Segment's common
fields: `messageId`, `userId`, `timestamp` (else `originalTimestamp`, else `receivedAt`),
`context.groupId` (the account a non-group call belongs to).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from healthscore.compute._ingest_checks import exists


class SegmentCall(BaseModel):
    """One call of Segment's spec; fields not used here are allowed and ignored."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    type: str | None = None
    message_id: str | int | None = Field(default=None, alias="messageId")
    user_id: str | int | None = Field(default=None, alias="userId")
    group_id: str | int | None = Field(default=None, alias="groupId")
    event: str | None = None
    timestamp: str | None = None
    original_timestamp: str | None = Field(default=None, alias="originalTimestamp")
    received_at: str | None = Field(default=None, alias="receivedAt")
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = None
    context: dict[str, Any] | None = None


class SegmentBatch(BaseModel):
    """Segment's HTTP API batch: calls, and a context shared by them."""

    model_config = ConfigDict(extra="allow")
    batch: list[Any] = Field(min_length=1)
    context: dict[str, Any] | None = None


@dataclass
class Mapped:
    """A call as a row of `table`, or (table None) rejected with `reason` before any table.

    `hint` is the answer for a track row that still has no account after identities.
    """

    message_id: str | None
    type: str | None
    table: str | None = None
    row: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    hint: str | None = None


def map_call(raw: object, shared_context: Mapping[str, Any] | None = None) -> Mapped:
    """One raw call as a row (see `Mapped`); never raises on bad input."""
    if not isinstance(raw, Mapping):
        return Mapped(None, None, reason=f"a call must be a JSON object. Got {_kind(raw)}")
    message_id = raw.get("messageId")
    kind = raw.get("type")
    shown_id = None if message_id is None else _text(message_id)
    shown_type = kind if isinstance(kind, str) else None
    try:
        call = SegmentCall.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors(include_url=False)
        )
        return Mapped(
            shown_id, shown_type, reason=f"the call does not follow Segment's spec: {problems}"
        )
    context = {**(shared_context or {}), **(call.context or {})}
    user = _text(call.user_id)
    match call.type:
        case "track":
            properties = call.properties or {}
            account = _text(context.get("groupId")) or _text(properties.get("account_id"))
            value = properties.get("value")
            row = {
                "event_id": shown_id,
                "account_id": account,
                "user_id": user,
                "ts": call.timestamp or call.original_timestamp or call.received_at,
                "type": call.event,
                "value": value if _number(value) else None,
            }
            hint = "missing account_id: the call has no context.groupId or properties.account_id"
            if user:
                hint += f", and no identities row links user '{user}' to one account"
            return Mapped(shown_id, "track", "events", row, hint=hint)
        case "identify":
            traits = call.traits or {}
            account = _text(traits.get("account_id")) or _text(context.get("groupId"))
            if account is None:
                return Mapped(
                    shown_id,
                    "identify",
                    reason="the identify call names no account: set traits.account_id or "
                    "context.groupId (or send a group call); nothing was stored",
                )
            email = traits.get("email")
            row = {"user_id": user, "account_id": account, "email": _text(email)}
            return Mapped(shown_id, "identify", "identities", row)
        case "group":
            row = {"user_id": user, "account_id": _text(call.group_id)}
            return Mapped(shown_id, "group", "identities", row)
        case None:
            return Mapped(shown_id, None, reason="the call has no type: track, identify or group")
        case other:
            return Mapped(
                shown_id,
                shown_type,
                reason=f"Segment '{other}' calls are not taken. Taken: track, identify, group",
            )


def fill_accounts(con: duckdb.DuckDBPyConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Give rows without an account the account of their user_id in identities (when it
    names exactly one)."""
    users = sorted({str(r["user_id"]) for r in rows if not r["account_id"] and r["user_id"]})
    if not users:
        return
    with con.cursor() as cursor:
        if "user_id" not in _column_names(cursor, "identities"):
            return
        found = dict(
            cursor.execute(
                "SELECT CAST(user_id AS VARCHAR), min(CAST(account_id AS VARCHAR)) "
                "FROM identities WHERE CAST(user_id AS VARCHAR) IN "
                "(SELECT unnest(?::VARCHAR[])) GROUP BY 1 HAVING count(DISTINCT account_id) = 1",
                [users],
            ).fetchall()
        )
    for row in rows:
        if not row["account_id"] and row["user_id"] in found:
            row["account_id"] = found[row["user_id"]]


def _text(value: object) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _kind(value: object) -> str:
    return {list: "a list", str: "a string", type(None): "null"}.get(type(value), "a value")


def _column_names(cursor: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return set(cursor.table(table).columns) if exists(cursor, table) else set()
