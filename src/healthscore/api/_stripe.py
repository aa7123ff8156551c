"""Stripe events as rows of the data contract: invoices and subscriptions, money in units.

`invoice_row` / `subscription_row` map an event; `customer_account` finds the account of
a Stripe customer; `update_subscription` changes a stored subscription in place. The
route verifies the signature and writes new rows through `ingest_rows`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import duckdb

from healthscore.compute._ingest import RowResult, Status
from healthscore.compute._ingest_checks import exists, quote, write_transaction

# The event types taken, and the contract table each one writes.
TABLES: dict[str, str] = {
    "invoice.payment_failed": "invoices",
    "invoice.paid": "invoices",
    "customer.subscription.created": "subscriptions",
    "customer.subscription.updated": "subscriptions",
    "customer.subscription.deleted": "subscriptions",
}
# Stripe amounts are in the currency's smallest unit; most have 100 of them.
_ZERO_DECIMAL = frozenset(
    ("bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
     "xaf", "xof", "xpf")
)  # fmt: skip
_THREE_DECIMAL = frozenset(("bhd", "jod", "kwd", "omr", "tnd"))
_PER_MONTH = {"day": 365 / 12, "week": 52 / 12, "month": 1.0, "year": 1 / 12}


class StripeEventError(ValueError):
    """A signed event that lacks what its type promises (a Stripe API change, or a fake)."""


def customer_of(item: Mapping[str, Any]) -> str | None:
    """The customer id of an invoice or subscription (a string, or an expanded object)."""
    customer = item.get("customer")
    if isinstance(customer, Mapping):
        customer = customer.get("id")
    return str(customer) if customer else None


def to_units(amount: float | None, currency: str | None) -> float | None:
    """Stripe's smallest-unit amount in currency units: 1234 usd -> 12.34, 1234 jpy -> 1234."""
    if amount is None:
        return None
    code = (currency or "").lower()
    divisor = 1 if code in _ZERO_DECIMAL else 1000 if code in _THREE_DECIMAL else 100
    return round(float(amount) / divisor, 6)


def invoice_row(event: Mapping[str, Any]) -> dict[str, Any]:
    """The `invoices` row of invoice.payment_failed / invoice.paid (no account yet).

    The row id is `<invoice id>:failed` or `<invoice id>:paid`: a replayed event, and
    Stripe's own retries of one unpaid invoice, are one failed invoice, as in the contract
    (one row per invoice and outcome), so `failed_payments_90d` counts invoices.
    """
    invoice = _object(event)
    failed = event.get("type") == "invoice.payment_failed"
    status = "failed" if failed else "paid"
    currency = invoice.get("currency")
    paid_at = (invoice.get("status_transitions") or {}).get("paid_at")
    # A failure is stamped when Stripe reported it; a payment when it was made.
    when = event.get("created") if failed else paid_at or event.get("created")
    return {
        "invoice_id": f"{_id(invoice)}:{status}",
        "account_id": None,
        "ts": _iso(when),
        "amount": to_units(invoice.get("amount_due" if failed else "amount_paid"), currency),
        "status": status,
        "currency": currency.upper() if isinstance(currency, str) else None,
    }


def subscription_row(event: Mapping[str, Any]) -> dict[str, Any]:
    """The `subscriptions` row of a customer.subscription.* event (no account yet).

    `end_date` is the day it ended (`ended_at`; for a deletion without one, the event's
    day). A scheduled cancellation (`cancel_at`) is not an end until it happens.
    """
    sub = _object(event)
    ended = sub.get("ended_at")
    if ended is None and event.get("type") == "customer.subscription.deleted":
        ended = event.get("created")
    price = _first_price(sub)
    return {
        "subscription_id": _id(sub),
        "account_id": None,
        "start_date": _day(sub.get("start_date") or sub.get("created")),
        "end_date": _day(ended),
        "mrr": monthly_amount(sub),
        "plan": price.get("nickname") or price.get("id"),
        "product": _product(price),
    }


def monthly_amount(sub: Mapping[str, Any]) -> float | None:
    """The subscription's list price per month in currency units; None when not fixed.

    Each item's unit price x quantity, scaled from its interval to a month. Tiered or
    metered prices (no unit amount) leave it unknown rather than understated; discounts
    and taxes are not taken off.
    """
    items = (sub.get("items") or {}).get("data") or []
    if not items:
        return None
    total, currency = 0.0, sub.get("currency")
    for item in items:
        price = item.get("price") or item.get("plan") or {}
        amount = price.get("unit_amount", price.get("amount"))
        if amount is None and price.get("unit_amount_decimal") is not None:
            amount = float(price["unit_amount_decimal"])
        recurring = price.get("recurring") or price  # legacy plans carry the interval
        interval = recurring.get("interval")
        if amount is None or interval not in _PER_MONTH:
            return None
        count = recurring.get("interval_count") or 1
        total += float(amount) * (item.get("quantity") or 1) * _PER_MONTH[interval] / count
        currency = currency or price.get("currency")
    return to_units(total, currency)


