"""Playbook delivery against real HTTP receivers on localhost, signatures and journey files."""

from __future__ import annotations

import datetime as dt
import doctest
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import healthscore
from healthscore import playbooks
from healthscore.playbooks import (
    SIGNATURE_HEADER,
    Delivery,
    DeliveryResult,
    _deliver,
    _journey,
    _messages,
    _signing,
    deliver,
    export_journey,
    render,
    sign,
    slack_body,
    slack_escape,
    verify,
)

SECRET = "whsec_0123456789abcdef"
BODY = {"score": 41.5, "account_id": "acme", "reasons": ["logins fell 60%"]}
NOW = 1_780_000_000

# ---------------------------------------------------------------- a real receiver


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]  # names in lower case
    body: bytes


# Given the request's number (1 for the first) and the request: the status and headers
# to answer with, or None to hang until the test ends.
Reply = Callable[[int, Received], tuple[int, dict[str, str]] | None]


class Receiver(ThreadingHTTPServer):
    # Not daemons: server_close() then joins every handler thread, so none outlives a test.
    daemon_threads = False

    def __init__(self, reply: Reply) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.reply = reply
        self.requests: list[Received] = []
        self.release = threading.Event()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        received = Received({k.lower(): v for k, v in self.headers.items()}, body)
        with self.server.lock:
            self.server.requests.append(received)
            number = len(self.server.requests)
        answer = self.server.reply(number, received)
        if answer is None:
            self.server.release.wait(timeout=30)
            return
        status, headers = answer
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[Callable[[Reply], Receiver]]:
    running: list[tuple[Receiver, threading.Thread]] = []

    def start(reply: Reply) -> Receiver:
        receiver = Receiver(reply)
        thread = threading.Thread(
            target=receiver.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        thread.start()
        running.append((receiver, thread))
        return receiver

    yield start
    for receiver, thread in running:
        receiver.release.set()
        receiver.shutdown()
        receiver.server_close()
        thread.join()


def delivery(url: str, **changes: Any) -> Delivery:
    fields: dict[str, Any] = {
        "url": url,
        "body": BODY,
        "secret": None,
        "idempotency_key": "rescue:acme:2026-06-01",
        "timeout_seconds": 5.0,
        "attempts": 3,
        "backoff_seconds": 1.0,
    }
    return Delivery(**(fields | changes))


def no_sleep(seconds: float) -> None:
    pytest.fail(f"No wait was expected. Got a wait of {seconds} s instead.")


def statuses(result: DeliveryResult) -> list[int | None]:
    return [a.status_code for a in result.attempts]


# ---------------------------------------------------------------- retries


def test_retries_until_the_receiver_answers(serve: Callable[[Reply], Receiver]) -> None:
    receiver = serve(lambda n, _: (503, {}) if n <= 2 else (200, {}))
    sleeps: list[float] = []
    result = deliver(delivery(receiver.url), sleep=sleeps.append)
    assert result.delivered and not result.permanent
    assert statuses(result) == [503, 503, 200]
    assert [a.number for a in result.attempts] == [1, 2, 3]
    assert all(a.error is None and a.elapsed_ms >= 0 for a in result.attempts)
    assert all(a.started_at.tzinfo == dt.UTC for a in result.attempts)
    assert sleeps == [1.0, 2.0]
    assert len(receiver.requests) == 3
    for request in receiver.requests:
        assert request.headers["idempotency-key"] == "rescue:acme:2026-06-01"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["user-agent"] == f"healthscore/{healthscore.__version__}"
        assert SIGNATURE_HEADER.lower() not in request.headers
        assert request.body == b'{"account_id":"acme","reasons":["logins fell 60%"],"score":41.5}'


def test_a_receiver_that_always_fails_exhausts_the_attempts(
    serve: Callable[[Reply], Receiver],
) -> None:
    receiver = serve(lambda n, _: (500, {}))
    sleeps: list[float] = []
    result = deliver(delivery(receiver.url, backoff_seconds=0.5), sleep=sleeps.append)
    assert not result.delivered and not result.permanent
    assert statuses(result) == [500, 500, 500]
    assert sleeps == [0.5, 1.0]


def test_backoff_doubles_up_to_a_minute(serve: Callable[[Reply], Receiver]) -> None:
    receiver = serve(lambda n, _: (502, {}))
    sleeps: list[float] = []
    deliver(delivery(receiver.url, attempts=4, backoff_seconds=20), sleep=sleeps.append)
    assert sleeps == [20.0, 40.0, 60.0]


@pytest.mark.parametrize(
    ("status", "tries", "permanent"),
    [
        (400, 1, True),
        (401, 1, True),
        (404, 1, True),
        (410, 1, True),
        (301, 1, True),
        (408, 2, False),
        (429, 2, False),
        (500, 2, False),
        (504, 2, False),
    ],
)
def test_which_answers_are_retried(
    serve: Callable[[Reply], Receiver], status: int, tries: int, permanent: bool
) -> None:
    receiver = serve(lambda n, _: (status, {"Location": "/elsewhere"}))
    sleeps: list[float] = []
    result = deliver(delivery(receiver.url, attempts=2), sleep=sleeps.append)
    assert not result.delivered
    assert (len(result.attempts), result.permanent) == (tries, permanent)
    assert len(receiver.requests) == tries
    assert sleeps == ([] if permanent else [1.0])


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_any_2xx_is_success(serve: Callable[[Reply], Receiver], status: int) -> None:
    receiver = serve(lambda n, _: (status, {}))
    result = deliver(delivery(receiver.url), sleep=no_sleep)
    assert result.delivered and statuses(result) == [status]


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        ("7", 7.0),
        ("0", 0.0),
        ("2.5", 2.5),
        ("3600", 60.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 1.0),
        ("-5", 1.0),
    ],
)
def test_retry_after_is_honoured(
    serve: Callable[[Reply], Receiver], retry_after: str, expected: float
) -> None:
    receiver = serve(lambda n, _: (429, {"Retry-After": retry_after}) if n == 1 else (200, {}))
    sleeps: list[float] = []
    result = deliver(delivery(receiver.url), sleep=sleeps.append)
    assert result.delivered and sleeps == [expected]


