"""Playbooks end to end on both stores: stored runs -> triggers -> tasks, signed webhooks
with retries and dead letters against a real receiver, Slack, journeys, cooldowns,
control groups, dry runs and idempotency."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from healthscore import Engine, load_scorecard_text
from healthscore.core import assign_tiers
from healthscore.playbooks import control_group
from healthscore.store import StoreError, record_run
from healthscore.store._actions import attempts_of, dead_letters
from tests._receiver import Receiver, receiver
from tests._stores import STORE_KINDS, fresh_store_target
from tests.conftest import EXAMPLE, duckdb_with, toy_frames

SECRET = "whsec_test_secret"
DAY = dt.date(2026, 6, 1)


def scorecard_text(url: str, holdout: int = 0, export: str = "journeys/winback.csv") -> str:
    return EXAMPLE.read_text() + (
        "\nplaybooks:\n"
        "  rescue_red:\n"
        "    trigger: {enter_tier: red}\n"
        "    cooldown: 14d\n"
        f"    holdout: {holdout}\n"
        "    actions:\n"
        '      - task: {title: "Call {account_id}: {trigger}", sla: 3d}\n'
        f"      - webhook: {{url: '{url}/hook', secret_env: HS_TEST_SECRET, attempts: 3, "
        "backoff: 0s, timeout: 5s}\n"
        "  falling:\n"
        "    trigger: {drop: {points: 10, days: 30}}\n"
        "    when: {owner: [alice]}\n"
        "    actions:\n"
        f"      - slack: {{url: '{url}/slack', text: '{{account_id}} fell: {{trigger}}'}}\n"
        f"      - journey: {{name: winback, export: {export}}}\n"
    )


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.setenv("HS_TEST_SECRET", SECRET)
    with receiver(secret=SECRET) as state:
        yield state


@pytest.fixture(params=STORE_KINDS)
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh_store_target(request, request.param, tmp_path)


def engine_for(text: str, tmp_path: Path, store: str) -> Engine:
    path = tmp_path / "scorecard.yaml"
    path.write_text(text)
    card = load_scorecard_text(text, str(path))
    engine = Engine(card, duckdb_with(toy_frames()), store=store)
    return engine


def store_scores(engine: Engine, day: dt.date, scores: dict[str, float]) -> str:
    """A live run with exactly these scores (owners: a* alice, others bob)."""
    ids = list(scores)
    values = np.array([scores[a] for a in ids], dtype=float)
    frame = pd.DataFrame(
        {
            "account_id": ids,
            "as_of": pd.Timestamp(day),
            "score": values,
            "tier": assign_tiers(values, engine.scorecard.tiers),
            "confidence": 1.0,
            "reasons": [[{"code": "usage.logins", "text": "logins fell", "impact": -9.0}]]
            * len(ids),
            "segment": "enterprise",
            "stage": "mature",
            "scorecard_name": engine.scorecard.name,
            "scorecard_version": engine.scorecard.version,
            "scorecard_hash": engine.scorecard.hash,
            "churn_probability": np.nan,
            "owner": ["alice" if a.startswith("a") else "bob" for a in ids],
        }
    )
    result = record_run(engine.store, engine.scorecard, lambda _: (frame, frame[[]]), day)
    return result.run_id


def test_tier_entry_creates_a_task_and_a_signed_webhook(
    hook: Receiver, tmp_path: Path, store_target: str
) -> None:
    engine = engine_for(scorecard_text(hook.url), tmp_path, store_target)
    store_scores(engine, DAY, {"a1": 80, "a2": 80, "b1": 30})
    run = store_scores(engine, DAY + dt.timedelta(days=7), {"a1": 20, "a2": 80, "b1": 25})
    result = engine.run_playbooks(sleep=lambda _: None)
    assert result.run_id == run
    # a1 entered red (and fell 60 points); b1 was red already; a2 did not move.
    fired = result.fired.set_index("playbook")["account_id"]
    assert fired.to_dict() == {"rescue_red": "a1", "falling": "a1"}
    tasks = engine.tasks()
    assert list(tasks["account_id"]) == ["a1"] and tasks["owner"].tolist() == ["alice"]
    assert tasks["title"][0] == "Call a1: entered red (was green)"
    assert pd.Timestamp(tasks["due"][0]).date() == DAY + dt.timedelta(days=10)
    [call] = hook.on("/hook")
    assert call.signed_ok is True
    assert call.body["account"]["account_id"] == "a1" and call.body["tier"] == "red"
    assert call.body["reasons"][0]["text"] == "logins fell"
    assert call.headers["Idempotency-Key"] == call.body["idempotency_key"]
    log = engine.actions().set_index("action_type")
    assert log.loc["task", "status"] == "created" and log.loc["webhook", "status"] == "delivered"
    # The same run again: the trigger was handled, nothing fires twice.
    again = engine.run_playbooks(sleep=lambda _: None)
    assert again.log == [] and len(hook.on("/hook")) == 1 and len(engine.tasks()) == 1
    engine.update_task(str(tasks["task_id"][0]), "done", by="dana")
    assert engine.tasks().empty and len(engine.tasks(status="done")) == 1
    assert engine.audit_log()["action"].tolist() == ["task.update"]
    engine.close()


def test_a_failing_receiver_is_retried(hook: Receiver, tmp_path: Path, store_target: str) -> None:
    engine = engine_for(scorecard_text(hook.url), tmp_path, store_target)
    store_scores(engine, DAY, {"a1": 80})
    store_scores(engine, DAY + dt.timedelta(days=7), {"a1": 20})
    hook.fail_first["/hook"] = 2
    waits: list[float] = []
    result = engine.run_playbooks(sleep=waits.append)
    [webhook] = [e for e in result.log if e["action_type"] == "webhook"]
    assert webhook["status"] == "delivered"
    attempts = attempts_of(engine.store.db, webhook["action_id"])
    assert attempts["status_code"].tolist() == [503, 503, 200]
    assert len(waits) == 2 and dead_letters(engine.store.db).empty
    engine.close()


def test_dead_letter_after_the_last_try(hook: Receiver, tmp_path: Path, store_target: str) -> None:
    engine = engine_for(scorecard_text(hook.url), tmp_path, store_target)
    store_scores(engine, DAY, {"a1": 80})
    store_scores(engine, DAY + dt.timedelta(days=7), {"a1": 20})
    hook.always_fail.add("/hook")
    result = engine.run_playbooks(sleep=lambda _: None)
    [webhook] = [e for e in result.log if e["action_type"] == "webhook"]
    assert webhook["status"] == "dead_letter" and "503" in webhook["detail"]
    assert len(hook.on("/hook")) == 3
    keys = {r.headers["Idempotency-Key"] for r in hook.on("/hook")}
    assert keys == {webhook["idempotency_key"]}  # one key for every retry
    letters = dead_letters(engine.store.db)
    assert list(letters["action_id"]) == [webhook["action_id"]]
    assert '"account_id": "a1"' in letters["body"][0]
    engine.close()


def test_cooldown_control_group_slack_and_journey(
    hook: Receiver, tmp_path: Path, store_target: str
) -> None:
    accounts = [f"a{i:02d}" for i in range(40)]
    engine = engine_for(scorecard_text(hook.url, holdout=50), tmp_path, store_target)
    store_scores(engine, DAY, dict.fromkeys(accounts, 90.0))
    store_scores(engine, DAY + dt.timedelta(days=7), dict.fromkeys(accounts, 20.0))
    result = engine.run_playbooks(sleep=lambda _: None)
    log = pd.DataFrame(result.log)
    rescue = log[log["playbook"] == "rescue_red"].drop_duplicates("account_id")
    held = set(rescue.loc[rescue["status"] == "held_out", "account_id"])
    expected = {a for a in accounts if control_group("rescue_red", a, 50)}
    assert held == expected and 0 < len(held) < len(accounts)
    assert (rescue.loc[rescue["account_id"].isin(held), "group_name"] == "control").all()
    assert set(engine.tasks()["account_id"]) == set(accounts) - held  # held out: no task
    # The drop playbook (owner alice, no holdout) sent Slack messages and enrolled everyone.
    slack = hook.on("/slack")
    assert len(slack) == len(accounts)
    assert slack[0].body["text"].endswith("points in 30 days (from 90.0 to 20.0)")
    assert slack[0].body["blocks"][0]["type"] == "section"
    journey = pd.read_csv(tmp_path / "journeys" / "winback.csv")
    assert sorted(journey["account_id"]) == accounts and set(journey["journey"]) == {"winback"}
    # Back to green and red again within 14 days: cooldown, no second action.
    store_scores(engine, DAY + dt.timedelta(days=14), dict.fromkeys(accounts, 90.0))
    store_scores(engine, DAY + dt.timedelta(days=17), dict.fromkeys(accounts, 20.0))
    later = pd.DataFrame(engine.run_playbooks(sleep=lambda _: None).log)
    rescue = later[later["playbook"] == "rescue_red"]
    assert set(rescue["status"]) == {"skipped_cooldown"}
    assert len(engine.tasks()) == len(accounts) - len(held)
    engine.close()


def test_dry_run_sends_nothing_and_does_not_count(
    hook: Receiver, tmp_path: Path, store_target: str
) -> None:
    engine = engine_for(scorecard_text(hook.url), tmp_path, store_target)
    store_scores(engine, DAY, {"a1": 80})
    store_scores(engine, DAY + dt.timedelta(days=7), {"a1": 20})
    dry = engine.run_playbooks(dry_run=True)
    assert {e["status"] for e in dry.log} == {"dry_run"}
    assert {e["detail"] for e in dry.log} == {"would act"}
    assert hook.requests == [] and engine.tasks().empty
    assert not (tmp_path / "journeys").exists()
    real = engine.run_playbooks(sleep=lambda _: None)
    assert {e["status"] for e in real.log} >= {"created", "delivered"}
    engine.close()


def test_a_missing_secret_stops_before_anything_fires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HS_TEST_SECRET", raising=False)
    engine = engine_for(scorecard_text("http://127.0.0.1:9"), tmp_path, str(tmp_path / "s.duckdb"))
    store_scores(engine, DAY, {"a1": 80})
    store_scores(engine, DAY + dt.timedelta(days=7), {"a1": 20})
    with pytest.raises(StoreError, match="HS_TEST_SECRET"):
        engine.run_playbooks()
    assert engine.actions().empty
    engine.close()


def test_no_run_yet_is_a_clear_error(tmp_path: Path) -> None:
    engine = engine_for(scorecard_text("http://127.0.0.1:9"), tmp_path, str(tmp_path / "s.duckdb"))
    with pytest.raises(StoreError, match="no finished live run"):
        engine.run_playbooks(dry_run=True)
    engine.close()


def test_lift_recovers_a_planted_effect(tmp_path: Path) -> None:
    """2,000 accounts turn red; 30% are held out. Treated accounts churn at 20% instead of
    40% and recover to green at 50% instead of 30%: the report must find both."""
    rng = np.random.default_rng(11)
    accounts = [f"p{i:04d}" for i in range(2000)]
    text = EXAMPLE.read_text().replace(
        "outcome:\n  kind: subscription_end\n  grace: 7d\n  horizon: 30d",
        "outcome:\n  kind: table\n  kinds: [churned]\n  horizon: 30d",
    )
    text = text.replace(
        "  subscriptions: {table: subscriptions}\n",
        "  subscriptions: {table: subscriptions}\n  outcomes: {table: outcomes}\n",
    )
    text += (
        "\nplaybooks:\n  rescue_red:\n    trigger: {enter_tier: red}\n    holdout: 30\n"
        '    actions:\n      - task: {title: "Call {account_id}", sla: 3d}\n'
    )
    trigger_day = DAY + dt.timedelta(days=7)
    treated = np.array([not control_group("rescue_red", a, 30) for a in accounts])
    churned = rng.random(len(accounts)) < np.where(treated, 0.2, 0.4)
    outcomes = pd.DataFrame(
        {
            "account_id": [a for a, c in zip(accounts, churned, strict=True) if c] + ["zz"],
            "ts": [pd.Timestamp(trigger_day + dt.timedelta(days=10))] * int(churned.sum())
            + [pd.Timestamp(DAY + dt.timedelta(days=90))],
            "kind": ["churned"] * int(churned.sum()) + ["renewed"],
        }
    )
    frames = toy_frames() | {"outcomes": outcomes}
    path = tmp_path / "scorecard.yaml"
    path.write_text(text)
    engine = Engine(
        load_scorecard_text(text, str(path)), duckdb_with(frames), store=str(tmp_path / "s.duckdb")
    )
    store_scores(engine, DAY, dict.fromkeys(accounts, 90.0))
    store_scores(engine, trigger_day, dict.fromkeys(accounts, 20.0))
    engine.run_playbooks()
    back = rng.random(len(accounts)) < np.where(treated, 0.5, 0.3)
    later = dict(zip(accounts, np.where(back, 90.0, 20.0), strict=True))
    store_scores(engine, trigger_day + dt.timedelta(days=14), later)
    store_scores(engine, trigger_day + dt.timedelta(days=40), later)

    report = engine.playbook_lift().to_frame().set_index(["tier", "outcome"])
    churn = report.loc[("all", "churn")]
    assert churn["treated_n"] + churn["control_n"] == len(accounts)
    assert churn["low"] <= -0.2 <= churn["high"]
    assert churn["verdict"] == "the play lowers churn"
    recovery = report.loc[("all", "recovery")]
    assert recovery["low"] <= 0.2 <= recovery["high"]
    assert recovery["verdict"] == "the play helps recovery"
    engine.close()


def test_an_action_left_pending_by_a_crash_is_tried_again(
    hook: Receiver, tmp_path: Path, store_target: str
) -> None:
    engine = engine_for(scorecard_text(hook.url), tmp_path, store_target)
    store_scores(engine, DAY, {"a1": 80})
    store_scores(engine, DAY + dt.timedelta(days=7), {"a1": 20})
    first = engine.run_playbooks(sleep=lambda _: None)
    [webhook] = [e for e in first.log if e["action_type"] == "webhook"]
    # As if the process died after logging the action and before recording the answer.
    engine.store.db.execute(
        "UPDATE healthscore_actions SET status = 'pending' WHERE action_id = ?",
        (webhook["action_id"],),
    )
    again = engine.run_playbooks(sleep=lambda _: None)
    [retry] = [e for e in again.log if e["action_type"] == "webhook"]
    assert retry["status"] == "delivered"
    assert retry["idempotency_key"] == webhook["idempotency_key"]
    keys = [r.headers["Idempotency-Key"] for r in hook.on("/hook")]
    assert keys == [webhook["idempotency_key"]] * 2  # the receiver can drop the repeat
    log = engine.actions().set_index("action_id")["status"]
    assert log[webhook["action_id"]] == "retried"
    engine.close()