def customer_account(
    con: duckdb.DuckDBPyConnection, customer: str | None
) -> tuple[str | None, str | None]:
    """The account of a Stripe customer (or None and why): `accounts.stripe_customer_id`
    when that column exists, else the identities row whose user_id is the customer id."""
    if customer is None:
        return None, "the event names no Stripe customer"
    with con.cursor() as cursor:
        if "stripe_customer_id" in _column_names(cursor, "accounts"):
            where = "accounts.stripe_customer_id"
            query = (
                "SELECT DISTINCT CAST(account_id AS VARCHAR) FROM accounts "
                "WHERE CAST(stripe_customer_id AS VARCHAR) = ?"
            )
        elif exists(cursor, "identities"):
            where = "identities.user_id"
            query = (
                "SELECT DISTINCT CAST(account_id AS VARCHAR) FROM identities "
                "WHERE CAST(user_id AS VARCHAR) = ?"
            )
        else:
            where, query = "identities (no such table)", ""
        found = sorted(a for (a,) in cursor.execute(query, [customer]).fetchall()) if query else []
    if len(found) == 1:
        return found[0], None
    if found:
        return (
            None,
            f"Stripe customer '{customer}' maps to {len(found)} accounts in {where}: "
            + ", ".join(found),
        )
    return None, (
        f"unknown Stripe customer '{customer}': not in {where}. Suggestion: add a "
        f"stripe_customer_id column to accounts, or an identities row with user_id "
        f"'{customer}' and its account_id"
    )


def update_subscription(con: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> RowResult | None:
    """Change a stored subscription in place; None when it is not stored yet.

    An end date, once passed, is final (Stripe never restarts a canceled subscription), so
    a late or replayed event cannot revive it; an event that changes nothing is a duplicate.
    """
    sub_id = str(row["subscription_id"])
    where = "CAST(subscription_id AS VARCHAR) = ?"

    def work(cursor: duckdb.DuckDBPyConnection) -> RowResult | None:
        stored = _column_names(cursor, "subscriptions")
        if "subscription_id" not in stored or "end_date" not in stored:
            return None
        ends = cursor.execute(
            f"SELECT CAST(end_date AS DATE) FROM subscriptions WHERE {where}", [sub_id]
        ).fetchall()
        if not ends:
            return None
        today = dt.datetime.now(dt.UTC).date()
        ended = [end for (end,) in ends if end is not None and end <= today]
        if ended:
            return RowResult(sub_id, Status.DUPLICATE, f"it ended on {max(ended)} already")
        new = {c: row[c] for c in ("end_date", "mrr", "plan", "product") if c in stored}
        new = {c: v for c, v in new.items() if v is not None}
        if "end_date" in new:
            new["end_date"] = dt.date.fromisoformat(new["end_date"])
        if not new:
            return RowResult(sub_id, Status.DUPLICATE, "nothing changed")
        values = list(new.values())
        changed = cursor.execute(
            f"UPDATE subscriptions SET {', '.join(f'{quote(c)} = ?' for c in new)} "
            f"WHERE {where} AND ("
            + " OR ".join(f"{quote(c)} IS DISTINCT FROM ?" for c in new)
            + ")",
            [*values, sub_id, *values],
        ).fetchone()
        if changed and changed[0]:
            return RowResult(sub_id, Status.ACCEPTED, None)
        return RowResult(sub_id, Status.DUPLICATE, "nothing changed")

    return write_transaction(con, "subscriptions", work)


def _object(event: Mapping[str, Any]) -> Mapping[str, Any]:
    found = (event.get("data") or {}).get("object")
    if not isinstance(found, Mapping):
        raise StripeEventError(f"the {event.get('type')} event has no data.object")
    return found


def _id(item: Mapping[str, Any]) -> str:
    found = item.get("id")
    if not found:
        raise StripeEventError(f"the event's {item.get('object', 'object')} has no id")
    return str(found)


def _first_price(sub: Mapping[str, Any]) -> Mapping[str, Any]:
    items = (sub.get("items") or {}).get("data") or []
    if not items:
        return {}
    price = items[0].get("price") or items[0].get("plan") or {}
    return price if isinstance(price, Mapping) else {}


def _product(price: Mapping[str, Any]) -> str | None:
    product = price.get("product")
    if isinstance(product, Mapping):
        product = product.get("id")
    return str(product) if product else None


def _moment(seconds: object) -> dt.datetime | None:
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def _iso(seconds: object) -> str | None:
    moment = _moment(seconds)
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _day(seconds: object) -> str | None:
    moment = _moment(seconds)
    return None if moment is None else moment.date().isoformat()


def _column_names(cursor: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return set(cursor.table(table).columns) if exists(cursor, table) else set()