# ---------------------------------------------------------------- network trouble


def test_a_hanging_receiver_times_out(serve: Callable[[Reply], Receiver]) -> None:
    receiver = serve(lambda n, _: None)
    sleeps: list[float] = []
    result = deliver(
        delivery(receiver.url, timeout_seconds=0.3, attempts=2, backoff_seconds=0),
        sleep=sleeps.append,
    )
    assert not result.delivered and not result.permanent
    assert statuses(result) == [None, None]
    assert all("timeout" in (a.error or "").lower() for a in result.attempts)
    assert sleeps == [0.0]


def test_connection_refused_is_retried(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    sleeps: list[float] = []
    result = deliver(delivery(f"http://127.0.0.1:{port}/hook", attempts=2), sleep=sleeps.append)
    assert not result.delivered and not result.permanent
    assert statuses(result) == [None, None]
    assert all("ConnectError" in (a.error or "") for a in result.attempts)
    assert sleeps == [1.0]


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/hook", "http://[::1/hook", "hook"])
def test_a_url_we_cannot_call_is_permanent(url: str) -> None:
    result = deliver(delivery(url), sleep=no_sleep)
    assert not result.delivered and result.permanent
    assert len(result.attempts) == 1 and result.attempts[0].error


def test_a_given_client_is_used_and_left_open(serve: Callable[[Reply], Receiver]) -> None:
    receiver = serve(lambda n, _: (200, {}))
    with httpx.Client() as client:
        result = deliver(delivery(receiver.url), client=client)
        assert result.delivered and not client.is_closed


# ---------------------------------------------------------------- signatures on the wire


def verifying(secret: str) -> Reply:
    def reply(number: int, request: Received) -> tuple[int, dict[str, str]]:
        header = request.headers.get(SIGNATURE_HEADER.lower(), "")
        return (200, {}) if verify(secret, header, request.body) else (401, {})

    return reply


def test_the_receiver_verifies_the_signature(serve: Callable[[Reply], Receiver]) -> None:
    receiver = serve(verifying(SECRET))
    result = deliver(delivery(receiver.url, secret=SECRET), sleep=no_sleep)
    assert result.delivered
    (request,) = receiver.requests
    assert request.headers[SIGNATURE_HEADER.lower()].startswith("t=")


def test_every_retry_is_signed(serve: Callable[[Reply], Receiver]) -> None:
    check = verifying(SECRET)
    receiver = serve(lambda n, request: (503, {}) if n == 1 else check(n, request))
    result = deliver(delivery(receiver.url, secret=SECRET), sleep=lambda _: None)
    assert result.delivered and statuses(result) == [503, 200]
    for request in receiver.requests:
        assert verify(SECRET, request.headers[SIGNATURE_HEADER.lower()], request.body)


@pytest.mark.parametrize("secret", ["whsec_wrong", None])
def test_a_bad_signature_is_refused_for_good(
    serve: Callable[[Reply], Receiver], secret: str | None
) -> None:
    receiver = serve(verifying(SECRET))
    result = deliver(delivery(receiver.url, secret=secret), sleep=no_sleep)
    assert not result.delivered and result.permanent
    assert statuses(result) == [401]


# ---------------------------------------------------------------- Slack and templates


def test_slack_receives_its_message_shape(serve: Callable[[Reply], Receiver]) -> None:
    receiver = serve(lambda n, _: (200, {}))
    text = render(
        "*{account_id}* fell to {score:.0f} ({tier})",
        {"account_id": "Acme & <Co>", "score": 41.5, "tier": "red"},
        escape=slack_escape,
    )
    result = deliver(delivery(receiver.url, body=slack_body(text)))
    assert result.delivered
    (request,) = receiver.requests
    assert json.loads(request.body) == {
        "text": "*Acme &amp; &lt;Co&gt;* fell to 42 (red)",
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "*Acme &amp; &lt;Co&gt;* fell to 42 (red)"},
            }
        ],
    }


