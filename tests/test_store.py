"""The score store on DuckDB and PostgreSQL: atomic runs, history, trend, versions, modes,
overrides and the audit log, through the Engine as a user would."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from healthscore import Engine, load_scorecard_text
from healthscore.store import OverrideError, RunInProgressError, Store
from healthscore.store._runs import begin_run, fail_run
from tests._stores import STORE_KINDS, fresh_store_target
from tests.conftest import AS_OF, EXAMPLE, duckdb_with, toy_frames

OWNERS = ["alice", "bob", "chen"]


def frames_with_owner() -> dict[str, pd.DataFrame]:
    frames = toy_frames()
    accounts = frames["accounts"]
    accounts["owner"] = [OWNERS[i % 3] for i in range(len(accounts))]
    return frames


@pytest.fixture(params=STORE_KINDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    target = fresh_store_target(request, request.param, tmp_path)
    engine = Engine(EXAMPLE, duckdb_with(frames_with_owner()), store=target)
    yield engine
    engine.close()


def version_of(engine: Engine, version: str) -> Engine:
    text = EXAMPLE.read_text().replace('version: "1.2.0"', f'version: "{version}"', 1)
    scorecard = load_scorecard_text(text, str(EXAMPLE))
    return Engine(scorecard, engine.con, store=engine.store)


def test_a_run_stores_every_row_once_with_its_run(engine: Engine) -> None:
    result = engine.run(as_of=AS_OF)
    runs = engine.store.runs()
    assert list(runs["status"]) == ["done"] and int(runs["row_count"][0]) == len(result.scores)
    current = engine.store.current("saas_health")
    assert len(current) == len(result.scores) > 0
    assert set(current["run_id"]) == {result.run_id}
    assert current["account_id"].is_unique
    by_account = current.set_index("account_id")
    computed = engine.score(as_of=AS_OF).set_index("account_id")
    assert (by_account.loc[computed.index, "computed_score"] == computed["score"]).all()
    assert (by_account["score"] == by_account["computed_score"]).all()  # no override yet
    assert set(by_account["owner"]) <= set(OWNERS)
    # Sub-scores and metric values come back as columns; reasons as lists.
    sub = "measure.usage.seat_utilization"
    pd.testing.assert_series_equal(by_account.loc[computed.index, sub], computed[sub])
    assert "logins_30d" in current.columns
    assert all(isinstance(r, list) for r in current["reasons"])


def test_a_failed_run_stores_nothing_and_the_previous_stays_current(engine: Engine) -> None:
    first = engine.run(as_of=AS_OF)

    def broken(day: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
        raise RuntimeError("the warehouse went away")

    from healthscore.store import record_run

    with pytest.raises(RuntimeError, match="went away"):
        record_run(engine.store, engine.scorecard, broken, AS_OF + dt.timedelta(days=1))
    runs = engine.store.runs().set_index("run_id")
    assert sorted(runs["status"]) == ["done", "failed"]
    failed = runs[runs["status"] == "failed"].iloc[0]
    assert "went away" in failed["error"]
    assert set(engine.store.current("saas_health")["run_id"]) == {first.run_id}
    engine.run(as_of=AS_OF + dt.timedelta(days=1))  # the lock was released


def test_two_runs_at_once_never_both_write(engine: Engine) -> None:
    store, card = engine.store, engine.scorecard
    ticket = begin_run(store.db, card.name, card.version, card.hash, AS_OF, "live")
    with pytest.raises(RunInProgressError, match="already running"):
        engine.run(as_of=AS_OF)
    # A shadow run is another lane: it may run beside the live one.
    engine.run(as_of=AS_OF, mode="shadow")
    fail_run(store.db, ticket, RuntimeError("stopped by the test"))
    engine.run(as_of=AS_OF)
    assert len(store.current(card.name)) > 0


def test_trend_compares_with_the_score_a_week_and_a_month_before(engine: Engine) -> None:
    days = [AS_OF - dt.timedelta(days=30), AS_OF - dt.timedelta(days=7), AS_OF]
    results = [engine.run(as_of=day) for day in days]
    month, week, now = (r.scores.set_index("account_id") for r in results)
    both = now.index.intersection(week.index).intersection(month.index)
    assert len(both) > 10
    assert now.loc[both, "trend_7d"].round(2).equals((now["score"] - week["score"])[both].round(2))
    assert (
        now.loc[both, "trend_30d"].round(2).equals((now["score"] - month["score"])[both].round(2))
    )
    assert month["trend_7d"].isna().all() and month["direction"].isna().all()
    change = now.loc[both, "trend_30d"]
    assert (now.loc[both][change >= 2]["direction"] == "up").all()
    assert (now.loc[both][change <= -2]["direction"] == "down").all()
    assert (now.loc[both][change.abs() < 2]["direction"] == "flat").all()


def test_history_marks_versions_and_keeps_shadow_and_backfill_apart(engine: Engine) -> None:
    engine.run(as_of=AS_OF - dt.timedelta(days=20))
    newer = version_of(engine, "9.1.0")
    newer.run(as_of=AS_OF - dt.timedelta(days=7), mode="shadow")
    newer.run(as_of=AS_OF - dt.timedelta(days=60), mode="backfill")
    newer.run(as_of=AS_OF)
    account = engine.store.current("saas_health")["account_id"].iloc[0]
    live = engine.store.history(account, "saas_health")
    assert list(live["scorecard_version"]) == ["1.2.0", "9.1.0"]
    assert list(live["mode"]) == ["live", "live"]
    shadow = engine.store.history(account, "saas_health", mode="shadow")
    assert list(shadow["as_of"].dt.date) == [AS_OF - dt.timedelta(days=7)]
    versions = engine.store.versions().set_index("scorecard_version")
    assert versions.loc["9.1.0", ["live_runs", "shadow_runs", "backfill_runs"]].tolist() == [
        1,
        1,
        1,
    ]
    assert versions.loc["1.2.0", "live_runs"] == 1
    # The live trend never reads the shadow run of a week before.
    assert engine.store.current("saas_health")["trend_7d"].isna().all()


def test_override_lifecycle_and_audit(engine: Engine) -> None:
    engine.run(as_of=AS_OF)
    current = engine.store.current("saas_health").set_index("account_id")
    account = str(current.index[0])
    today = dt.date.today()
    override_id = engine.override(
        account, score=35, reason="champion left", by="dana", until=today + dt.timedelta(days=10)
    )
    engine.override(
        str(current.index[1]), tier="green", reason="renewal signed", by="dana", until=today
    )
    result = engine.run(as_of=today).scores.set_index("account_id")
    assert result.loc[account, "score"] == 35 and result.loc[account, "tier"] == "red"
    assert result.loc[account, "override_id"] == override_id
    other = result.loc[str(current.index[1])]
    assert other["tier"] == "green" and other["score"] == other["computed_score"]
    untouched = result.drop(index=[account, str(current.index[1])])
    assert untouched["override_id"].isna().all()
    # Expired: the computed score returns by itself.
    later = engine.run(as_of=today + dt.timedelta(days=11)).scores.set_index("account_id")
    assert pd.isna(later.loc[account, "override_id"])
    assert later.loc[account, "score"] == later.loc[account, "computed_score"]
    # Revoked: ends at once.
    assert engine.revoke_override(account, by="erin") == [override_id]
    again = engine.run(as_of=today + dt.timedelta(days=1)).scores.set_index("account_id")
    assert pd.isna(again.loc[account, "override_id"])
    log = engine.audit_log()
    assert list(log["action"])[:3] == ["override.revoke", "override.set", "override.set"]
    assert set(log["actor"]) == {"dana", "erin"}


def test_bad_overrides_are_refused_with_every_reason(engine: Engine) -> None:
    engine.run(as_of=AS_OF)
    account = str(engine.store.current("saas_health")["account_id"].iloc[0])
    with pytest.raises(OverrideError, match="unknown account 'nobody'"):
        engine.override("nobody", score=10, reason="x", by="dana", until=dt.date.today())
    with pytest.raises(OverrideError) as caught:
        engine.override(
            account, score=120, tier="purple", reason=" ", by="dana", until=dt.date(2020, 1, 1)
        )
    message = str(caught.value)
    for part in ("0 to 100. Got 120", "Got 'purple'", "in the past", "reason"):
        assert part in message
    assert engine.audit_log().empty


def test_an_old_score_table_is_kept_aside(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE healthscore_scores AS SELECT 'a1' AS account_id, 50.0 AS score")
    store = Store.open(path)
    assert {"healthscore_scores", "healthscore_scores_before_runs"} <= store.db.tables()
    assert store.runs().empty
    store.close()


def test_rescoring_a_few_accounts_lays_them_over_the_full_run(engine: Engine) -> None:
    full = engine.run(as_of=AS_OF)
    accounts = sorted(full.scores["account_id"])[:2]
    # Same data, same date: ranked against the stored population (log_z measures), the
    # rescored rows must come out exactly as in the full run.
    again = engine.rescore(accounts, as_of=AS_OF)
    assert sorted(again.scores["account_id"]) == accounts
    before = full.scores.set_index("account_id").loc[accounts]
    after = again.scores.set_index("account_id").loc[accounts]
    pd.testing.assert_series_equal(after["computed_score"], before["computed_score"])
    current = engine.store.current("saas_health")
    assert len(current) == len(full.scores) and current["account_id"].is_unique
    by_run = current.set_index("account_id")["run_id"]
    assert set(by_run[accounts]) == {again.run_id}
    assert set(by_run.drop(index=accounts)) == {full.run_id}
    # As it was before the rescoring: the full run alone.
    earlier = engine.store.current("saas_health", before=again.run_id)
    assert set(earlier["run_id"]) == {full.run_id}
    # Rescoring is its own lane: it may run while a full run holds the live lock.
    card = engine.scorecard
    ticket = begin_run(engine.store.db, card.name, card.version, card.hash, AS_OF, "live")
    engine.rescore(accounts[:1], as_of=AS_OF)
    fail_run(engine.store.db, ticket, RuntimeError("stopped by the test"))


def test_reasons_encode_alike_in_python_and_in_duckdb(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from healthscore.store import _rows

    scores = Engine(EXAMPLE, duckdb_with(toy_frames())).score(as_of=AS_OF)
    assert any(any(r["code"].startswith("gate.") for r in rs) for rs in scores["reasons"])
    small = _rows._reason_texts(scores["reasons"])  # a few rows: Python's json
    monkeypatch.setattr(_rows, "FEW_ROWS", 0)
    large = _rows._reason_texts(scores["reasons"])  # DuckDB's to_json
    for python_texts, duckdb_texts in zip(small, large, strict=True):
        assert [json.loads(t) for t in python_texts] == [json.loads(t) for t in duckdb_texts]
    assert small[0] != large[0]  # two writers really ran (their spacing differs)


def test_pages_of_current_rows_are_what_filtering_every_row_gives(engine: Engine) -> None:
    from healthscore.store._current import Filters

    engine.run(as_of=AS_OF)
    ids = sorted(engine.store.current("saas_health")["account_id"])
    engine.rescore(ids[:3], as_of=AS_OF + dt.timedelta(days=1))
    engine.rescore(ids[1:2], as_of=AS_OF + dt.timedelta(days=2))
    every = engine.store.current("saas_health")
    assert set(every.loc[every.account_id.isin(ids[:3]), "as_of"].dt.date) == {
        AS_OF + dt.timedelta(days=1),
        AS_OF + dt.timedelta(days=2),
    }
    red_or_not = "red" if (every.tier == "red").any() else "yellow"
    cases = [
        (Filters(), "account_id", 5, 0),
        (Filters(tier=red_or_not), "score", 4, 1),
        (Filters(min_score=40, max_score=80), "-score", 7, 2),
        (Filters(owner="alice", segment=str(every.segment.iloc[0])), "score", 3, 0),
        (Filters(accounts=(ids[1], "nobody")), "account_id", 10, 0),
        (Filters(), "score", 10, len(ids) + 5),  # past the end: empty, total still right
    ]
    for filters, sort, limit, offset in cases:
        expected = every
        for column in ("tier", "segment", "owner"):
            if getattr(filters, column) is not None:
                expected = expected[expected[column] == getattr(filters, column)]
        if filters.min_score is not None:
            expected = expected[expected.score.between(filters.min_score, filters.max_score)]
        if filters.accounts is not None:
            expected = expected[expected.account_id.isin(filters.accounts)]
        by, ascending = {"score": ("score", True), "-score": ("score", False)}.get(
            sort, ("account_id", True)
        )
        expected = expected.sort_values([by, "account_id"], ascending=[ascending, True])
        total, page = engine.store.current_page("saas_health", filters, sort, limit, offset)
        assert total == len(expected), (filters, sort)
        assert (
            page.account_id.tolist() == expected.account_id.iloc[offset : offset + limit].tolist()
        )
        assert page.score.tolist() == expected.score.iloc[offset : offset + limit].tolist()


def test_recent_rows_of_a_few_accounts_are_theirs_of_everyone_s(engine: Engine) -> None:
    engine.run(as_of=AS_OF)
    engine.run(as_of=AS_OF + dt.timedelta(days=1))
    every = engine.store.recent("saas_health", AS_OF + dt.timedelta(days=2), 30)
    few = sorted(set(every["account_id"]))[:2]
    theirs = engine.store.recent("saas_health", AS_OF + dt.timedelta(days=2), 30, accounts=few)
    expected = every[every["account_id"].isin(few)].reset_index(drop=True)
    assert len(theirs) == 4
    pd.testing.assert_frame_equal(theirs.reset_index(drop=True), expected)
    assert engine.store.recent("saas_health", AS_OF + dt.timedelta(days=2), 30, accounts=[]).empty


def test_before_a_run_of_another_mode_is_no_live_run(engine: Engine) -> None:
    first = engine.run(as_of=AS_OF)
    shadow = engine.run(as_of=AS_OF + dt.timedelta(days=1), mode="shadow")
    second = engine.run(as_of=AS_OF + dt.timedelta(days=2))
    assert engine.store.latest_run("saas_health") == second.run_id
    assert engine.store.latest_run("saas_health", before=second.run_id) == first.run_id
    assert engine.store.latest_run("saas_health", before=shadow.run_id) is None
    assert engine.store.latest_run("saas_health", mode="shadow") == shadow.run_id
    assert engine.store.current("saas_health", before=shadow.run_id).empty
    assert "override_reason" in engine.store.current("saas_health", before=first.run_id)
