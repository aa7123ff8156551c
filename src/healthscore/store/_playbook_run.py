"""Run the playbooks: the latest live run against the accounts' rows before it -> actions.

Every decision is written to the action log: taken actions (task created, webhook
delivered or dead-lettered, journey exported), held-out accounts of the control group,
cooldown skips and dry runs. An action is logged as 'pending' before it is attempted,
so a crash in between leaves a row the next run retries (the idempotency key lets the
receiver drop the repeat) instead of an action nobody knows about.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from healthscore.playbooks import (
    Delivery,
    control_group,
    deliver,
    export_journey,
    fire,
    render,
    slack_body,
    slack_escape,
)
from healthscore.spec import ResolvedScorecard
from healthscore.spec._playbook_types import (
    Action,
    JourneyAction,
    PlaybookSpec,
    ScoreDrop,
    SlackAction,
    TaskAction,
    WebhookAction,
)
from healthscore.store._actions import (
    TAKEN,
    actions_since,
    create_task,
    dead_letter,
    due_date,
    log_action,
    log_attempts,
    set_action_status,
)
from healthscore.store._database import StoreError
from healthscore.store._runs import new_id, utc_now
from healthscore.store._store import Store


@dataclass
class PlaybookRun:
    """What one `playbooks run` did: the runs compared and every logged decision."""

    run_id: str | None
    previous_run_id: str | None
    as_of: dt.date | None
    fired: pd.DataFrame = field(default_factory=pd.DataFrame)
    log: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> pd.DataFrame:
        """Logged decisions per playbook and status."""
        if not self.log:
            return pd.DataFrame(columns=["playbook", "status", "actions"])
        frame = pd.DataFrame(self.log)
        return frame.groupby(["playbook", "status"]).size().reset_index(name="actions")


def idempotency_key(scorecard: str, playbook: str, account: str, run_id: str, index: int) -> str:
    """The same for every retry and re-run of one action on one trigger."""
    text = f"{scorecard}\x00{playbook}\x00{account}\x00{run_id}\x00{index}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def check_secrets(scorecard: ResolvedScorecard) -> None:
    """Refuse to start when a signing secret's environment variable is missing."""
    missing = sorted(
        {
            f"{action.secret_env} (playbook {playbook.name})"
            for playbook in scorecard.playbooks
            for action in playbook.actions
            if isinstance(action, WebhookAction | JourneyAction)
            and action.secret_env
            and not os.environ.get(action.secret_env)
        }
    )
    if missing:
        raise StoreError(
            "set the webhook signing secret(s) in the environment first: " + ", ".join(missing)
        )


