"""The REST API against its own OpenAPI description, and the issue's bad inputs one by one.

Schemathesis sends schema-driven requests (valid ones and deliberately invalid ones) to
every operation but `POST /v1/runs` with an admin key, on a store that holds a first full
run: no answer may be a server error, and a response the route describes must match it.
The bad inputs each get the right 4xx with a reason, and the stored events stay as they
were.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance
from starlette.types import Receive, Scope, Send

from healthscore.api import ServiceSettings, create_app
from healthscore.store._keys import create_key, revoke_key
from tests.conftest import AS_OF, toy_frames
from tests.test_api import Api, project

EXAMPLES = settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
ACCOUNTS = sorted(toy_frames()["accounts"]["account_id"])
EVENT = {"event_id": 910_001, "account_id": "a006", "ts": "2026-05-01T10:00:00", "type": "login"}


class Started:
    """The app, its lifespan already run by the module's TestClient.

    Schemathesis' ASGI transport starts the lifespan of the app it calls and ends it
    after each test: that would open a second service on the same warehouse. This
    answers the lifespan protocol itself and passes every request on.
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    card = project(tmp_path_factory.mktemp("schema"))
    # Defaults but the rate limit: the fuzzing sends a few hundred requests in seconds.
    settings_ = ServiceSettings(scorecard=card, requests_per_minute=100_000)
    with TestClient(create_app(settings_)) as client:
        state = Api(client)
        state.service.call(lambda engine: engine.run(as_of=AS_OF))
        yield state
        assert state.service.rescorer.flush()


@pytest.fixture(scope="module")
def api_schema(api: Api) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", Started(api.client.app))  # type: ignore[arg-type]


schema = schemathesis.pytest.from_fixture("api_schema").exclude(method="POST", path="/v1/runs")


@schema.parametrize()
@schema.given(known=st.sampled_from(ACCOUNTS) | st.none())
@EXAMPLES
def test_no_operation_answers_with_a_server_error(
    case: schemathesis.Case[Any], known: str | None, api: Api
) -> None:
    # Random ids reach only the 404 of an unknown account; half the cases name a scored one.
    if known is not None:
        if case.path_parameters and "account_id" in case.path_parameters:
            case.path_parameters["account_id"] = known
        body = case.body if isinstance(case.body, dict) else {}
        events = body.get("events")
        for event in [body, *(events if isinstance(events, list) else [])]:
            if isinstance(event, dict) and "account_id" in event:
                event["account_id"] = known
    case.call_and_validate(
        headers={"Authorization": f"Bearer {api.keys['admin']}"},
        checks=[not_a_server_error, response_schema_conformance],
    )


def events_stored(api: Api) -> int:
    found = api.service.call(
        lambda engine: engine.con.con.execute("SELECT count(*) FROM events").fetchone()
    )
    return int(found[0])


def post_events(api: Api, role: str | None = "editor", **kw: Any) -> Any:
    return api("POST", "/v1/events", role=role, **kw)


def detail_text(answer: Any) -> str:
    detail = answer.json()["detail"]
    assert detail, answer.text
    return str(detail)


def test_starting_a_full_run_once(api: Api) -> None:
    assert api("POST", "/v1/runs", role="editor").status_code == 403
    started = api("POST", "/v1/runs", role="admin")
    assert started.status_code == 202 and started.json() == {"started": True}
    deadline = time.monotonic() + 120
    while api.service.status()["batch_running"]:
        assert time.monotonic() < deadline, "the full run did not finish"
        time.sleep(0.1)
    assert api.service.status()["last_batch_error"] is None
    newest = api("GET", "/v1/runs").json()["items"][0]
    assert (newest["status"], newest["scope"]) == ("done", "all")


def test_malformed_json_is_a_422_and_stores_nothing(api: Api) -> None:
    before = events_stored(api)
    headers = {"Content-Type": "application/json"}
    for body in (b"{not json", b'{"events": [', b"", b"\xff\xfe"):
        answer = post_events(api, content=body, headers=headers)
        assert answer.status_code == 422, (body, answer.text)
        detail_text(answer)
    assert events_stored(api) == before


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"events": "login"}, "events"),
        ({"events": [{"event_id": {"nested": 1}, "account_id": "a006"}]}, "event_id"),
        ({"events": [dict(EVENT, value="a lot")]}, "value"),
        ({"events": [dict(EVENT, ts=20260501)]}, "ts"),
        ({"events": []}, "events"),
        ([EVENT], "body"),
        ("login", "body"),
    ],
)
def test_wrong_types_are_a_422_naming_the_field(api: Api, body: Any, where: str) -> None:
    before = events_stored(api)
    answer = post_events(api, json=body)
    assert answer.status_code == 422, answer.text
    assert where in detail_text(answer)
    assert events_stored(api) == before


