"""Runs: one scoring of every account, stored whole or not at all.

A run is recorded as 'running' and holds a lock row for its scorecard and mode; its
score rows, its 'done' status and the lock's release land in one transaction. A run
that fails is marked 'failed'; one killed mid-write leaves no rows (the transaction
never committed) and its lock is taken over by the next run once its process is gone.
Readers only ever see the rows of 'done' runs, so the previous run stays current.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Literal

import duckdb
import pandas as pd

from healthscore.store._database import Database, StoreError
from healthscore.store._schema import RUN_LOCKS, RUNS, SCORES

RunMode = Literal["live", "shadow", "backfill"]
RUN_MODES: tuple[RunMode, ...] = ("live", "shadow", "backfill")
# 'all': every account of the population; 'accounts': a few accounts rescored between
# full runs (after their events arrived), laid over the last full run.
RunScope = Literal["all", "accounts"]


class RunInProgressError(StoreError):
    """Another run of the same scorecard and mode is writing; this one was refused."""


@dataclass(frozen=True)
class RunTicket:
    """What a started run needs to finish: its id and what it scores."""

    run_id: str
    scorecard_name: str
    mode: RunMode
    as_of: dt.date
    scope: RunScope = "all"

    @property
    def lane(self) -> str:
        """What the lock serializes: full runs of a mode, or rescoring of accounts."""
        return self.mode if self.scope == "all" else f"{self.mode}:accounts"


def utc_now() -> dt.datetime:
    # Stored without a zone (both databases agree on naive timestamps); always UTC.
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def new_id(prefix: str) -> str:
    """Sortable by creation time, unique without coordination."""
    return f"{prefix}-{utc_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def _process_gone(host: str | None, pid: int | None) -> bool:
    if host != socket.gethostname() or pid is None:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _unique_violation(error: BaseException) -> bool:
    if isinstance(error, duckdb.ConstraintException | duckdb.TransactionException):
        return True
    try:
        import psycopg.errors
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(error, psycopg.errors.UniqueViolation)


def begin_run(
    db: Database,
    name: str,
    version: str,
    content_hash: str,
    as_of: dt.date,
    mode: RunMode,
    actor: str | None = None,
    scope: RunScope = "all",
) -> RunTicket:
    """Record a run as started and take its lock, or raise RunInProgressError."""
    if mode not in RUN_MODES:
        raise StoreError(f"run mode: one of {', '.join(RUN_MODES)}. Got '{mode}'.")
    run_id = new_id("run")
    ticket = RunTicket(run_id, name, mode, as_of, scope)
    lane = ticket.lane
    held = db.query(
        f"SELECT run_id, host, pid, started_at FROM {RUN_LOCKS} "
        "WHERE scorecard_name = ? AND mode = ?",
        (name, lane),
    )
    if not held.empty:
        lock = held.iloc[0]
        pid = None if pd.isna(lock["pid"]) else int(lock["pid"])
        if not _process_gone(lock["host"], pid):
            raise _in_progress(name, lane, lock)
        with db.transaction():
            db.execute(
                f"UPDATE {RUNS} SET status = 'abandoned', finished_at = ?, "
                "error = 'its process ended before the run finished' WHERE run_id = ?",
                (utc_now(), lock["run_id"]),
            )
            db.execute(f"DELETE FROM {RUN_LOCKS} WHERE run_id = ?", (lock["run_id"],))
    now = utc_now()
    host, pid = socket.gethostname(), os.getpid()
    try:
        with db.transaction():
            db.execute(
                f"INSERT INTO {RUN_LOCKS} (scorecard_name, mode, run_id, host, pid, started_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (name, lane, run_id, host, pid, now),
            )
            db.execute(
                f"INSERT INTO {RUNS} (run_id, scorecard_name, scorecard_version, scorecard_hash, "
                "as_of, mode, scope, status, started_at, host, pid, actor) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)",
                (run_id, name, version, content_hash, as_of, mode, scope, now, host, pid, actor),
            )
    except Exception as error:
        if not _unique_violation(error):
            raise
        again = db.query(
            f"SELECT run_id, host, pid, started_at FROM {RUN_LOCKS} "
            "WHERE scorecard_name = ? AND mode = ?",
            (name, lane),
        )
        if again.empty:  # the other run finished in between: the caller may simply retry
            raise RunInProgressError(
                f"another {lane} run of '{name}' was starting at the same moment; try again"
            ) from None
        raise _in_progress(name, lane, again.iloc[0]) from None
    return ticket


def _in_progress(name: str, mode: str, lock: pd.Series) -> RunInProgressError:
    return RunInProgressError(
        f"a {mode} run of '{name}' is already running (run {lock['run_id']}, started "
        f"{lock['started_at']} UTC by process {lock['pid']} on {lock['host']}); wait for it "
        "to finish. Two runs never write at once."
    )


def finish_run(db: Database, ticket: RunTicket, rows: pd.DataFrame) -> int:
    """Store the rows, mark the run done and release its lock: all or nothing."""
    with db.transaction():
        if len(rows):
            db.insert_frame(SCORES, rows)
        db.execute(
            f"UPDATE {RUNS} SET status = 'done', finished_at = ?, row_count = ? WHERE run_id = ?",
            (utc_now(), len(rows), ticket.run_id),
        )
        db.execute(f"DELETE FROM {RUN_LOCKS} WHERE run_id = ?", (ticket.run_id,))
    return len(rows)


def fail_run(db: Database, ticket: RunTicket, error: BaseException) -> None:
    """Mark the run failed (it wrote nothing) and release its lock."""
    message = f"{type(error).__name__}: {error}"[:2000]
    with db.transaction():
        db.execute(
            f"UPDATE {RUNS} SET status = 'failed', finished_at = ?, error = ? WHERE run_id = ?",
            (utc_now(), message, ticket.run_id),
        )
        db.execute(f"DELETE FROM {RUN_LOCKS} WHERE run_id = ?", (ticket.run_id,))