def run_playbooks(
    store: Store,
    scorecard: ResolvedScorecard,
    dry_run: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> PlaybookRun:
    """Evaluate the latest live run against the previous one and act on what fired."""
    if not dry_run:
        check_secrets(scorecard)
    name = scorecard.name
    run_id = store.latest_run(name)
    if run_id is None:
        raise StoreError(f"no finished live run of '{name}' yet: run `healthscore score` first")
    previous_id = store.latest_run(name, before=run_id)
    current = store.scores(run_id)
    # What each account looked like before this run (a full run and later rescorings).
    # A rescoring of a few accounts needs only their rows, not every account's.
    scope = store.db.query("SELECT scope FROM healthscore_runs WHERE run_id = ?", (run_id,))[
        "scope"
    ].iloc[0]
    wanted = list(current["account_id"]) if scope == "accounts" else None
    previous = store.current(name, before=run_id, accounts=wanted) if previous_id else None
    as_of = pd.Timestamp(current["as_of"].iloc[0]).date() if len(current) else None
    result = PlaybookRun(run_id, previous_id, as_of)
    if as_of is None or not scorecard.playbooks:
        return result
    longest = max(
        (p.trigger.days for p in scorecard.playbooks if isinstance(p.trigger, ScoreDrop)),
        default=0,
    )
    history = store.recent(name, as_of, longest, accounts=wanted) if longest else current.iloc[0:0]
    tiers = [tier.name for tier in scorecard.tiers]
    result.fired = fire(scorecard.playbooks, current, previous, history, tiers)
    if result.fired.empty:
        return result
    # Only this run's rows and those inside the longest cooldown can decide anything: the
    # whole log grows with every run and this runs after every rescore.
    longest_cooldown = max(p.cooldown_days for p in scorecard.playbooks)
    since = as_of - dt.timedelta(days=longest_cooldown)
    done = actions_since(store.db, name, TAKEN, run_id, since)
    settled_keys = set(done.loc[done["status"] != "pending", "idempotency_key"])
    empty = done.iloc[0:0]
    # Not dict(groupby): a GroupBy has a `keys` attribute, which dict() takes for a mapping.
    groups = done.groupby(["playbook", "account_id"])
    by_trigger = {key: rows for key, rows in groups}  # noqa: C416
    by_account = current.set_index("account_id")
    playbooks = {p.name: p for p in scorecard.playbooks}
    for record in result.fired.to_dict("records"):
        hit = {str(key): value for key, value in record.items()}
        playbook = playbooks[str(hit["playbook"])]
        row: pd.Series = by_account.loc[str(hit["account_id"])]  # type: ignore[assignment]
        mine = by_trigger.get((playbook.name, hit["account_id"]), empty)
        decision = _decide(playbook, str(hit["account_id"]), mine, run_id, as_of)
        if decision == "handled":
            continue
        for index, action in enumerate(playbook.actions):
            entry = _entry(name, playbook, hit, row, run_id, as_of, index, action, decision)
            if entry["idempotency_key"] in settled_keys:
                continue
            if dry_run:
                # The decision a real run would take, logged without taking it.
                entry["status"], entry["detail"] = "dry_run", _WOULD[decision]
            if dry_run or decision != "act":
                log_action(store.db, entry)
                result.log.append(entry)
                continue
            _act(store, scorecard, playbook, action, hit, row, entry, sleep)
            result.log.append(entry)
    return result


def _decide(
    playbook: PlaybookSpec,
    account_id: str,
    mine: pd.DataFrame,
    run_id: str,
    as_of: dt.date,
) -> str:
    """handled (acted on already), skipped_cooldown, held_out or act.

    A 'pending' row (a crash between logging and acting) does not count as handled: the
    action is tried again, under the same idempotency key.
    """
    settled = mine[mine["status"] != "pending"]
    this_run = settled["run_id"] == run_id
    if this_run.sum() >= len(playbook.actions):
        return "handled"
    if this_run.any():
        return "act"  # part of it was done before a crash: finish the rest
    since = as_of - dt.timedelta(days=playbook.cooldown_days)
    if (pd.to_datetime(settled["as_of"]).dt.date > since).any():
        return "skipped_cooldown"
    if control_group(playbook.name, account_id, playbook.holdout_percent):
        return "held_out"
    return "act"


_WOULD = {
    "skipped_cooldown": "would skip: cooldown",
    "held_out": "would hold out: control group",
    "act": "would act",
}


def _entry(
    scorecard: str,
    playbook: PlaybookSpec,
    hit: dict[str, Any],
    row: pd.Series,
    run_id: str,
    as_of: dt.date,
    index: int,
    action: Action,
    decision: str,
) -> dict[str, Any]:
    account = str(hit["account_id"])
    held = decision == "held_out"
    return {
        "action_id": new_id("act"),
        "run_id": run_id,
        "scorecard_name": scorecard,
        "playbook": playbook.name,
        "account_id": account,
        "as_of": as_of,
        "trigger_kind": str(hit["trigger"]),
        "why": str(hit["why"]),
        "tier": str(row["tier"]),
        "score": float(row["score"]),
        "action_index": index,
        "action_type": _kind(action),
        "group_name": "control" if held else "treated",
        "status": "pending" if decision == "act" else decision,
        "idempotency_key": idempotency_key(scorecard, playbook.name, account, run_id, index),
        "detail": None,
        "logged_at": utc_now(),
    }


def _kind(action: Action) -> str:
    return {
        TaskAction: "task",
        WebhookAction: "webhook",
        JourneyAction: "journey",
        SlackAction: "slack",
    }[type(action)]


def template_fields(hit: dict[str, Any], row: pd.Series, playbook: PlaybookSpec) -> dict[str, Any]:
    reasons = "; ".join(str(r["text"]) for r in row["reasons"][:3])
    probability = row.get("churn_probability")
    return {
        "account_id": hit["account_id"],
        "score": f"{float(row['score']):.1f}",
        "tier": row["tier"],
        "previous_tier": hit.get("previous_tier") or "",
        "segment": row.get("segment") or "",
        "stage": row.get("stage") or "",
        "owner": row.get("owner") or "",
        "reasons": reasons,
        "trigger": hit["why"],
        "playbook": playbook.label,
        "churn_probability": "" if pd.isna(probability) else f"{float(probability):.2f}",
        "as_of": pd.Timestamp(row["as_of"]).date().isoformat(),
    }


def payload(
    entry: dict[str, Any], row: pd.Series, hit: dict[str, Any], scorecard: ResolvedScorecard
) -> dict[str, Any]:
    """The JSON body of a webhook or journey call: the account, its score and reasons."""
    probability = row.get("churn_probability")
    return {
        "event": "healthscore.playbook",
        "idempotency_key": entry["idempotency_key"],
        "playbook": entry["playbook"],
        "trigger": entry["trigger_kind"],
        "why": entry["why"],
        "as_of": entry["as_of"].isoformat(),
        "run_id": entry["run_id"],
        "scorecard": {"name": scorecard.name, "version": scorecard.version},
        "account": {
            "account_id": entry["account_id"],
            "segment": row.get("segment"),
            "stage": row.get("stage"),
            "owner": row.get("owner"),
            "value_tier": row.get("value_tier"),
        },
        "score": float(row["score"]),
        "tier": str(row["tier"]),
        "previous_tier": hit.get("previous_tier"),
        "churn_probability": None if pd.isna(probability) else float(probability),
        "reasons": list(row["reasons"]),
    }


def _act(
    store: Store,
    scorecard: ResolvedScorecard,
    playbook: PlaybookSpec,
    action: Action,
    hit: dict[str, Any],
    row: pd.Series,
    entry: dict[str, Any],
    sleep: Callable[[float], None],
) -> None:
    db = store.db
    # An earlier attempt that crashed half-way is replaced by this one (same key).
    db.execute(
        "UPDATE healthscore_actions SET status = 'retried' "
        "WHERE idempotency_key = ? AND status = 'pending'",
        (entry["idempotency_key"],),
    )
    log_action(db, entry)  # pending first: a crash from here on is retried, not lost
    fields = template_fields(hit, row, playbook)
    if isinstance(action, TaskAction):
        now = utc_now()
        task_id = new_id("task")
        create_task(
            db,
            {
                "task_id": task_id,
                "action_id": entry["action_id"],
                "scorecard_name": scorecard.name,
                "playbook": playbook.name,
                "account_id": entry["account_id"],
                "title": render(action.title, fields),
                "owner": action.owner or fields["owner"] or None,
                "due": due_date(entry["as_of"], action.sla_days),
                "status": "open",
                "created_at": now,
                "updated_at": now,
                "updated_by": None,
            },
        )
        _finish(store, entry, "created", f"task {task_id}")
        return
    if isinstance(action, JourneyAction) and action.export is not None:
        path = Path(action.export)
        path = path if path.is_absolute() else scorecard.base_dir / path
        rows = pd.DataFrame(
            [
                {
                    "account_id": entry["account_id"],
                    "journey": action.journey,
                    "score": entry["score"],
                    "tier": entry["tier"],
                    "reasons": list(row["reasons"]),
                    "playbook": playbook.name,
                    "as_of": entry["as_of"],
                    "idempotency_key": entry["idempotency_key"],
                }
            ]
        )
        written = export_journey(path, rows)
        _finish(store, entry, "exported", f"{path} ({written} row)")
        return
    body = payload(entry, row, hit, scorecard)
    secret = None
    if isinstance(action, SlackAction):
        body = slack_body(render(action.text, fields, escape=slack_escape))
    else:
        assert isinstance(action, WebhookAction | JourneyAction)
        secret = os.environ.get(action.secret_env) if action.secret_env else None
        if isinstance(action, JourneyAction):
            body["journey"] = action.journey
    url = action.url
    assert url is not None
    outcome = deliver(
        Delivery(
            url,
            body,
            secret,
            entry["idempotency_key"],
            action.timeout_seconds,
            action.attempts,
            action.backoff_seconds,
        ),
        sleep=sleep,
    )
    log_attempts(db, entry["action_id"], outcome.attempts)
    if outcome.delivered:
        _finish(store, entry, "delivered", f"{url} after {len(outcome.attempts)} attempt(s)")
        return
    last = outcome.attempts[-1]
    error = last.error or f"HTTP {last.status_code}"
    dead_letter(db, entry["action_id"], url, body, error)
    _finish(store, entry, "dead_letter", f"{url}: {error} after {len(outcome.attempts)} attempt(s)")


def _finish(store: Store, entry: dict[str, Any], status: str, detail: str) -> None:
    set_action_status(store.db, entry["action_id"], status, detail)
    entry["status"], entry["detail"] = status, detail
