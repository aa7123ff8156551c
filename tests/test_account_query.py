"""The rescoring query compiled once: the same metrics as the Ibis expression, or none."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthscore import Engine, load_scorecard_text
from healthscore.compute import metric_frame
from healthscore.compute._account_query import AccountQuery
from tests.conftest import EXAMPLE, duckdb_with, toy_frames

# Account ids a SQL string literal must carry intact.
ODD_IDS = ["o'brien", "x'); drop table events; --", "naïve ünïcode", "back\\slash", "'"]


def odd_frames() -> dict[str, pd.DataFrame]:
    """The toy warehouse with five of its accounts (and their rows) renamed to odd ids."""
    frames = toy_frames(seed=7, accounts=30, events=3000)
    renames = dict(zip([f"a{i:03d}" for i in range(len(ODD_IDS))], ODD_IDS, strict=True))
    return {
        name: frame.assign(account_id=frame.account_id.replace(renames))
        if "account_id" in frame
        else frame
        for name, frame in frames.items()
    }


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(EXAMPLE, duckdb_with(odd_frames()))


ACCOUNTS = st.lists(
    st.sampled_from([*ODD_IDS, "a005", "a006", "a017", "a029", "never-seen"]),
    min_size=1,
    max_size=6,
    unique=True,
)
DAYS = st.dates(dt.date(2025, 12, 1), dt.date(2026, 9, 1))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(accounts=ACCOUNTS, day=DAYS)
def test_compiled_query_returns_what_the_expression_returns(
    engine: Engine, accounts: list[str], day: dt.date
) -> None:
    query = AccountQuery.compile(engine.scorecard, engine.sources)
    assert query is not None
    expected = metric_frame(engine.scorecard, engine.sources, [day], accounts)
    pd.testing.assert_frame_equal(query.frame(day, accounts), expected)


def test_engine_rescoring_uses_the_compiled_query(engine: Engine) -> None:
    assert engine._account_query is not None
    day = dt.date(2026, 6, 1)
    every = engine.metrics(day).set_index("account_id")
    chosen = sorted({"o'brien", "'", every.index[-1]} & set(every.index))
    assert len(chosen) >= 2
    metrics = engine.metrics(day, accounts=chosen).set_index("account_id")
    pd.testing.assert_frame_equal(metrics, every.loc[chosen])


def test_a_marker_in_the_scorecard_itself_means_no_compiled_query() -> None:
    # The account marker spelled out in a condition: substituting it would change the
    # query's meaning, and the compile-time proof must notice.
    text = EXAMPLE.read_text().replace(
        "where: \"type == 'login'\"",
        "where: \"type == 'login' and user_id != '__healthscore_account_mark_a__'\"",
        1,
    )
    assert text != EXAMPLE.read_text()
    card = load_scorecard_text(text, str(EXAMPLE))
    engine = Engine(card, duckdb_with(odd_frames()))
    assert AccountQuery.compile(card, engine.sources) is None
    day = dt.date(2026, 6, 1)
    # The engine falls back to building the expression: same answer as for everyone.
    every = engine.metrics(day).set_index("account_id")
    alone = engine.metrics(day, accounts=[every.index[3]]).set_index("account_id")
    pd.testing.assert_frame_equal(alone, every.iloc[[3]])


def test_tables_from_another_connection_mean_no_compiled_query(tmp_path: Path) -> None:
    # Ibis copies such a table into an in-memory one and registers it only when it runs
    # the query: SQL compiled earlier cannot name it.
    crm = tmp_path / "crm.duckdb"
    con = ibis.duckdb.connect(str(crm))
    con.create_table("crm_accounts", odd_frames()["accounts"])
    con.disconnect()
    text = EXAMPLE.read_text().replace(
        "accounts: {table: accounts}",
        f"accounts: {{table: crm_accounts, connection: 'duckdb://{crm}'}}",
    )
    card = load_scorecard_text(text, str(EXAMPLE))
    assert card.sources["accounts"].connection
    engine = Engine(card, duckdb_with(odd_frames()))
    assert engine._account_query is None
    day = dt.date(2026, 6, 1)
    every = engine.metrics(day).set_index("account_id")
    alone = engine.metrics(day, accounts=[every.index[3]]).set_index("account_id")
    pd.testing.assert_frame_equal(alone, every.iloc[[3]])


def test_both_conversions_to_pandas_agree(engine: Engine) -> None:
    # Arrow's own conversion where every column is a number, flag, text or time; Ibis's
    # column-by-column one otherwise. On the same result they must give the same frame.
    query = AccountQuery.compile(engine.scorecard, engine.sources)
    assert query is not None and query._plain
    every = engine.metrics(dt.date(2026, 6, 1))
    accounts = list(every["account_id"].iloc[:7])
    fast = query.frame(dt.date(2026, 6, 1), accounts)
    query._plain = False
    pd.testing.assert_frame_equal(query.frame(dt.date(2026, 6, 1), accounts), fast)


def test_account_lists_of_any_kind_are_taken(engine: Engine) -> None:
    day = dt.date(2026, 6, 1)
    every = engine.metrics(day).set_index("account_id")
    ids = pd.Series(list(every.index[:3]))
    expected = every.loc[sorted(ids)]
    for accounts in (ids, ids.to_numpy(), tuple(ids)):
        got = engine.metrics(day, accounts=accounts).set_index("account_id")  # type: ignore[arg-type]
        pd.testing.assert_frame_equal(got, expected)


def test_whole_number_account_ids_are_scored_the_usual_way() -> None:
    frames = toy_frames(seed=7, accounts=20, events=1500)
    for frame in frames.values():
        if "account_id" in frame:
            frame["account_id"] = frame["account_id"].str[1:].astype("int64")
    engine = Engine(EXAMPLE, duckdb_with(frames))
    assert engine._account_query is None  # text markers cannot stand for numbers
    day = dt.date(2026, 6, 1)
    every = engine.metrics(day).set_index("account_id")
    picked = [int(every.index[0]), int(every.index[1])]
    alone = engine.metrics(day, accounts=picked).set_index("account_id")  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(alone, every.loc[picked])
