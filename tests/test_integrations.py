"""Stripe webhooks and Segment calls through HTTP: signatures, the mapping onto the data
contract, replays counted once, per-call answers, and the metrics they move."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest
import stripe
from fastapi.testclient import TestClient

from healthscore.api import ServiceSettings, create_app
from healthscore.api._routes_integrations import SECRET_VARIABLE, _intake
from healthscore.api._stripe import customer_account, monthly_amount, to_units
from tests.conftest import AS_OF, toy_frames
from tests.test_api import Api, project

SECRET = "whsec_test_secret"
STRIPE = "/v1/integrations/stripe"
SEGMENT = "/v1/integrations/segment"
_numbers = itertools.count(1)


def _customers() -> tuple[str, str]:
    """Two accounts scored at AS_OF whose one subscription is still running."""
    frames = toy_frames()
    subs = frames["subscriptions"]
    created = frames["accounts"].set_index("account_id")["created_at"]
    running = sorted(
        account
        for account, end in zip(subs["account_id"], subs["end_date"], strict=True)
        if end is None and created[account] < dt.datetime(2026, 5, 1)
    )
    return running[0], running[1]


BILLED, SUBSCRIBED = _customers()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    card = project(tmp_path_factory.mktemp("integrations"))
    with duckdb.connect(str(card.parent / "healthscore.duckdb")) as con:
        # Stripe and Segment ids are text; the toy tables number their events and invoices.
        con.execute("ALTER TABLE events ALTER event_id TYPE VARCHAR")
        con.execute("ALTER TABLE invoices ALTER invoice_id TYPE VARCHAR")
        # No stripe_customer_id column in accounts: customers map through identities.
        con.execute("CREATE TABLE identities (user_id VARCHAR, account_id VARCHAR)")
        con.execute(
            "INSERT INTO identities VALUES (?, ?), (?, ?)",
            [f"cus_{BILLED}", BILLED, f"cus_{SUBSCRIBED}", SUBSCRIBED],
        )
    with TestClient(create_app(ServiceSettings(scorecard=card))) as client:
        state = Api(client)
        state.service.call(lambda engine: engine.run(as_of=AS_OF))
        yield state


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(SECRET_VARIABLE, SECRET)
    return SECRET


def query(api: Api, sql: str, *params: object) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = api.service.call(
        lambda engine: engine.con.con.execute(sql, list(params)).fetchall()
    )
    return rows


def metrics(api: Api, account: str) -> dict[str, Any]:
    """The account's metrics after every pending rescore."""
    assert api.service.rescorer.flush()
    found: dict[str, Any] = api("GET", f"/v1/accounts/{account}").json()["metrics"]
    return found


def rescored(api: Api, account: str) -> dict[str, Any]:
    """The account rescored as of tomorrow, like an event would: the baseline to compare."""
    api.service.rescorer.request([account])
    return metrics(api, account)


def event(kind: str, item: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    number = next(_numbers)
    return {
        "id": event_id or f"evt_test{number}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()) - 60,
        "livemode": False,
        "type": kind,
        "data": {"object": item},
    }


def invoice(invoice_id: str, customer: str, cents: int, paid: bool) -> dict[str, Any]:
    now = int(time.time())
    return {
        "id": invoice_id,
        "object": "invoice",
        "customer": customer,
        "currency": "usd",
        "amount_due": cents,
        "amount_paid": cents if paid else 0,
        "status": "paid" if paid else "open",
        "due_date": now + 86_400,
        "status_transitions": {"paid_at": now - 120 if paid else None},
    }


def subscription(
    sub_id: str, customer: str, cents: int, interval: str = "month", ended: bool = False
) -> dict[str, Any]:
    now = int(time.time())
    return {
        "id": sub_id,
        "object": "subscription",
        "customer": customer,
        "currency": "usd",
        "status": "canceled" if ended else "active",
        "start_date": now - 3_600,
        "ended_at": now - 60 if ended else None,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": f"si_{sub_id}",
                    "object": "subscription_item",
                    "quantity": 2,
                    "price": {
                        "id": "price_pro",
                        "object": "price",
                        "nickname": "Pro",
                        "product": "prod_core",
                        "currency": "usd",
                        "unit_amount": cents,
                        "recurring": {"interval": interval, "interval_count": 1},
                    },
                }
            ],
        },
    }


