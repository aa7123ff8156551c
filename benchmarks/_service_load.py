"""The load generator: events in, rescored rows out, reads; over HTTP to a running server.

Event to score is measured inside the server's own records: each rescore is stored as an
account-scoped run whose `started_at` and `finished_at` (UTC, same machine clock) bound
it, and its rows are committed with `finished_at`. So for one POST started at t0:
acknowledged (the POST answered), queued (t0 to the run's start: the answer, the
rescorer's coalescing wait, the engine lock), rescoring (the run), and in total t0 to
`finished_at`, when the new row is readable. The client learns of it by polling
GET /v1/runs every `poll` seconds (so "seen" is late by up to that much; each poll is a
request the server answers while it rescores, so polls too often slow what they measure).
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

TIMEOUT = 300.0


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Sample:
    """One POST and the rescore it caused, in seconds from the POST's start."""

    events: int
    accounts: int
    acknowledged: float
    started: float
    finished: float
    seen: float
    idle: float  # the rescorer done with it, playbooks included: free for the next
    rows: int


class Client:
    """One keep-alive connection with the admin key; fresh event ids from `next_id`."""

    def __init__(self, url: str, token: str, next_id: int, poll: float) -> None:
        self.poll = poll
        self.http = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
        )
        self.next_id = next_id
        self._ids = threading.Lock()

    def ids(self, count: int) -> range:
        with self._ids:
            first, self.next_id = self.next_id, self.next_id + count
        return range(first, first + count)

    def events(self, accounts: list[str]) -> list[dict[str, Any]]:
        ts = utc_now().replace(microsecond=0).isoformat() + "Z"
        return [
            {"event_id": i, "account_id": a, "user_id": "u_bench", "ts": ts, "type": "login"}
            for i, a in zip(self.ids(len(accounts)), accounts, strict=True)
        ]

    def post(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        body = events[0] if len(events) == 1 else {"events": events}
        answer = self.http.post("/v1/events", json=body)
        answer.raise_for_status()
        found: dict[str, Any] = answer.json()
        if found["accepted"] != len(events):
            raise SystemExit(f"the server did not accept every event: {found}")
        return found

    def get(self, path: str, **params: Any) -> Any:
        answer = self.http.get(path, params=params)
        answer.raise_for_status()
        return answer.json()

    def close(self) -> None:
        self.http.close()


def _stamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=None)


def wait_for_rescore(client: Client, since: dt.datetime) -> tuple[dict[str, Any], float]:
    """The first finished account-scoped run started after `since`; and when it was seen."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        for run in client.get("/v1/runs", limit=5)["items"]:
            if run["scope"] == "accounts" and _stamp(run["started_at"]) >= since:
                if run["status"] == "done":
                    return run, time.perf_counter()
                if run["status"] != "running":
                    raise SystemExit(f"a rescore failed: {run}")
        time.sleep(client.poll)
    raise SystemExit(f"no rescore finished within {TIMEOUT:.0f} s; see the server's log")


def one(client: Client, accounts: list[str]) -> Sample:
    """POST these events (one per account given) and wait until their rescore is stored."""
    events = client.events(accounts)
    before = client.get("/v1/ready")["rescores"]
    since, clock = utc_now(), time.perf_counter()
    client.post(events)
    acknowledged = time.perf_counter() - clock
    run, seen = wait_for_rescore(client, since)
    while client.get("/v1/ready")["rescores"] == before:
        time.sleep(client.poll)
    return Sample(
        events=len(events),
        accounts=len(set(accounts)),
        acknowledged=acknowledged,
        started=(_stamp(run["started_at"]) - since).total_seconds(),
        finished=(_stamp(run["finished_at"]) - since).total_seconds(),
        seen=seen - clock,
        idle=time.perf_counter() - clock,
        rows=int(run["row_count"]),
    )


def series(
    client: Client, pick: Callable[[], list[str]], count: int, check: Callable[[str], None]
) -> list[Sample]:
    """`count` POSTs one after another, each waiting for its rescore; checks its rows."""
    samples = []
    for _ in range(count):
        accounts = pick()
        sample = one(client, accounts)
        if sample.rows != sample.accounts:
            raise SystemExit(f"{sample.accounts} accounts sent, {sample.rows} rows rescored")
        check(accounts[0])
        samples.append(sample)
    return samples


def visible(client: Client, tomorrow: dt.date) -> Callable[[str], None]:
    """A check that the account's current row is the rescored one (as of tomorrow)."""

    def check(account: str) -> None:
        row = client.get(f"/v1/accounts/{account}")
        if row["as_of"] != tomorrow.isoformat():
            raise SystemExit(f"{account}: the served row is as of {row['as_of']}, not {tomorrow}")

    return check