def test_long_slack_text_fits_a_section() -> None:
    body = slack_body("x" * 5000)
    assert len(body["text"]) == 5000
    assert len(body["blocks"][0]["text"]["text"]) == 3000


def test_render_fills_fields_as_given() -> None:
    fields = {"account_id": "acme", "score": 41.25, "reasons": "logins fell"}
    assert render("{account_id}: {score} because {reasons}", fields) == (
        "acme: 41.25 because logins fell"
    )
    assert render("{score:.1f}", fields) == "41.2"


# ---------------------------------------------------------------- the delivery itself


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"attempts": 0}, "The 'attempts' must be an integer >= 1. Got 0 instead."),
        ({"timeout_seconds": 0}, "The 'timeout_seconds' must be a number > 0. Got 0 instead."),
        ({"backoff_seconds": -1}, "The 'backoff_seconds' must be a number >= 0. Got -1 instead."),
        ({"secret": ""}, "The 'secret' must be None or a non-empty string."),
    ],
)
def test_a_delivery_checks_its_settings(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        delivery("http://127.0.0.1/hook", **change)


def test_a_body_that_is_not_json_raises_before_sending() -> None:
    with pytest.raises(ValueError, match="JSON"):
        deliver(delivery("http://127.0.0.1:9/hook", body={"score": float("nan")}))


# ---------------------------------------------------------------- sign and verify


@given(secret=st.text(min_size=1), body=st.binary(), timestamp=st.integers(0, 2**40))
def test_verify_accepts_what_sign_signs(secret: str, body: bytes, timestamp: int) -> None:
    header = sign(secret, timestamp, body)
    assert header.startswith(f"t={timestamp},v1=")
    assert verify(secret, header, body, now=timestamp)


@given(secret=st.text(min_size=1), body=st.binary(), data=st.data())
def test_any_change_to_the_body_is_refused(secret: str, body: bytes, data: st.DataObject) -> None:
    header = sign(secret, NOW, body)
    other = data.draw(st.binary().filter(lambda b: b != body), label="other body")
    assert not verify(secret, header, other, now=NOW)
    if body:
        at = data.draw(st.integers(0, len(body) - 1), label="at")
        flip = data.draw(st.integers(1, 255), label="flip")
        flipped = body[:at] + bytes([body[at] ^ flip]) + body[at + 1 :]
        assert not verify(secret, header, flipped, now=NOW)
    assert not verify(secret, header, body + b" ", now=NOW)


@given(secret=st.text(min_size=1), other=st.text(min_size=1), body=st.binary())
def test_another_secret_is_refused(secret: str, other: str, body: bytes) -> None:
    header = sign(secret, NOW, body)
    assert verify(other, header, body, now=NOW) == (other == secret)


@given(offset=st.integers(-100_000, 100_000))
def test_stale_and_future_timestamps_are_refused(offset: int) -> None:
    header = sign(SECRET, NOW, b"{}")
    assert verify(SECRET, header, b"{}", now=NOW + offset) == (abs(offset) <= 300)


def test_verify_uses_the_clock_by_default() -> None:
    assert not verify(SECRET, sign(SECRET, NOW - 10_000_000, b"{}"), b"{}")


@given(header=st.text())
def test_malformed_headers_are_refused(header: str) -> None:
    assert verify(SECRET, header, b"{}", now=NOW) is False


@pytest.mark.parametrize(
    "header",
    [
        "",
        "t=,v1=",
        f"v1={sign(SECRET, NOW, b'{}').split('v1=')[1]}",
        "t=1780000000",
        "t=١٧٨,v1=00",
        "t=" + "1" * 5000 + ",v1=00",
        "t=-1780000000,v1=00",
    ],
)
def test_broken_headers_are_refused(header: str) -> None:
    assert not verify(SECRET, header, b"{}", now=NOW)


def test_rotated_secrets_may_send_two_signatures() -> None:
    old = sign("whsec_old", NOW, b"{}").split(",")[1]
    header = f"{sign(SECRET, NOW, b'{}')},{old}"
    assert verify(SECRET, header, b"{}", now=NOW)
    assert verify("whsec_old", header, b"{}", now=NOW)
    assert not verify("whsec_other", header, b"{}", now=NOW)


def test_an_empty_secret_signs_nothing() -> None:
    with pytest.raises(ValueError, match="The signing secret must not be empty"):
        sign("", NOW, b"{}")
    assert not verify("", "t=1,v1=00", b"{}", now=1)


# ---------------------------------------------------------------- journey exports


def journey_rows(*accounts: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": list(accounts),
            "journey": "win-back",
            "score": [31.5] * len(accounts),
            "tier": "red",
            "reasons": [("logins fell", "seats unused")] * len(accounts),
            "playbook": "rescue",
            "as_of": dt.date(2026, 6, 1),
            "idempotency_key": [f"rescue:{a}:2026-06-01" for a in accounts],
            "extra": 1,
        }
    )