def send(api: Api, body: dict[str, Any], secret: str = SECRET, **headers: str) -> Any:
    """POST a Stripe event signed the way Stripe signs it (t=..., v1=HMAC-SHA256)."""
    payload = json.dumps(body)
    signature = stripe.WebhookSignature.generate_signature_header(payload, secret)
    sent = {"Content-Type": "application/json", "Stripe-Signature": signature, **headers}
    return api.client.post(STRIPE, content=payload, headers=sent)


def stored_invoices(api: Api, invoice_id: str) -> list[tuple[Any, ...]]:
    return query(
        api,
        "SELECT account_id, amount, status FROM invoices WHERE invoice_id = ? ORDER BY status",
        invoice_id,
    )


def rejects(api: Api, source: str) -> int:
    found = query(api, "SELECT count(*) FROM healthscore_rejects WHERE file LIKE ?", f"{source}%")
    return int(found[0][0])


def test_a_failed_payment_moves_failed_payments_and_counts_once(api: Api, secret: str) -> None:
    before = rescored(api, BILLED)["failed_payments_90d"]
    failed = event("invoice.payment_failed", invoice("in_fail1", f"cus_{BILLED}", 12_345, False))
    answer = send(api, failed)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["status"], body["table"], body["account_id"]) == ("accepted", "invoices", BILLED)
    assert stored_invoices(api, "in_fail1:failed") == [(BILLED, 123.45, "failed")]
    assert metrics(api, BILLED)["failed_payments_90d"] == before + 1
    # Stripe delivers an event again: a duplicate, stored once.
    again = send(api, failed)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    # Stripe's next automatic attempt fails too: a new event, still one failed invoice.
    retry = event("invoice.payment_failed", invoice("in_fail1", f"cus_{BILLED}", 12_345, False))
    assert send(api, retry).json()["status"] == "duplicate"
    assert stored_invoices(api, "in_fail1:failed") == [(BILLED, 123.45, "failed")]
    assert metrics(api, BILLED)["failed_payments_90d"] == before + 1
    log = api.service.engine.audit_log()
    mine = log[log["action"] == "stripe.invoice.payment_failed"]
    assert len(mine) == 3 and set(mine["actor"]) == {"stripe"}


def test_a_paid_invoice_is_a_paid_row(api: Api, secret: str) -> None:
    before = rescored(api, BILLED)
    paid = event("invoice.paid", invoice("in_paid1", f"cus_{BILLED}", 9_900, True))
    assert send(api, paid).json()["status"] == "accepted"
    assert stored_invoices(api, "in_paid1:paid") == [(BILLED, 99.0, "paid")]
    (stamp,) = query(api, "SELECT ts FROM invoices WHERE invoice_id = 'in_paid1:paid'")[0]
    paid_at = paid["data"]["object"]["status_transitions"]["paid_at"]
    assert stamp == dt.datetime.fromtimestamp(paid_at, dt.UTC).replace(tzinfo=None)
    after = metrics(api, BILLED)
    assert after["invoices_90d"] == before["invoices_90d"] + 1
    assert after["failed_payments_90d"] == before["failed_payments_90d"]