def picker(accounts: list[str], size: int, seed: int) -> Callable[[], list[str]]:
    """Random accounts, `size` at a time (repeats possible, as in a real stream)."""
    rng = random.Random(seed)
    return lambda: [rng.choice(accounts) for _ in range(size)]


@dataclass(frozen=True)
class Sustained:
    events: int
    batches: int
    seconds: float  # first POST to last answer
    drained_seconds: float  # first POST until every account was rescored and stored
    rescores: int
    rescored_rows: int
    post_seconds: list[float]


def sustained(
    client: Client, accounts: list[str], batch: int, seconds: float, limit: int, seed: int
) -> Sustained:
    """Batches back to back from one connection for `seconds` (at most `limit` batches);
    then wait until the rescorer has stored every account they touched."""
    pick = picker(accounts, batch, seed)
    bodies = [{"events": client.events(pick())} for _ in range(limit)]  # built beforehand
    before = client.get("/v1/ready")["rescores"]
    since, clock = utc_now(), time.perf_counter()
    posts: list[float] = []
    for body in bodies:
        started = time.perf_counter()
        answer = client.http.post("/v1/events", json=body)
        answer.raise_for_status()
        posts.append(time.perf_counter() - started)
        if time.perf_counter() - clock >= seconds:
            break
    spent = time.perf_counter() - clock
    drained = _drained(client) - clock
    runs = [
        run
        for run in client.get("/v1/runs", limit=500)["items"]
        if run["scope"] == "accounts" and _stamp(run["started_at"]) >= since
    ]
    return Sustained(
        events=len(posts) * batch,
        batches=len(posts),
        seconds=spent,
        drained_seconds=drained,
        rescores=client.get("/v1/ready")["rescores"] - before,
        rescored_rows=sum(int(run["row_count"] or 0) for run in runs),
        post_seconds=posts,
    )


def _drained(client: Client) -> float:
    """When nothing was pending nor running, three polls in a row with no new rescore."""
    deadline = time.monotonic() + TIMEOUT
    calm: list[tuple[int, float]] = []
    while time.monotonic() < deadline:
        ready = client.get("/v1/ready")
        runs = client.get("/v1/runs", limit=1)["items"]
        if ready["pending_rescores"] == 0 and runs and runs[0]["status"] != "running":
            if calm and calm[0][0] != ready["rescores"]:
                calm = []
            calm.append((ready["rescores"], time.perf_counter()))
            if len(calm) == 3:
                return calm[0][1]
        else:
            calm = []
        time.sleep(client.poll)
    raise SystemExit(f"the rescorer did not catch up within {TIMEOUT:.0f} s")


def reads(client: Client, path: str, params: list[dict[str, Any]], count: int) -> list[float]:
    """`count` GETs of `path`, cycling through the parameter sets; seconds each."""
    seconds = []
    for _, query in zip(range(count), _cycle(params), strict=False):
        started = time.perf_counter()
        client.get(path, **query)
        seconds.append(time.perf_counter() - started)
    return seconds


def _cycle(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    while True:
        yield from items
