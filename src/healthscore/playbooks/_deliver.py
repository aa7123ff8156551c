"""POST a playbook action's JSON to a webhook, Slack or a journey tool, with retries.

Delivery never raises for HTTP or network trouble: the result lists every try, so the
action log can say what happened and a later run can decide what to do about it.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

import healthscore
from healthscore.playbooks._signing import SIGNATURE_HEADER, sign

MAX_WAIT_SECONDS = 60.0
# Worth another try: the receiver may be back soon. Other 4xx answers will not change.
RETRY_STATUSES = frozenset({408, 429})
# Our own mistakes, not the receiver's: trying again cannot help.
_PERMANENT_ERRORS = (httpx.InvalidURL, httpx.UnsupportedProtocol, httpx.LocalProtocolError)


@dataclass(frozen=True)
class Delivery:
    """One JSON body to POST to `url`, signed with `secret` when there is one."""

    url: str
    body: Mapping[str, Any]
    secret: str | None
    idempotency_key: str  # sent on every try, so the receiver can drop repeats
    timeout_seconds: float
    attempts: int  # tries in all, the first included
    backoff_seconds: float  # wait before the second try; doubles each time

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(
                f"The 'attempts' must be an integer >= 1. Got {self.attempts} instead."
            )
        if not self.timeout_seconds > 0:
            raise ValueError(
                f"The 'timeout_seconds' must be a number > 0. Got {self.timeout_seconds} instead."
            )
        if not self.backoff_seconds >= 0:
            raise ValueError(
                f"The 'backoff_seconds' must be a number >= 0. Got {self.backoff_seconds} instead."
            )
        if self.secret == "":
            raise ValueError(
                "The 'secret' must be None or a non-empty string. Got '' instead. "
                "Suggestion: check that the secret's environment variable is set."
            )


@dataclass(frozen=True)
class Attempt:
    """One try: the HTTP status when an answer came, else the network error."""

    number: int  # 1 for the first try
    started_at: dt.datetime  # UTC
    status_code: int | None
    error: str | None
    elapsed_ms: float


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to a delivery; `permanent` means the receiver refused it for good."""

    delivered: bool
    attempts: tuple[Attempt, ...]
    permanent: bool


def encode_body(body: Mapping[str, Any]) -> bytes:
    """The exact bytes sent and signed: compact, sorted keys, UTF-8, no NaN.

    >>> encode_body({"b": 1, "a": "é"})
    b'{"a":"\\xc3\\xa9","b":1}'
    """
    text = json.dumps(
        body, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def wait_before(attempt: int, backoff_seconds: float, retry_after: str | None) -> float:
    """Seconds to wait after failed try `attempt`: the receiver's Retry-After, else backoff.

    >>> wait_before(1, 1.0, None), wait_before(3, 1.0, None), wait_before(1, 1.0, "7")
    (1.0, 4.0, 7.0)
    >>> wait_before(10, 1.0, None), wait_before(1, 1.0, "3600")
    (60.0, 60.0)
    """
    # The exponent is capped only so that a huge 'attempts' cannot overflow a float.
    wait = backoff_seconds * 2.0 ** min(attempt - 1, 32)
    if retry_after is not None:
        # Only delta-seconds; an HTTP-date falls back to our own backoff.
        try:
            asked = float(retry_after.strip())
        except ValueError:
            asked = -1.0
        if 0 <= asked < float("inf"):
            wait = asked
    return min(wait, MAX_WAIT_SECONDS)


def deliver(
    delivery: Delivery,
    *,
    sleep: Callable[[float], object] = time.sleep,
    client: httpx.Client | None = None,
) -> DeliveryResult:
    """POST `delivery.body`, retrying timeouts, network errors, 408, 429 and 5xx.

    Any 2xx answer is success; any other answer stops at once as permanent.

    >>> delivery = Delivery("http://127.0.0.1:9/hook", {"account_id": "a1"}, None, "k1", 0.5, 1, 0)
    >>> deliver(delivery).delivered
    False
    """
    content = encode_body(delivery.body)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"healthscore/{healthscore.__version__}",
        "Idempotency-Key": delivery.idempotency_key,
    }
    timeout = httpx.Timeout(delivery.timeout_seconds)
    http = httpx.Client(follow_redirects=False) if client is None else client
    attempts: list[Attempt] = []
    try:
        for number in range(1, delivery.attempts + 1):
            if delivery.secret is not None:
                headers[SIGNATURE_HEADER] = sign(delivery.secret, int(time.time()), content)
            attempt, retry, retry_after = _try_once(
                http, delivery.url, content, headers, timeout, number
            )
            attempts.append(attempt)
            if attempt.status_code is not None and 200 <= attempt.status_code < 300:
                return DeliveryResult(delivered=True, attempts=tuple(attempts), permanent=False)
            if not retry:
                return DeliveryResult(delivered=False, attempts=tuple(attempts), permanent=True)
            if number < delivery.attempts:
                sleep(wait_before(number, delivery.backoff_seconds, retry_after))
    finally:
        if client is None:
            http.close()
    return DeliveryResult(delivered=False, attempts=tuple(attempts), permanent=False)


def _try_once(
    http: httpx.Client,
    url: str,
    content: bytes,
    headers: Mapping[str, str],
    timeout: httpx.Timeout,
    number: int,
) -> tuple[Attempt, bool, str | None]:
    """One POST: the attempt, whether another try may help, and the Retry-After header."""
    started_at = dt.datetime.now(dt.UTC)
    start = time.perf_counter()
    status: int | None = None
    error: str | None = None
    retry_after: str | None = None
    retry = True
    try:
        # Streamed so the answer's body is never read: only its status and headers matter.
        with http.stream("POST", url, content=content, headers=headers, timeout=timeout) as answer:
            status = answer.status_code
            retry_after = answer.headers.get("Retry-After")
            retry = status in RETRY_STATUSES or status >= 500
    except httpx.TimeoutException as exc:
        error = f"timeout: no answer within {timeout.read} s ({type(exc).__name__})"
    except _PERMANENT_ERRORS as exc:
        error = f"{type(exc).__name__}: {exc}"
        retry = False
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    elapsed_ms = (time.perf_counter() - start) * 1000
    return Attempt(number, started_at, status, error, elapsed_ms), retry, retry_after
