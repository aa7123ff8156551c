"""`healthscore serve` as a real process on a real port: events in, scores out, and a
kill in the middle of batch ingest loses none of the events it acknowledged."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.test_api import project

BIN = [sys.executable, "-m", "healthscore.cli.main"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cli(*args: str) -> str:
    done = subprocess.run([*BIN, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, Path, subprocess.Popen[bytes]]]:
    card = project(tmp_path)
    cli("score", "-c", str(card), "--as-of", "2026-06-01")
    out = cli(
        "keys", "create", "--role", "editor", "--name", "loader", "--by", "test", "-c", str(card)
    )
    token = re.search(r"hs_\S+", out)
    assert token is not None, out
    port = free_port()
    server = subprocess.Popen(
        [*BIN, "serve", "-c", str(card), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        assert server.poll() is None, server.communicate()[0].decode()
        try:
            if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server did not come up"
        time.sleep(0.2)
    yield url, token.group(0), tmp_path / "healthscore.duckdb", server
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)


def test_an_event_moves_the_score_over_http(
    served: tuple[str, str, Path, subprocess.Popen[bytes]],
) -> None:
    url, token, _, _ = served
    headers = {"Authorization": f"Bearer {token}"}
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    event = {"event_id": 800_001, "account_id": "a006", "ts": now, "type": "login"}
    answer = httpx.post(f"{url}/v1/events", json=event, headers=headers, timeout=30)
    assert answer.status_code == 200 and answer.json()["accepted"] == 1
    tomorrow = str(dt.date.today() + dt.timedelta(days=1))
    deadline = time.monotonic() + 60
    while True:
        detail = httpx.get(f"{url}/v1/accounts/a006", headers=headers, timeout=30).json()
        if detail.get("as_of") == tomorrow:
            break
        assert time.monotonic() < deadline, detail
        time.sleep(0.1)
    assert detail["metrics"]["days_since_login"] < 1  # the login just sent counts
    docs = httpx.get(f"{url}/openapi.json", timeout=30).json()
    assert "/v1/events" in docs["paths"]


def test_a_killed_server_keeps_every_acknowledged_event(
    served: tuple[str, str, Path, subprocess.Popen[bytes]],
) -> None:
    url, token, warehouse, server = served
    headers = {"Authorization": f"Bearer {token}"}
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    acknowledged: list[int] = []
    for batch in range(30):
        events = [
            {"event_id": 700_000 + batch * 100 + i, "account_id": "a006", "ts": now, "type": "x"}
            for i in range(100)
        ]
        try:
            answer = httpx.post(f"{url}/v1/events", json={"events": events}, headers=headers,
                                timeout=30)  # fmt: skip
        except httpx.TransportError:
            break
        assert answer.status_code == 200
        acknowledged += [e["event_id"] for e in events]
        if batch == 10:
            os.kill(server.pid, signal.SIGKILL)  # mid-stream, with rescoring under way
    server.communicate(timeout=60)
    assert len(acknowledged) >= 1100
    with duckdb.connect(str(warehouse)) as con:
        stored = {
            row[0]
            for row in con.execute(
                "SELECT event_id FROM events WHERE event_id BETWEEN 700000 AND 799999"
            ).fetchall()
        }
    assert set(acknowledged) <= stored