def test_a_value_the_table_cannot_hold_rejects_the_whole_batch(api: Api) -> None:
    before = events_stored(api)
    good = dict(EVENT, event_id=910_002)
    text_id = dict(EVENT, event_id="evt-1")  # the toy events table numbers its events
    answer = post_events(api, json={"events": [good, text_id]})
    assert answer.status_code == 422 and "nothing was stored" in detail_text(answer)
    assert events_stored(api) == before


def test_huge_batches_and_bodies_are_refused(api: Api) -> None:
    before = events_stored(api)
    batch = [dict(EVENT, event_id=920_000 + i) for i in range(10_001)]
    too_many = post_events(api, json={"events": batch})
    assert too_many.status_code == 422 and "at most 10,000" in detail_text(too_many)
    limit = api.service.settings.max_body_bytes
    huge = post_events(
        api,
        content=b'{"events": [' + b" " * limit + b"]}",
        headers={"Content-Type": "application/json"},
    )
    assert huge.status_code == 413 and f"{limit:,} bytes" in detail_text(huge)
    assert events_stored(api) == before


def test_unknown_accounts_are_named(api: Api) -> None:
    before = events_stored(api)
    answer = post_events(api, json=dict(EVENT, event_id=910_003, account_id="nobody"))
    assert answer.status_code == 200
    (result,) = answer.json()["results"]
    assert result["status"] == "rejected" and "account" in result["reason"]
    assert events_stored(api) == before
    for method, path, role, body in (
        ("GET", "/v1/accounts/nobody", "viewer", None),
        ("GET", "/v1/accounts/nobody/history", "viewer", None),
        ("GET", "/v1/accounts/nobody/explain?since=2026-01-01", "viewer", None),
        ("POST", "/v1/accounts/nobody/override", "editor",
         {"score": 10, "reason": "x", "until": "2099-01-01"}),
        ("DELETE", "/v1/accounts/nobody/override", "editor", None),
    ):  # fmt: skip
        missing = api(method, path, role=role, json=body)
        assert missing.status_code == 404 and "nobody" in detail_text(missing), path


@pytest.mark.parametrize(
    ("authorization", "status", "reason"),
    [
        (None, 401, "Bearer"),
        ("Bearer ", 401, "Bearer"),
        ("Basic dXNlcjpwYXNz", 401, "Bearer"),
        ("Bearer hs_key-x_nope", 401, "unknown or revoked"),
        ("revoked", 401, "unknown or revoked"),
        ("viewer", 403, "editor"),
    ],
)
def test_missing_and_wrong_keys(
    api: Api, authorization: str | None, status: int, reason: str
) -> None:
    before = events_stored(api)
    headers = {} if authorization is None else {"Authorization": authorization}
    if authorization == "viewer":
        headers = {"Authorization": f"Bearer {api.keys['viewer']}"}
    if authorization == "revoked":
        db = api.service.engine.store.db
        key, token = create_key(db, "gone", "admin", "test")
        revoke_key(db, key.key_id, "test")
        headers = {"Authorization": f"Bearer {token}"}
    answer = post_events(api, role=None, json=dict(EVENT, event_id=910_004), headers=headers)
    assert answer.status_code == status and reason in detail_text(answer)
    assert events_stored(api) == before


def test_a_good_event_after_all_that_is_stored_once(api: Api) -> None:
    before = events_stored(api)
    event = dict(EVENT, event_id=910_005)
    assert post_events(api, json=event).json()["accepted"] == 1
    assert post_events(api, json=event).json()["duplicates"] == 1
    assert events_stored(api) == before + 1


def test_the_schema_names_every_route_and_its_refusals(tmp_path: Path) -> None:
    paths = create_app(ServiceSettings(scorecard=tmp_path / "x.yaml")).openapi()["paths"]
    assert {"/v1/events", "/v1/scores", "/v1/accounts/{account_id}", "/v1/runs"} <= set(paths)
    # The handlers' own 422s carry text, pydantic's a list: the schema says both.
    refused = paths["/v1/events"]["post"]["responses"]["422"]["content"]["application/json"]
    assert refused["schema"] == {"$ref": "#/components/schemas/Refusal"}
