"""The data contract: the columns each logical table has, and which one stamps time."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableContract:
    name: str
    key: str  # the column that ties a row to an account
    time: str | None  # the column compared with as_of
    required: tuple[str, ...]
    numeric: tuple[str, ...] = ()
    temporal: tuple[str, ...] = ()


CONTRACTS: dict[str, TableContract] = {
    contract.name: contract
    for contract in (
        TableContract(
            "accounts",
            "account_id",
            "created_at",
            ("account_id",),
            numeric=("arr", "mrr", "seats"),
            temporal=("created_at", "renewal_date"),
        ),
        TableContract(
            "events",
            "account_id",
            "ts",
            ("account_id", "ts", "type"),
            numeric=("value",),
            temporal=("ts",),
        ),
        TableContract("identities", "account_id", None, ("user_id", "account_id")),
        TableContract(
            "subscriptions",
            "account_id",
            "start_date",
            ("account_id", "start_date"),
            numeric=("mrr",),
            temporal=("start_date", "end_date"),
        ),
        TableContract(
            "orders",
            "account_id",
            "ts",
            ("account_id", "ts", "amount"),
            numeric=("amount",),
            temporal=("ts",),
        ),
        TableContract(
            "invoices",
            "account_id",
            "ts",
            ("account_id", "ts", "amount", "status"),
            numeric=("amount",),
            temporal=("ts",),
        ),
        TableContract(
            "tickets",
            "account_id",
            "opened_at",
            ("account_id", "opened_at"),
            numeric=("csat",),
            temporal=("opened_at", "closed_at"),
        ),
        TableContract(
            "surveys",
            "account_id",
            "ts",
            ("account_id", "ts", "kind", "score"),
            numeric=("score",),
            temporal=("ts",),
        ),
        TableContract(
            "outcomes", "account_id", "ts", ("account_id", "ts", "kind"), temporal=("ts",)
        ),
    )
}
