"""A real HTTP receiver on localhost for playbook tests: records every request, can fail
the first tries, and can check the HMAC signature like a customer's endpoint would."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from healthscore.playbooks import SIGNATURE_HEADER, verify


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    signed_ok: bool | None


@dataclass
class Receiver:
    url: str
    secret: str | None = None
    fail_first: dict[str, int] = field(default_factory=dict)  # path -> failures before 200
    always_fail: set[str] = field(default_factory=set)
    signed_paths: set[str] = field(default_factory=lambda: {"/hook"})
    requests: list[Received] = field(default_factory=list)

    def on(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]


@contextmanager
def receiver(secret: str | None = None) -> Iterator[Receiver]:
    state = Receiver(url="", secret=secret)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            signature = self.headers.get(SIGNATURE_HEADER)
            signed_ok = None
            if state.secret is not None and self.path in state.signed_paths:
                signed_ok = signature is not None and verify(state.secret, signature, raw)
            with lock:
                state.requests.append(
                    Received(self.path, dict(self.headers), json.loads(raw), signed_ok)
                )
                seen = len(state.on(self.path))
            failing = self.path in state.always_fail or seen <= state.fail_first.get(self.path, 0)
            status = 401 if signed_ok is False else 503 if failing else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