def test_subscriptions_start_change_and_end(api: Api, secret: str) -> None:
    customer = f"cus_{SUBSCRIBED}"
    (toy_sub,) = query(
        api, "SELECT subscription_id FROM subscriptions WHERE account_id = ?", SUBSCRIBED
    )[0]
    assert rescored(api, SUBSCRIBED)["active_subscriptions"] == 1
    created = event("customer.subscription.created", subscription("sub_new", customer, 5_000))
    assert send(api, created).json()["status"] == "accepted"
    assert metrics(api, SUBSCRIBED)["active_subscriptions"] == 2
    row = "SELECT account_id, mrr, end_date FROM subscriptions WHERE subscription_id = ?"
    assert query(api, row, "sub_new") == [(SUBSCRIBED, 100.0, None)]  # 2 seats x 50.00
    # A price change updates the one row of the subscription; the same state again: nothing.
    yearly = subscription("sub_new", customer, 120_000, interval="year")
    updated = event("customer.subscription.updated", yearly)
    assert send(api, updated).json()["status"] == "accepted"
    assert query(api, row, "sub_new") == [(SUBSCRIBED, 200.0, None)]  # 2 x 1,200.00 / 12
    same = send(api, event("customer.subscription.updated", yearly)).json()
    assert (same["status"], same["reason"]) == ("duplicate", "nothing changed")
    # The warehouse's own subscription of the account is deleted in Stripe: it ends today.
    deleted = event(
        "customer.subscription.deleted", subscription(toy_sub, customer, 5_000, ended=True)
    )
    assert send(api, deleted).json()["status"] == "accepted"
    (end,) = query(api, "SELECT end_date FROM subscriptions WHERE subscription_id = ?", toy_sub)[0]
    assert end == dt.datetime.now(dt.UTC).date()
    assert metrics(api, SUBSCRIBED)["active_subscriptions"] == 1
    # Replayed, or an older update arriving late: an ended subscription stays ended.
    assert send(api, deleted).json()["status"] == "duplicate"
    late = event("customer.subscription.updated", subscription(toy_sub, customer, 7_000))
    assert send(api, late).json()["status"] == "duplicate"
    count = "SELECT count(*) FROM subscriptions WHERE subscription_id = ?"
    assert query(api, count, toy_sub) == [(1,)]
    assert metrics(api, SUBSCRIBED)["active_subscriptions"] == 1


def test_a_bad_or_missing_signature_is_a_400_and_stores_nothing(api: Api, secret: str) -> None:
    body = event("invoice.payment_failed", invoice("in_forged", f"cus_{BILLED}", 100, False))
    before = rejects(api, "POST /v1/integrations/stripe")
    forged = send(api, body, secret="whsec_someone_else")
    assert forged.status_code == 400 and "Stripe-Signature" in forged.json()["detail"]
    payload = json.dumps(body)
    unsigned = api.client.post(STRIPE, content=payload)
    assert unsigned.status_code == 400 and "No Stripe-Signature" in unsigned.json()["detail"]
    old = stripe.WebhookSignature.generate_signature_header(
        payload, SECRET, timestamp=int(time.time()) - 3_600
    )
    stale = api.client.post(STRIPE, content=payload, headers={"Stripe-Signature": old})
    assert stale.status_code == 400 and "tolerance" in stale.json()["detail"]
    garbled = "{not json"
    signed = stripe.WebhookSignature.generate_signature_header(garbled, SECRET)
    broken = api.client.post(STRIPE, content=garbled, headers={"Stripe-Signature": signed})
    assert broken.status_code == 400 and "not a Stripe event" in broken.json()["detail"]
    assert stored_invoices(api, "in_forged:failed") == []
    assert rejects(api, "POST /v1/integrations/stripe") == before


def test_without_a_secret_stripe_intake_is_a_503(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_VARIABLE, raising=False)
    body = event("invoice.paid", invoice("in_nosecret", f"cus_{BILLED}", 100, True))
    answer = send(api, body)
    assert answer.status_code == 503
    assert answer.json()["detail"] == (
        "Stripe intake is not configured: set HEALTHSCORE_STRIPE_WEBHOOK_SECRET"
    )
    assert stored_invoices(api, "in_nosecret:paid") == []


def test_an_unknown_customer_is_rejected_with_a_reason(api: Api, secret: str) -> None:
    body = event("invoice.paid", invoice("in_stranger", "cus_nobody", 100, True))
    answer = send(api, body)
    assert answer.status_code == 200  # not 4xx: Stripe would retry it for days
    result = answer.json()
    assert result["status"] == "rejected"
    assert "cus_nobody" in result["reason"] and "identities.user_id" in result["reason"]
    assert stored_invoices(api, "in_stranger:paid") == []
    (reason, data) = query(
        api,
        "SELECT reason, data FROM healthscore_rejects WHERE file = ?",
        f"POST /v1/integrations/stripe ({body['id']})",
    )[0]
    assert reason == result["reason"] and json.loads(data)["invoice_id"] == "in_stranger:paid"


