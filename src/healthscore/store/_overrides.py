"""Manual overrides with reason, author and expiry; every change goes to the audit log."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd

from healthscore.store._database import Database, StoreError
from healthscore.store._runs import new_id, utc_now
from healthscore.store._schema import AUDIT, OVERRIDES


class OverrideError(StoreError):
    """An override that cannot be set (unknown account, past expiry, nothing to set...)."""


def audit(db: Database, actor: str, action: str, obj: str, detail: dict[str, Any]) -> None:
    db.execute(
        f"INSERT INTO {AUDIT} (logged_at, actor, action, object, detail) VALUES (?, ?, ?, ?, ?)",
        (utc_now(), actor, action, obj, json.dumps(detail, default=str, sort_keys=True)),
    )


def add_override(
    db: Database,
    scorecard_name: str,
    account_id: str,
    *,
    score: float | None,
    tier: str | None,
    reason: str,
    author: str,
    until: dt.date,
    tiers: tuple[str, ...],
    today: dt.date,
) -> str:
    """Record an override (checked first); returns its id. The caller checks the account."""
    problems = []
    if score is None and tier is None:
        problems.append("give --score or --tier (or both)")
    if score is not None and not 0 <= score <= 100:
        problems.append(f"score: a number from 0 to 100. Got {score}")
    if tier is not None and tier not in tiers:
        problems.append(f"tier: one of {', '.join(tiers)}. Got '{tier}'")
    if until < today:
        problems.append(f"until: a date from today ({today}) on. Got {until}, in the past")
    if not reason.strip():
        problems.append("reason: a sentence saying why. Got nothing")
    if not author.strip():
        problems.append("by: who decided. Got nothing")
    if problems:
        raise OverrideError(f"override for {account_id}: " + "; ".join(problems))
    override_id = new_id("ovr")
    with db.transaction():
        db.execute(
            f"INSERT INTO {OVERRIDES} (override_id, scorecard_name, account_id, score, tier, "
            "reason, author, created_at, until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                override_id,
                scorecard_name,
                account_id,
                score,
                tier,
                reason,
                author,
                utc_now(),
                until,
            ),
        )
        audit(
            db,
            author,
            "override.set",
            f"account:{account_id}",
            {
                "override_id": override_id,
                "score": score,
                "tier": tier,
                "until": until,
                "reason": reason,
                "scorecard": scorecard_name,
            },
        )
    return override_id


def revoke_override(db: Database, scorecard_name: str, account_id: str, by: str) -> list[str]:
    """End the account's active overrides now; returns their ids (empty: none was active)."""
    active = active_overrides(db, scorecard_name, dt.date.today(), accounts=[account_id])
    ids = [str(i) for i in active["override_id"]]
    if not ids:
        return []
    with db.transaction():
        for override_id in ids:
            db.execute(
                f"UPDATE {OVERRIDES} SET revoked_at = ?, revoked_by = ? WHERE override_id = ?",
                (utc_now(), by, override_id),
            )
        audit(db, by, "override.revoke", f"account:{account_id}", {"override_ids": ids})
    return ids


def active_overrides(
    db: Database,
    scorecard_name: str,
    on: dt.date,
    accounts: list[str] | None = None,
) -> pd.DataFrame:
    """Overrides in force on a date: made by then, not revoked, not expired."""
    frame = db.query(
        f"SELECT * FROM {OVERRIDES} WHERE scorecard_name = ? AND revoked_at IS NULL "
        "AND until >= ? ORDER BY created_at",
        (scorecard_name, on),
    )
    if frame.empty:
        return frame
    made = pd.to_datetime(frame["created_at"]).dt.date
    frame = frame[made <= on]
    if accounts is not None:
        frame = frame[frame["account_id"].isin(accounts)]
    return frame.reset_index(drop=True)


def list_overrides(db: Database, scorecard_name: str | None = None) -> pd.DataFrame:
    where, params = ("WHERE scorecard_name = ?", (scorecard_name,)) if scorecard_name else ("", ())
    return db.query(f"SELECT * FROM {OVERRIDES} {where} ORDER BY created_at", params)


def audit_log(db: Database, limit: int = 200) -> pd.DataFrame:
    return db.query(f"SELECT * FROM {AUDIT} ORDER BY logged_at DESC LIMIT {int(limit)}")
