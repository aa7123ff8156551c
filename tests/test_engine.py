"""The example scorecard end to end: routing, reasons, missing data, bad assignments."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest

from healthscore import AssignmentError, Engine, load_scorecard, load_scorecard_text
from tests.conftest import AS_OF, EXAMPLE, duckdb_with, toy_frames

SCORE_COLUMNS = [
    "account_id",
    "as_of",
    "score",
    "tier",
    "confidence",
    "reasons",
    "segment",
    "stage",
    "scorecard_name",
    "scorecard_version",
    "scorecard_hash",
]


@pytest.fixture(scope="module")
def scores() -> pd.DataFrame:
    return Engine(EXAMPLE, duckdb_with(toy_frames())).score(as_of=AS_OF)


def test_score_frame_shape(scores: pd.DataFrame) -> None:
    assert list(scores.columns[: len(SCORE_COLUMNS)]) == SCORE_COLUMNS
    assert {
        "group.usage",
        "group.support",
        "measure.usage.seat_utilization",
        "measure.usage.integration_connected",
    } <= set(scores.columns)
    assert scores.score.between(0, 100).all() and scores.score.notna().all()
    assert scores.confidence.between(0, 1).all()
    assert set(scores.tier) <= {"green", "yellow", "red"}
    assert (scores.as_of == AS_OF).all()
    assert scores.scorecard_hash.nunique() == 1


def test_segment_and_stage_routing(scores: pd.DataFrame) -> None:
    frames = toy_frames()
    accounts = frames["accounts"].set_index("account_id")
    segment = accounts.loc[scores.account_id, "segment"].to_numpy()
    tenure = (pd.Timestamp(AS_OF) - accounts.loc[scores.account_id, "created_at"]).dt.days
    expected_segment = np.where(segment == "enterprise", "enterprise", "self_serve")
    expected_stage = np.where(tenure.to_numpy() < 90, "onboarding", "mature")
    assert scores.segment.tolist() == expected_segment.tolist()
    assert scores.stage.tolist() == expected_stage.tolist()
    onboarding = scores[scores.stage == "onboarding"]
    assert len(onboarding) > 0
    # Onboarding accounts are judged on milestones, not mature usage levels.
    assert onboarding["measure.usage.integration_connected"].notna().all()
    assert onboarding["measure.usage.seat_utilization"].isna().all()


def test_reasons_are_ordered_coded_and_worded(scores: pd.DataFrame) -> None:
    for reasons in scores.reasons:
        codes = [r["code"] for r in reasons]
        assert len(codes) == len(set(codes))
        plain = [r for r in reasons if not r["code"].startswith("gate.")]
        impacts = [r["impact"] for r in plain]
        drags = [i for i in impacts if i < 0]
        lifts = [i for i in impacts if i > 0]
        assert impacts == drags + lifts
        assert drags == sorted(drags) and lifts == sorted(lifts, reverse=True)
        assert len(drags) <= 3 and len(lifts) <= 2
    texts = [r["text"] for reasons in scores.reasons for r in reasons]
    assert any(re.fullmatch(r"\d+ active users of \d+ seats \(\d+%\)", t) for t in texts)
    assert any(
        re.fullmatch(r"logins (down|up) \d+% against the previous 30 days", t) for t in texts
    )


def test_gate_caps_the_score_and_says_why(scores: pd.DataFrame) -> None:
    gated = scores[[any(r["code"] == "gate.payment_risk" for r in rs) for rs in scores.reasons]]
    assert len(gated) > 0
    assert (gated.score <= 40).all()
    reason = next(r for r in gated.reasons.iloc[0] if r["code"] == "gate.payment_risk")
    assert reason["text"] == "2+ failed payments in 90 days caps health at 40"


def test_account_with_no_events_gets_a_low_confidence_score() -> None:
    frames = toy_frames()
    frames["accounts"] = pd.concat(
        [
            frames["accounts"],
            pd.DataFrame(
                {
                    "account_id": ["silent"],
                    "name": ["Silent"],
                    "segment": ["smb"],
                    "created_at": [pd.Timestamp("2025-01-01")],
                    "seats": [10],
                    "renewal_date": [dt.date(2026, 12, 1)],
                }
            ),
        ],
        ignore_index=True,
    )
    subscription = (
        frames["subscriptions"]
        .iloc[[0]]
        .assign(subscription_id="s_silent", account_id="silent", end_date=None)
    )
    frames["subscriptions"] = pd.concat([frames["subscriptions"], subscription], ignore_index=True)
    scores = Engine(EXAMPLE, duckdb_with(frames)).score(as_of=AS_OF).set_index("account_id")
    silent = scores.loc["silent"]
    assert 0 <= silent.score <= 100
    assert silent.confidence < scores.drop("silent").confidence.median()
    # Never logged in: login recency scores worst (missing: worst), so the account sits
    # below its peers, though with little data behind the score.
    assert silent.score < scores.drop("silent").score.median()


def test_empty_tables_score_without_crashing() -> None:
    frames = toy_frames()
    for name in ("events", "invoices", "tickets", "surveys"):
        frames[name] = frames[name].iloc[0:0]
    scores = Engine(EXAMPLE, duckdb_with(frames)).score(as_of=AS_OF)
    accounts = frames["accounts"].merge(frames["subscriptions"], on="account_id")
    active = (accounts.created_at < pd.Timestamp(AS_OF)) & accounts.end_date.isna()
    assert len(scores) == int(active.sum()) > 0
    assert scores.score.notna().all() and scores.confidence.notna().all()


def test_window_longer_than_the_account_life() -> None:
    frames = toy_frames()
    young = frames["accounts"].created_at.idxmax()
    frames["accounts"].loc[young, "created_at"] = pd.Timestamp(AS_OF) - pd.Timedelta(days=2)
    scores = Engine(EXAMPLE, duckdb_with(frames)).score(as_of=AS_OF).set_index("account_id")
    account = frames["accounts"].loc[young, "account_id"]
    assert scores.loc[account, "stage"] == "onboarding"
    assert np.isfinite(scores.loc[account, "score"])


def card_with_segments(segments: str) -> str:
    # The example's renewal playbook names the enterprise segment these tests replace.
    text = EXAMPLE.read_text().replace("    when: {segment: [enterprise]}\n", "")
    start = text.index("segments:\n  enterprise")
    end = text.index("# stages:")
    return text[:start] + segments + "\n" + text[end:]


def test_overlapping_segments_are_named() -> None:
    card = load_scorecard_text(
        card_with_segments(
            'segments:\n  big:\n    when: "seats >= 10"\n  small:\n    when: "seats <= 20"\n'
        ),
        str(EXAMPLE),
    )
    with pytest.raises(AssignmentError, match="more than one segment"):
        Engine(card, duckdb_with(toy_frames())).score(as_of=AS_OF)


def test_unassigned_accounts_are_named() -> None:
    card = load_scorecard_text(
        card_with_segments('segments:\n  big:\n    when: "seats >= 40"\n'), str(EXAMPLE)
    )
    with pytest.raises(AssignmentError, match="match no segment") as caught:
        Engine(card, duckdb_with(toy_frames())).score(as_of=AS_OF)
    assert "add a segment without 'when'" in str(caught.value)


def test_segment_override_changes_only_what_it_names() -> None:
    card = load_scorecard(EXAMPLE)
    enterprise = card.variants[("enterprise", "mature")]
    self_serve = card.variants[("self_serve", "mature")]
    weights = {g.name: g.weight for g in enterprise.groups}
    assert weights["support"] == 35 and weights["usage"] == 40
    seat = {m.name: m for m in enterprise.measures}["seat_utilization"]
    base = {m.name: m for m in self_serve.measures}["seat_utilization"]
    assert (seat.normalizer.bad, seat.normalizer.good) == (0.05, 0.5)  # type: ignore[union-attr]
    assert (base.normalizer.bad, base.normalizer.good) == (0.1, 0.7)  # type: ignore[union-attr]
    assert seat.weight == base.weight == 3


def test_data_check_finds_unknown_columns_and_types() -> None:
    text = (
        EXAMPLE.read_text()
        .replace("column: csat", "column: satisfaction")
        .replace("where: \"status == 'failed'\"", 'where: "status == 3"')
    )
    card = load_scorecard_text(text, "card.yaml")
    issues = Engine(card, duckdb_with(toy_frames())).check()
    objects = {issue.object for issue in issues}
    assert "metrics.avg_csat_90d.column" in objects
    assert "metrics.failed_payments_90d.where" in objects
    assert all(issue.file == "card.yaml" and issue.line > 1 for issue in issues)


def test_missing_table_is_reported() -> None:
    frames = toy_frames()
    del frames["surveys"]
    issues = Engine(EXAMPLE, duckdb_with(frames)).check()
    assert [i.object for i in issues] == ["sources.surveys"]
    assert "Tables in the warehouse" in issues[0].found


def test_data_check_finds_unknown_rate_metrics_and_text_minimums() -> None:
    text = (
        EXAMPLE.read_text()
        .replace("metric: active_users_30d\n    per: seats", "metric: active_users\n    per: seats")
        .replace(
            "kind: avg\n    table: tickets\n    column: csat",
            "kind: min\n    table: tickets\n    column: priority",
        )
    )
    card = load_scorecard_text(text, "card.yaml")
    objects = {issue.object for issue in Engine(card, duckdb_with(toy_frames())).check()}
    assert {"metrics.seat_utilization.metric", "metrics.avg_csat_90d.column"} <= objects