def test_other_event_types_are_ignored(api: Api, secret: str) -> None:
    body = event("customer.created", {"id": "cus_new", "object": "customer"})
    answer = send(api, body)
    assert answer.status_code == 200
    assert answer.json() == {
        "event_id": body["id"],
        "type": "customer.created",
        "status": "ignored",
        "ignored": "customer.created",
    }


def test_stripe_customers_map_through_accounts_when_it_has_the_column() -> None:
    with duckdb.connect() as con:
        con.execute("CREATE TABLE accounts (account_id VARCHAR, stripe_customer_id VARCHAR)")
        con.execute("INSERT INTO accounts VALUES ('a1', 'cus_1'), ('a2', NULL)")
        con.execute("CREATE TABLE identities AS SELECT 'cus_2' AS user_id, 'a2' AS account_id")
        assert customer_account(con, "cus_1") == ("a1", None)
        # The column decides: identities is not read when accounts has it.
        account, reason = customer_account(con, "cus_2")
        assert account is None and reason is not None
        assert "accounts.stripe_customer_id" in reason


def test_money_in_currency_units() -> None:
    assert to_units(1234, "usd") == 12.34
    assert to_units(1234, "JPY") == 1234
    assert to_units(1230, "kwd") == 1.23
    weekly = {
        "items": {
            "data": [
                {"quantity": 3, "price": {"unit_amount": 1000, "recurring": {"interval": "week"}}}
            ]
        },
        "currency": "eur",
    }
    assert monthly_amount(weekly) == pytest.approx(30 * 52 / 12)
    metered: dict[str, Any] = {
        "items": {"data": [{"price": {"unit_amount": None, "recurring": {}}}]}
    }
    assert monthly_amount(metered) is None


def track(message_id: str, **fields: Any) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return {"type": "track", "messageId": message_id, "event": "login", "timestamp": now, **fields}


def test_segment_calls_become_rows(api: Api) -> None:
    before = rescored(api, BILLED)["logins_30d"]
    calls = [
        {"type": "group", "messageId": "m-group", "userId": "seg-u1", "groupId": BILLED},
        {
            "type": "identify",
            "messageId": "m-identify",
            "userId": "seg-u2",
            "traits": {"account_id": BILLED, "email": "u2@example.com"},
        },
        track("m-track-1", userId="seg-u1", context={"groupId": BILLED}),
        track("m-track-2", userId="seg-u2"),  # its account: the identify call above
        track("m-track-3", anonymousId="anon-1", properties={"account_id": BILLED, "value": 3}),
    ]
    answer = api("POST", SEGMENT, role="editor", json={"batch": calls})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (5, 0, 0)
    assert [r["type"] for r in body["results"]] == ["group", "identify", "track", "track", "track"]
    assert query(
        api,
        "SELECT user_id, account_id FROM identities WHERE user_id LIKE 'seg-%' ORDER BY 1",
    ) == [("seg-u1", BILLED), ("seg-u2", BILLED)]
    events = query(
        api,
        "SELECT event_id, account_id, user_id, type, value FROM events "
        "WHERE event_id LIKE 'm-track-%' ORDER BY 1",
    )
    assert events == [
        ("m-track-1", BILLED, "seg-u1", "login", None),
        ("m-track-2", BILLED, "seg-u2", "login", None),
        ("m-track-3", BILLED, None, "login", 3.0),
    ]
    assert metrics(api, BILLED)["logins_30d"] == before + 3
    replay = api("POST", SEGMENT, role="editor", json=calls[2]).json()
    assert (replay["duplicates"], replay["results"][0]["message_id"]) == (1, "m-track-1")
    log = api.service.engine.audit_log()
    assert (log["action"] == "segment.ingest").sum() == 2


