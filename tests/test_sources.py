"""Sources: warehouse tables, CSV and Parquet files, other connections, column renames."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from healthscore import Engine, load_scorecard, load_scorecard_text
from tests.conftest import AS_OF, EXAMPLE, duckdb_with, toy_frames

CARD = """name: files
version: "1"
warehouse: "duckdb://"
sources:
  accounts: {path: accounts.csv}
  events:
    path: events.parquet
    columns: {account_id: org, ts: happened_at, type: event_name}
metrics:
  logins_30d: {kind: count, table: events, where: "event_name == 'login'", window: 30d}
groups:
  usage:
    measures:
      logins: {kind: linear, metric: logins_30d, bad: 0, good: 10}
"""


def test_csv_and_parquet_files_with_renamed_columns(tmp_path: Path) -> None:
    frames = toy_frames()
    frames["accounts"].to_csv(tmp_path / "accounts.csv", index=False)
    events = frames["events"].rename(
        columns={"account_id": "org", "ts": "happened_at", "type": "event_name"}
    )
    events.to_parquet(tmp_path / "events.parquet")
    card_path = tmp_path / "card.yaml"
    card_path.write_text(CARD.replace("event_name == 'login'", "type == 'login'"))
    engine = Engine(load_scorecard(card_path))
    assert engine.check() == []
    metrics = engine.metrics(AS_OF).set_index("account_id")
    expected = (
        frames["events"][
            (frames["events"].type == "login")
            & (frames["events"].ts < pd.Timestamp(AS_OF))
            & (frames["events"].ts >= pd.Timestamp(AS_OF) - pd.Timedelta(days=30))
        ]
        .groupby("account_id")
        .size()
    )
    for account, count in expected.items():
        assert metrics.loc[account, "logins_30d"] == count


def test_a_renamed_column_that_does_not_exist_is_reported(tmp_path: Path) -> None:
    frames = toy_frames()
    frames["accounts"].to_csv(tmp_path / "accounts.csv", index=False)
    frames["events"].to_parquet(tmp_path / "events.parquet")
    card_path = tmp_path / "card.yaml"
    card_path.write_text(CARD)
    issues = Engine(load_scorecard(card_path)).check()
    assert [issue.object for issue in issues] == ["sources.events"]
    assert "org, happened_at, event_name not found" in issues[0].found
    assert "Columns in table: event_id, account_id" in issues[0].found


def test_missing_file_is_reported(tmp_path: Path) -> None:
    card_path = tmp_path / "card.yaml"
    card_path.write_text(CARD)
    issues = Engine(load_scorecard(card_path)).check()
    assert {issue.object for issue in issues} == {"sources.accounts", "sources.events"}
    assert all("not found" in issue.found for issue in issues)


def test_a_table_from_another_connection(tmp_path: Path) -> None:
    other = tmp_path / "crm.duckdb"
    frames = toy_frames()
    with duckdb.connect(str(other)) as con:
        con.register("frame", frames["surveys"])
        con.execute("CREATE TABLE nps_answers AS SELECT * FROM frame")
    text = EXAMPLE.read_text().replace(
        "  surveys: {table: surveys}",
        f"  surveys: {{table: nps_answers, connection: 'duckdb://{other}'}}",
    )
    del frames["surveys"]
    local = Engine(load_scorecard_text(text, str(EXAMPLE)), duckdb_with(frames))
    reference = Engine(EXAMPLE, duckdb_with(toy_frames()))
    got = local.metrics(AS_OF)["latest_nps"]
    want = reference.metrics(AS_OF)["latest_nps"]
    pd.testing.assert_series_equal(got, want)


def test_both_table_and_path_is_an_error() -> None:
    with pytest.raises(Exception, match="exactly one of 'table' or 'path'"):
        load_scorecard_text(CARD.replace("{path: accounts.csv}", "{path: a.csv, table: a}"))
