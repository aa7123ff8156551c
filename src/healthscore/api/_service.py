"""The service's state: one engine, one lock, the rescoring worker, limits, schedules.

DuckDB connections must not be used from two threads at once, and a scoring run is a
sequence of reads and one write: every engine call goes through `Service.lock`, so the
web handlers (a thread pool) and the background workers take turns.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import duckdb
from pydantic import BaseModel, Field

from healthscore.compute._ingest import prepare_intake
from healthscore.engine import Engine
from healthscore.store import RunInProgressError

log = logging.getLogger("healthscore.service")
T = TypeVar("T")


class ServiceSettings(BaseModel):
    scorecard: Path
    warehouse: str | None = None
    store: str | None = None
    max_body_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    max_batch: int = Field(default=10_000, gt=0)
    requests_per_minute: int = Field(default=6_000, gt=0, description="Per API key.")
    coalesce_seconds: float = Field(
        default=0.02,
        ge=0,
        description="After a rescore, wait this long for more of a burst before the next "
        "(an event after a quiet spell is rescored at once).",
    )
    refresh_every_seconds: float | None = Field(
        default=None, gt=0, description="Full rescoring on a schedule; None: only on demand."
    )


class Rescorer:
    """Rescores accounts after their events, coalescing bursts into one rescore each."""

    def __init__(self, service: Service, delay: float) -> None:
        self.service = service
        self.delay = delay
        self.pending: set[str] = set()
        self.busy = False
        self.rescores = 0  # engine.rescore calls, for tests and /v1/ready
        self.last_error: str | None = None
        self._cond = threading.Condition()
        self._stop = False
        self._finished = 0.0  # monotonic time the last rescore ended
        self._thread = threading.Thread(target=self._loop, name="rescorer", daemon=True)
        self._thread.start()

    def request(self, accounts: list[str]) -> None:
        if not accounts:
            return
        with self._cond:
            self.pending.update(accounts)
            self._cond.notify_all()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every requested account is rescored (True) or the timeout passes."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.pending or self.busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self.pending and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
            # After a quiet spell an event is rescored at once. Right after a rescore, more
            # of a burst is likely on its way: wait for it, so it costs one rescore.
            wait = self._finished + self.delay - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            with self._cond:
                batch, self.pending = sorted(self.pending), set()
                self.busy = True
            try:
                self.service.call(partial(_rescore_and_act, accounts=batch))
                self.rescores += 1
                self.last_error = None
            except Exception as error:  # the service must outlive one bad rescore
                self.last_error = f"{type(error).__name__}: {error}"
                log.exception("rescoring %d account(s) failed", len(batch))
            finally:
                with self._cond:
                    self._finished = time.monotonic()
                    self.busy = False
                    self._cond.notify_all()


def _rescore_and_act(engine: Engine, *, accounts: list[str]) -> None:
    engine.rescore(accounts)
    if engine.scorecard.playbooks:
        engine.run_playbooks()


class RateLimiter:
    """At most `per_minute` requests per key in any sliding minute."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str, now: float | None = None) -> float | None:
        """None when the request may go ahead; else seconds until it may."""
        moment = time.monotonic() if now is None else now
        with self._lock:
            seen = self._seen.setdefault(key, deque())
            while seen and seen[0] <= moment - 60.0:
                seen.popleft()
            if len(seen) >= self.per_minute:
                return max(0.0, seen[0] + 60.0 - moment)
            seen.append(moment)
            return None


class Service:
    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.engine = Engine(settings.scorecard, settings.warehouse, settings.store)
        self._prepare()
        # What importing and opening left behind lives as long as the service: kept out of
        # the collector's full passes, which otherwise cost every rescore 0.1-0.5 s.
        # (`close` gives them back, so a closed service can be collected.)
        gc.collect()
        gc.freeze()
        self.lock = threading.RLock()
        self.started_at = dt.datetime.now(dt.UTC)
        self.limiter = RateLimiter(settings.requests_per_minute)
        self.rescorer = Rescorer(self, settings.coalesce_seconds)
        self.batch: threading.Thread | None = None
        self.batch_error: str | None = None
        self._stop = threading.Event()
        self._scheduler: threading.Thread | None = None
        if settings.refresh_every_seconds:
            self._scheduler = threading.Thread(target=self._schedule, daemon=True)
            self._scheduler.start()

    def _prepare(self) -> None:
        """Compile the rescoring query and build the id copies now, not at the first event.
        A warehouse without its tables yet (the first events will create them) is fine:
        each is then done when first needed."""
        try:
            self.engine.prepare_rescoring()
            raw = getattr(self.engine.con, "con", None)
            if isinstance(raw, duckdb.DuckDBPyConnection):  # intake writes DuckDB warehouses
                prepare_intake(raw, "events")
        except Exception as error:  # an optimisation must not stop the service starting
            log.warning("not prepared at start (done when first needed): %s", str(error))

    def call(self, work: Callable[[Engine], T]) -> T:
        with self.lock:
            return work(self.engine)

    def start_batch(self, actor: str) -> bool:
        """Start a full rescore in the background; False when one is already going."""
        with self.lock:
            if self._stop.is_set() or (self.batch is not None and self.batch.is_alive()):
                return False
            self.batch = threading.Thread(target=self._batch, args=(actor,), daemon=True)
            self.batch.start()
            return True

    def _batch(self, actor: str) -> None:
        try:
            self.call(lambda engine: _full_run(engine, actor))
            self.batch_error = None
        except RunInProgressError as error:
            self.batch_error = str(error)
        except Exception as error:
            self.batch_error = f"{type(error).__name__}: {error}"
            log.exception("the batch run failed")

    def _schedule(self) -> None:
        every = self.settings.refresh_every_seconds or 0.0
        while not self._stop.wait(every):
            self.start_batch("schedule")

    def close(self) -> None:
        self._stop.set()
        self.rescorer.stop()
        # The scheduler first: it could otherwise start a batch after the join below.
        if self._scheduler is not None:
            self._scheduler.join(timeout=10)
        with self.lock:  # a batch starting right now has its thread set when this returns
            batch = self.batch
        if batch is not None:
            batch.join(timeout=60)
        self.engine.close()
        gc.unfreeze()

    def status(self) -> dict[str, Any]:
        return {
            "scorecard": self.engine.scorecard.name,
            "version": self.engine.scorecard.version,
            "pending_rescores": len(self.rescorer.pending),
            "rescores": self.rescorer.rescores,
            "last_rescore_error": self.rescorer.last_error,
            "batch_running": self.batch is not None and self.batch.is_alive(),
            "last_batch_error": self.batch_error,
        }


def _full_run(engine: Engine, actor: str) -> None:
    engine.run(actor=actor)
    if engine.scorecard.playbooks:
        engine.run_playbooks()