def test_a_batch_answers_per_call(api: Api) -> None:
    calls: list[Any] = [
        track("m-ok"),
        track("m-no-account", userId="seg-stranger"),
        {"type": "identify", "messageId": "m-anon", "userId": "seg-u9", "traits": {}},
        {"type": "page", "messageId": "m-page", "name": "Home"},
        track("m-bad", properties="not an object"),
        "not a call",
        track("m-future", context={"groupId": BILLED}, timestamp="2999-01-01T00:00:00Z"),
        {"type": "group", "messageId": "m-who", "userId": "seg-u9", "groupId": "nobody"},
    ]
    calls[0]["context"] = {"groupId": BILLED}
    answer = api("POST", SEGMENT, role="editor", json={"batch": calls})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["accepted"], body["rejected"]) == (1, 7)
    results = body["results"]
    assert results[0]["status"] == "accepted"
    reasons = [r["reason"] for r in results[1:]]
    assert "no identities row links user 'seg-stranger'" in reasons[0]
    assert "names no account" in reasons[1]
    assert "'page' calls are not taken" in reasons[2]
    assert "properties" in reasons[3] and results[4]["message_id"] == "m-bad"
    assert "JSON object" in reasons[4]
    assert reasons[5] == "ts in the future" and reasons[6] == "unknown account_id"
    assert query(api, "SELECT count(*) FROM events WHERE event_id = 'm-no-account'") == [(0,)]
    assert query(api, "SELECT count(*) FROM identities WHERE user_id = 'seg-u9'") == [(0,)]


def test_a_batch_context_is_under_each_calls_own(api: Api) -> None:
    calls = [track("m-shared"), track("m-own", context={"groupId": SUBSCRIBED})]
    body = {"batch": calls, "context": {"groupId": BILLED}}
    answer = api("POST", SEGMENT, role="editor", json=body).json()
    assert answer["accepted"] == 2, answer
    assert query(
        api,
        "SELECT event_id, account_id FROM events WHERE event_id IN ('m-shared', 'm-own') "
        "ORDER BY 1",
    ) == [("m-own", SUBSCRIBED), ("m-shared", BILLED)]


def test_segment_needs_an_editor_key(api: Api) -> None:
    call = track("m-keys", context={"groupId": BILLED})
    assert api("POST", SEGMENT, role=None, json=call).status_code == 401
    forbidden = api("POST", SEGMENT, role="viewer", json=call)
    assert forbidden.status_code == 403 and "editor" in forbidden.json()["detail"]
    empty = api("POST", SEGMENT, role="editor", json={"batch": []})
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["body", "batch"]
    assert query(api, "SELECT count(*) FROM events WHERE event_id = 'm-keys'") == [(0,)]


def test_the_schema_lists_segment_but_not_the_stripe_webhook(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    assert "/v1/integrations/segment" in paths and STRIPE not in paths


def test_text_ids_in_a_numbered_table_are_rejected_per_row() -> None:
    with duckdb.connect() as con:
        con.execute("CREATE TABLE accounts AS SELECT 'a1' AS account_id")
        con.execute(
            "CREATE TABLE events (event_id BIGINT, account_id VARCHAR, user_id VARCHAR, "
            "ts TIMESTAMP, type VARCHAR, value DOUBLE)"
        )
        rows = [
            {"event_id": "17", "account_id": "a1", "user_id": None, "ts": "2026-01-01T10:00:00Z",
             "type": "login", "value": None},
            {"event_id": "ajs-1", "account_id": "a1", "user_id": None,
             "ts": "2026-01-01T10:00:00Z", "type": "login", "value": None},
        ]  # fmt: skip
        answers, accounts = _intake(con, "events", rows, "test")
        assert [a.status.value for a in answers] == ["accepted", "rejected"]
        assert "store event_id as VARCHAR" in str(answers[1].reason) and accounts == ["a1"]
        assert con.execute("SELECT event_id FROM events").fetchall() == [(17,)]
        assert con.execute("SELECT count(*) FROM healthscore_rejects").fetchall() == [(1,)]