def read_journey(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype={"as_of": str})
    return pd.read_parquet(path)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_journey_exports_append_and_skip_known_keys(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / "exports" / "journeys" / f"win-back{suffix}"
    assert export_journey(path, journey_rows("acme", "bolt")) == 2
    assert export_journey(path, journey_rows("bolt", "core", "core", "dash")) == 2
    assert export_journey(path, journey_rows("acme", "dash")) == 0
    frame = read_journey(path)
    assert list(frame.columns) == [
        "account_id",
        "journey",
        "score",
        "tier",
        "reasons",
        "playbook",
        "as_of",
        "idempotency_key",
    ]
    assert frame["account_id"].tolist() == ["acme", "bolt", "core", "dash"]
    assert frame["idempotency_key"].is_unique
    assert set(frame["reasons"]) == {'["logins fell", "seats unused"]'}
    assert set(frame["score"]) == {31.5}
    assert {str(d) for d in frame["as_of"]} == {"2026-06-01"}
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_a_csv_header_is_written_once(tmp_path: Path) -> None:
    path = tmp_path / "journey.csv"
    export_journey(path, journey_rows("acme"))
    export_journey(path, journey_rows("bolt"))
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and lines[0].startswith("account_id,")


def test_a_csv_without_a_final_newline_is_appended_to_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "journey.csv"
    export_journey(path, journey_rows("acme"))
    path.write_text(path.read_text().rstrip("\n"))
    export_journey(path, journey_rows("bolt"))
    assert read_journey(path)["account_id"].tolist() == ["acme", "bolt"]


def test_no_rows_write_no_file(tmp_path: Path) -> None:
    path = tmp_path / "journey.parquet"
    assert export_journey(path, journey_rows()) == 0
    assert not path.exists()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_journey_file_of_another_shape_is_not_touched(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"journey{suffix}"
    other = pd.DataFrame({"email": ["a@b.c"]})
    other.to_csv(path, index=False) if suffix == ".csv" else other.to_parquet(path)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="must have the columns account_id, journey"):
        export_journey(path, journey_rows("acme"))
    assert path.read_bytes() == before


def test_journey_rows_and_paths_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"must end in \.csv or \.parquet\. Got 'j\.xlsx'"):
        export_journey(tmp_path / "j.xlsx", journey_rows("acme"))
    with pytest.raises(ValueError, match=r"Missing: tier\. Columns in the frame: account_id"):
        export_journey(tmp_path / "j.csv", journey_rows("acme").drop(columns="tier"))


# ---------------------------------------------------------------- the public face


def test_public_names_exist() -> None:
    for name in playbooks.__all__:
        assert hasattr(playbooks, name), name


@pytest.mark.parametrize("module", [_signing, _deliver, _messages, _journey])
def test_docstring_examples_run(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
