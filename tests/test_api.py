"""The REST service through HTTP: keys and roles, reading scores, events with per-event
answers and coalesced rescoring, overrides, tasks, runs, limits."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fastapi.testclient import TestClient

from healthscore.api import Service, ServiceSettings, create_app
from healthscore.store._actions import create_task
from healthscore.store._keys import create_key
from healthscore.store._runs import utc_now
from tests.conftest import AS_OF, EXAMPLE, toy_frames


def project(folder: Path) -> Path:
    (folder / "scorecard.yaml").write_text(EXAMPLE.read_text())
    with duckdb.connect(str(folder / "healthscore.duckdb")) as con:
        for name, frame in toy_frames().items():
            con.register("frame", frame)
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame')
            con.unregister("frame")
    return folder / "scorecard.yaml"


class Api:
    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.service: Service = client.app.state.service  # type: ignore[attr-defined]
        db = self.service.engine.store.db
        self.keys = {
            role: create_key(db, role, role, "test")[1] for role in ("viewer", "editor", "admin")
        }

    def __call__(self, method: str, path: str, role: str | None = "viewer", **kw: Any) -> Any:
        headers = dict(kw.pop("headers", {}))
        if role:
            headers["Authorization"] = f"Bearer {self.keys[role]}"
        return self.client.request(method, path, headers=headers, **kw)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    card = project(tmp_path_factory.mktemp("api"))
    settings = ServiceSettings(scorecard=card, max_batch=200, max_body_bytes=200_000)
    with TestClient(create_app(settings)) as client:
        state = Api(client)
        state.service.call(lambda engine: engine.run(as_of=AS_OF))
        yield state


def test_keys_and_roles(api: Api) -> None:
    assert api("GET", "/v1/health", role=None).json() == {"status": "ok"}
    missing = api("GET", "/v1/ready", role=None)
    assert missing.status_code == 401 and "Bearer" in missing.json()["detail"]
    wrong = api.client.get("/v1/ready", headers={"Authorization": "Bearer hs_key-x_nope"})
    assert wrong.status_code == 401
    assert api("GET", "/v1/ready").json()["ready"] is True
    event = {
        "event_id": "e-role",
        "account_id": "a001",
        "ts": "2026-05-01T10:00:00",
        "type": "login",
    }
    forbidden = api("POST", "/v1/events", json=event)
    assert forbidden.status_code == 403 and "editor" in forbidden.json()["detail"]
    assert api("POST", "/v1/runs", role="editor").status_code == 403


def test_reading_scores(api: Api) -> None:
    page = api("GET", "/v1/accounts", params={"limit": 5, "offset": 0}).json()
    assert page["total"] > 5 and len(page["items"]) == 5
    assert [i["account_id"] for i in page["items"]] == sorted(
        i["account_id"] for i in page["items"]
    )
    red = api("GET", "/v1/scores", params={"tier": "red", "sort": "score"}).json()
    scores = [item["score"] for item in red["items"]]
    assert scores == sorted(scores) and {i["tier"] for i in red["items"]} <= {"red"}
    ranged = api("GET", "/v1/scores", params={"min_score": 70, "max_score": 90}).json()
    assert all(70 <= i["score"] <= 90 for i in ranged["items"])
    account = page["items"][0]["account_id"]
    detail = api("GET", f"/v1/accounts/{account}").json()
    assert detail["account_id"] == account and isinstance(detail["reasons"], list)
    assert detail["measures"] and detail["impacts"] and "logins_30d" in detail["metrics"]
    assert api("GET", "/v1/accounts/nobody").status_code == 404
    history = api("GET", f"/v1/accounts/{account}/history").json()
    assert len(history["items"]) >= 1
    explained = api("GET", f"/v1/accounts/{account}/explain", params={"since": str(AS_OF)})
    assert explained.status_code == 200 and explained.json()["account_id"] == account
    early = api("GET", f"/v1/accounts/{account}/explain", params={"since": "2001-01-01"})
    assert early.status_code == 404
    cards = api("GET", "/v1/scorecards").json()
    assert cards["live"]["name"] == "saas_health" and cards["versions"]


def test_events_answer_per_event_and_rescore_once_per_burst(api: Api) -> None:
    account = "a006"  # scored at AS_OF and still a customer tomorrow
    before = api.service.rescorer.rescores
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    batch = [
        {"event_id": 900_000 + i, "account_id": account, "ts": now, "type": "login"}
        for i in range(40)
    ]
    # The toy events table numbers its events; a repeat, a bad time, an unknown account.
    batch += [
        {"event_id": 900_000, "account_id": account, "ts": now, "type": "login"},
        {"event_id": 900_100, "account_id": account, "ts": "yesterday-ish", "type": "login"},
        {"event_id": 900_101, "account_id": "nobody", "ts": now, "type": "login"},
    ]
    answer = api("POST", "/v1/events", role="editor", json={"events": batch})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (40, 1, 2)
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["accepted"] * 40 + ["duplicate", "rejected", "rejected"]
    assert all(r["reason"] for r in body["results"][-2:])
    # Durable before the answer: the warehouse holds them now.
    stored = api.service.call(
        lambda engine: engine.con.con.execute(
            "SELECT count(*) FROM events WHERE event_id BETWEEN 900000 AND 900039"
        ).fetchone()
    )
    assert stored == (40,)
    assert api.service.rescorer.flush()
    assert api.service.rescorer.rescores == before + 1  # 40 events, one rescore
    detail = api("GET", f"/v1/accounts/{account}").json()
    assert detail["as_of"] == str(dt.date.today() + dt.timedelta(days=1))
    again = api("POST", "/v1/events", role="editor", json=batch[0])
    assert again.json()["duplicates"] == 1  # a single event, replayed: counted once


def test_overrides_through_the_api_are_attributed(api: Api) -> None:
    until = str(dt.date.today() + dt.timedelta(days=5))
    made = api(
        "POST", "/v1/accounts/a003/override", role="editor",
        json={"score": 20, "reason": "exec sponsor left", "until": until},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    assert api.service.rescorer.flush()
    detail = api("GET", "/v1/accounts/a003").json()
    assert detail["score"] == 20 and detail["override_reason"] == "exec sponsor left"
    log = api.service.engine.audit_log()
    assert log["actor"].iloc[0].startswith("key:editor")
    unknown = api(
        "POST", "/v1/accounts/nobody/override", role="editor",
        json={"score": 20, "reason": "x", "until": until},
    )  # fmt: skip
    assert unknown.status_code == 404
    past = api(
        "POST", "/v1/accounts/a003/override", role="editor",
        json={"tier": "red", "reason": "x", "until": "2020-01-01"},
    )  # fmt: skip
    assert past.status_code == 422 and "in the past" in past.json()["detail"]
    assert api("DELETE", "/v1/accounts/a003/override", role="editor").status_code == 200
    assert api("DELETE", "/v1/accounts/a003/override", role="editor").status_code == 404


def test_tasks_list_and_patch(api: Api) -> None:
    now = utc_now()
    create_task(
        api.service.engine.store.db,
        {
            "task_id": "task-t1", "action_id": "act-t1", "scorecard_name": "saas_health",
            "playbook": "rescue_red", "account_id": "a004", "title": "Call a004",
            "owner": "alice", "due": dt.date.today(), "status": "open", "created_at": now,
            "updated_at": now, "updated_by": None,
        },
    )  # fmt: skip
    open_ = api("GET", "/v1/tasks", params={"owner": "alice"}).json()["items"]
    assert [t["task_id"] for t in open_] == ["task-t1"]
    done = api("PATCH", "/v1/tasks/task-t1", role="editor", json={"status": "done"})
    assert done.status_code == 200
    still_open = {t["task_id"] for t in api("GET", "/v1/tasks").json()["items"]}
    assert "task-t1" not in still_open
    # The override that turned a003 red made the rescue playbook open a task for it.
    assert {t["account_id"] for t in api("GET", "/v1/tasks").json()["items"]} >= {"a003"}
    assert api("PATCH", "/v1/tasks/nope", role="editor", json={"status": "done"}).status_code == 404
    bad = api("PATCH", "/v1/tasks/task-t1", role="editor", json={"status": "finished"})
    assert bad.status_code == 422


def test_batch_runs_never_overlap(api: Api) -> None:
    first = api("POST", "/v1/runs", role="admin")
    assert first.status_code == 202
    second = api("POST", "/v1/runs", role="admin")
    assert second.status_code in (202, 409)  # 409 while the first is still going
    deadline = time.monotonic() + 120
    while api.service.status()["batch_running"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    runs = api("GET", "/v1/runs").json()["items"]
    assert runs[0]["status"] == "done" and runs[0]["scope"] == "all"


def test_limits(api: Api) -> None:
    event = {"event_id": 2, "account_id": "a001", "ts": "2026-05-01T10:00:00", "type": "login"}
    too_many = api("POST", "/v1/events", role="editor", json={"events": [event] * 201})
    assert too_many.status_code == 422 and "at most 200" in too_many.json()["detail"]
    huge = api("POST", "/v1/events", role="editor", content=b"{" + b" " * 300_000 + b"}",
               headers={"Content-Type": "application/json"})  # fmt: skip
    assert huge.status_code == 413 and "200,000 bytes" in huge.json()["detail"]
    text_id = dict(event, event_id="evt-1")  # the toy events table numbers its events
    misfit = api("POST", "/v1/events", role="editor", json=text_id)
    assert misfit.status_code == 422 and "nothing was stored" in misfit.json()["detail"]
    malformed = api("POST", "/v1/events", role="editor", content=b"{not json",
                    headers={"Content-Type": "application/json"})  # fmt: skip
    assert malformed.status_code == 422


def test_rate_limit_per_key(tmp_path: Path) -> None:
    card = project(tmp_path)
    settings = ServiceSettings(scorecard=card, requests_per_minute=3)
    with TestClient(create_app(settings)) as client:
        api = Api(client)
        codes = [api("GET", "/v1/scorecards").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = api("GET", "/v1/scorecards")
        assert int(limited.headers["Retry-After"]) >= 1
        assert api("GET", "/v1/scorecards", role="editor").status_code == 200  # its own budget


def test_scheduled_full_runs_never_overlap(tmp_path: Path) -> None:
    card = project(tmp_path)
    settings = ServiceSettings(scorecard=card, refresh_every_seconds=0.2)
    with TestClient(create_app(settings)) as client:
        api = Api(client)
        deadline = time.monotonic() + 120
        while True:
            runs = api("GET", "/v1/runs").json()["items"]
            scheduled = [r for r in runs if r["actor"] == "schedule" and r["status"] == "done"]
            if len(scheduled) >= 2:
                break
            assert time.monotonic() < deadline, runs
            time.sleep(0.2)
        # A tick that comes while a run is going starts nothing: no run was refused or
        # left half-done, and no two ran at the same time.
        statuses = {r["status"] for r in runs}
        assert statuses <= {"done", "running"}
        spans = sorted(
            (r["started_at"], r["finished_at"]) for r in runs if r["finished_at"] is not None
        )
        assert all(end <= start for (_, end), (start, _) in itertools.pairwise(spans))


def test_a_service_starts_on_an_empty_warehouse_and_is_freed_when_closed(
    tmp_path: Path,
) -> None:
    import gc
    import weakref

    # No tables yet (the first events will bring them): the rescoring query and the id
    # copies are prepared when first needed instead of at start.
    (tmp_path / "scorecard.yaml").write_text(EXAMPLE.read_text())
    service = Service(ServiceSettings(scorecard=tmp_path / "scorecard.yaml"))
    assert service.status()["rescores"] == 0
    service.close()
    # Start-up freezes what it allocated out of the collector's reach; closing gives it
    # back, so a closed service (in a cycle with its rescorer) can be collected.
    assert gc.get_freeze_count() == 0
    gone = weakref.ref(service)
    del service
    gc.collect()
    assert gone() is None
