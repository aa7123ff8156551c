"""The action log, tasks, delivery attempts and dead letters of playbooks."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, Literal

import pandas as pd

from healthscore.store._database import Database, StoreError
from healthscore.store._overrides import audit
from healthscore.store._runs import utc_now
from healthscore.store._schema import ACTIONS, DEAD_LETTERS, DELIVERIES, TASKS

TaskStatus = Literal["open", "done", "dismissed"]
TASK_STATUSES: tuple[TaskStatus, ...] = ("open", "done", "dismissed")
# Statuses of an action that was taken (or tried): they start a cooldown and they make
# a trigger handled. Dry runs and cooldown skips do neither.
TAKEN = ("created", "delivered", "exported", "dead_letter", "held_out", "pending")


def log_action(db: Database, row: dict[str, Any]) -> None:
    names = list(row)
    db.execute(
        f"INSERT INTO {ACTIONS} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
        [row[name] for name in names],
    )


def set_action_status(db: Database, action_id: str, status: str, detail: str | None) -> None:
    db.execute(
        f"UPDATE {ACTIONS} SET status = ?, detail = ? WHERE action_id = ?",
        (status, detail, action_id),
    )


def log_attempts(db: Database, action_id: str, attempts: Sequence[Any]) -> None:
    for attempt in attempts:
        db.execute(
            f"INSERT INTO {DELIVERIES} (action_id, attempt, attempted_at, status_code, error, "
            "elapsed_ms) VALUES (?, ?, ?, ?, ?, ?)",
            (
                action_id,
                attempt.number,
                attempt.started_at.replace(tzinfo=None),
                attempt.status_code,
                attempt.error,
                attempt.elapsed_ms,
            ),
        )


def dead_letter(db: Database, action_id: str, url: str, body: dict[str, Any], error: str) -> None:
    db.execute(
        f"INSERT INTO {DEAD_LETTERS} (action_id, url, body, last_error, failed_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (action_id, url, json.dumps(body, sort_keys=True, default=str), error, utc_now()),
    )


def actions(
    db: Database,
    scorecard_name: str,
    playbook: str | None = None,
    statuses: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Action log rows, oldest first."""
    where, params = ["scorecard_name = ?"], [scorecard_name]
    if playbook is not None:
        where.append("playbook = ?")
        params.append(playbook)
    if statuses:
        where.append(f"status IN ({', '.join('?' * len(statuses))})")
        params += list(statuses)
    return db.query(
        f"SELECT * FROM {ACTIONS} WHERE {' AND '.join(where)} ORDER BY logged_at, action_index",
        params,
    )


def actions_since(
    db: Database, scorecard_name: str, statuses: Sequence[str], run_id: str, since: dt.date
) -> pd.DataFrame:
    """The action log rows a playbook run decides from: those of its own run (what it
    handled already) and those dated after `since` (what starts a cooldown)."""
    marks = ", ".join("?" * len(statuses))
    return db.query(
        f"SELECT * FROM {ACTIONS} WHERE scorecard_name = ? AND status IN ({marks}) "
        "AND (run_id = ? OR as_of > ?) ORDER BY logged_at, action_index",
        [scorecard_name, *statuses, run_id, since],
    )


def attempts_of(db: Database, action_id: str) -> pd.DataFrame:
    return db.query(
        f"SELECT * FROM {DELIVERIES} WHERE action_id = ? ORDER BY attempt", (action_id,)
    )


def dead_letters(db: Database) -> pd.DataFrame:
    return db.query(f"SELECT * FROM {DEAD_LETTERS} ORDER BY failed_at")


def create_task(db: Database, row: dict[str, Any]) -> None:
    names = list(row)
    db.execute(
        f"INSERT INTO {TASKS} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
        [row[name] for name in names],
    )


def tasks(
    db: Database,
    scorecard_name: str | None = None,
    status: str | None = None,
    owner: str | None = None,
    account_id: str | None = None,
) -> pd.DataFrame:
    """Tasks, earliest due first."""
    where, params = ["1 = 1"], []
    for column, value in (
        ("scorecard_name", scorecard_name),
        ("status", status),
        ("owner", owner),
        ("account_id", account_id),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    return db.query(
        f"SELECT * FROM {TASKS} WHERE {' AND '.join(where)} ORDER BY due, created_at", params
    )


def update_task(db: Database, task_id: str, status: str, by: str, note: str | None = None) -> None:
    """Move a task to open/done/dismissed, attributed in the audit log."""
    if status not in TASK_STATUSES:
        raise StoreError(f"task status: one of {', '.join(TASK_STATUSES)}. Got '{status}'")
    found = db.query(f"SELECT status FROM {TASKS} WHERE task_id = ?", (task_id,))
    if found.empty:
        raise StoreError(f"unknown task '{task_id}'")
    with db.transaction():
        db.execute(
            f"UPDATE {TASKS} SET status = ?, updated_at = ?, updated_by = ? WHERE task_id = ?",
            (status, utc_now(), by, task_id),
        )
        audit(
            db,
            by,
            "task.update",
            f"task:{task_id}",
            {"from": str(found["status"].iloc[0]), "to": status, "note": note},
        )


def due_date(as_of: dt.date, sla_days: int) -> dt.date:
    return as_of + dt.timedelta(days=sla_days)
