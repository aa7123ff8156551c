"""Row intake: per-row answers, the file ingest's rules, one transaction, safe under threads."""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthscore.compute._ingest import (
    IngestError,
    IntakeResult,
    RowResult,
    Status,
    ingest_files,
    ingest_rows,
)

NOW = dt.datetime(2026, 7, 1)
ACCEPTED, DUPLICATE, REJECTED = Status.ACCEPTED, Status.DUPLICATE, Status.REJECTED


def event(
    event_id: object, account: object = "a1", ts: object = "2026-01-01", **more: object
) -> dict[str, object]:
    return {"event_id": event_id, "account_id": account, "ts": ts, "type": "login", **more}


def with_accounts(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    accounts = [{"account_id": "a1", "name": "Acme"}, {"account_id": "a2", "name": "Bolt"}]
    ingest_rows(con, "accounts", accounts, now=NOW)
    return con


@pytest.fixture
def warehouse(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = with_accounts(duckdb.connect(str(tmp_path / "w.duckdb")))
    ingest_rows(con, "events", [event("s1", user_id="u1", value=1)], now=NOW)
    return con


def outcomes(result: IntakeResult) -> list[tuple[str | None, str, str | None]]:
    return [(r.id, r.status.value, r.reason) for r in result.statuses]


def test_a_mixed_batch_gets_an_answer_per_row_in_order(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    batch = [
        event("e1", ts="2026-01-01T10:00:00", user_id="u1", value=2),
        {"event_id": "e2", "ts": "2026-01-01", "type": "login"},
        event("e3", ts="yesterday"),
        event("e4", ts="2099-01-01"),
        event("e5", account="a9"),
        event("s1"),
        event("e1", ts="2026-02-01"),
        event(6, account="a2", type="feature_used"),
    ]
    result = ingest_rows(warehouse, "events", batch, now=NOW, source="POST /v1/events")
    assert outcomes(result) == [
        ("e1", "accepted", None),
        ("e2", "rejected", "missing account_id"),
        ("e3", "rejected", "unparseable ts"),
        ("e4", "rejected", "ts in the future"),
        ("e5", "rejected", "unknown account_id"),
        ("s1", "duplicate", None),
        ("e1", "duplicate", None),
        ("6", "accepted", None),
    ]
    assert result.counts == {ACCEPTED: 2, DUPLICATE: 2, REJECTED: 4}
    assert (result.accepted, result.duplicates, result.rejected) == (2, 2, 4)
    assert result.accounts == ["a1", "a2"]
    stored = warehouse.execute(
        "SELECT event_id, account_id, ts, type, value FROM events ORDER BY event_id"
    ).fetchall()
    assert stored == [
        ("6", "a2", dt.datetime(2026, 1, 1), "feature_used", None),
        ("e1", "a1", dt.datetime(2026, 1, 1, 10), "login", 2.0),
        ("s1", "a1", dt.datetime(2026, 1, 1), "login", 1.0),
    ]
    rejects = warehouse.execute(
        'SELECT file, "row", reason, data FROM healthscore_rejects ORDER BY "row"'
    ).fetchall()
    assert [(file, row, reason) for file, row, reason, _ in rejects] == [
        ("POST /v1/events", 2, "missing account_id"),
        ("POST /v1/events", 3, "unparseable ts"),
        ("POST /v1/events", 4, "ts in the future"),
        ("POST /v1/events", 5, "unknown account_id"),
    ]
    assert '"ts":"yesterday"' in rejects[1][3]  # the row as it arrived


def test_zones_become_utc_and_nested_values_json_text() -> None:
    con = with_accounts(duckdb.connect())
    rows = [
        event("z1", ts="2026-01-01T10:00:00+02:00", properties={"plan": "pro", "n": [1, 2]}),
        event("z2", ts="2026-01-01T10:00:00Z", properties=None, value="3"),
        event("z3", ts="2026-01-01 10:00", properties=[], value=3.5),
    ]
    assert ingest_rows(con, "events", rows, now=NOW).accepted == 3
    assert con.execute("SELECT ts, properties, value FROM events ORDER BY event_id").fetchall() == [
        (dt.datetime(2026, 1, 1, 8), '{"plan":"pro","n":[1,2]}', None),
        (dt.datetime(2026, 1, 1, 10), None, 3.0),
        (dt.datetime(2026, 1, 1, 10), "[]", 3.5),
    ]


def test_frames_and_arrow_tables_are_taken_too() -> None:
    con = with_accounts(duckdb.connect())
    frame = pd.DataFrame(
        {
            "event_id": [1, 2],
            "account_id": ["a1", "a2"],
            "ts": pd.to_datetime(["2026-01-01 10:00", "2026-01-02 00:00"]).tz_localize(
                "Europe/Paris"
            ),
            "type": ["login", None],
        }
    )
    assert outcomes(ingest_rows(con, "events", frame, now=NOW)) == [
        ("1", "accepted", None),
        ("2", "rejected", "missing type"),
    ]
    arrow = pa.table(
        {
            "event_id": pa.array([1, 3], pa.int64()),
            "account_id": ["a1", "a1"],
            "ts": pa.array([dt.datetime(2026, 1, 3)] * 2, pa.timestamp("us")),
            "type": ["login", "login"],
        }
    )
    assert outcomes(ingest_rows(con, "events", arrow, now=NOW)) == [
        ("1", "duplicate", None),
        ("3", "accepted", None),
    ]
    assert con.execute("SELECT event_id, ts FROM events ORDER BY event_id").fetchall() == [
        (1, dt.datetime(2026, 1, 1, 9)),
        (3, dt.datetime(2026, 1, 3)),
    ]


def test_a_failed_write_leaves_the_warehouse_as_it_was(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    # Integer ids: a text id passes the checks, then fails the insert after the rejects.
    warehouse.execute(
        "CREATE OR REPLACE TABLE events AS SELECT 1::BIGINT AS event_id, "
        "'a1' AS account_id, TIMESTAMP '2026-01-01' AS ts, 'login' AS type"
    )
    before = warehouse.execute(
        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM healthscore_rejects)"
    ).fetchone()
    batch = [event(2), event(3, account="a9"), event("not-a-number")]
    with pytest.raises(duckdb.ConversionException):
        ingest_rows(warehouse, "events", batch, now=NOW)
    after = warehouse.execute(
        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM healthscore_rejects)"
    ).fetchone()
    assert after == before == (1, 0)


def test_two_threads_with_the_same_ids_store_each_once(tmp_path: Path) -> None:
    con = with_accounts(duckdb.connect(str(tmp_path / "w.duckdb")))
    # Round 0 races to create the table too; round 1 appends to it.
    for round_ in range(2):
        shared = [event(f"{round_}-shared-{i}") for i in range(200)]
        batches = [
            shared + [event(f"{round_}-{side}-{i}") for i in range(3000)]
            for side in ("left", "right")
        ]
        start = threading.Barrier(2)

        def send(batch: list[dict[str, object]], start: threading.Barrier) -> IntakeResult:
            start.wait()
            return ingest_rows(con, "events", batch, now=NOW)

        with ThreadPoolExecutor(2) as pool:
            left, right = pool.map(send, batches, [start, start])
        for first, second in zip(left.statuses[:200], right.statuses[:200], strict=True):
            assert {first.status, second.status} == {ACCEPTED, DUPLICATE}
        assert left.accepted + right.accepted == 6200
    stored = con.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchone()
    assert stored == (12400, 12400)


def test_rows_are_appended_and_files_cluster_again(tmp_path: Path) -> None:
    con = with_accounts(duckdb.connect(str(tmp_path / "w.duckdb")))
    path = tmp_path / "e.csv"
    path.write_text("event_id,account_id,ts,type\n1,a2,2026-01-02,login\n2,a1,2026-01-05,login\n")
    ingest_files(con, "events", [path], now=NOW)
    ingest_rows(con, "events", [event(3, ts="2026-01-01")], now=NOW)
    order = "SELECT list(event_id) FROM events"
    assert con.execute(order).fetchone() == (["2", "1", "3"],)
    path.write_text("event_id,account_id,ts,type\n4,a2,2026-01-01,login\n")
    ingest_files(con, "events", [path], now=NOW)
    assert con.execute(order).fetchone() == (["3", "2", "4", "1"],)


ids = st.one_of(st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 5))
rows = st.builds(
    event,
    event_id=ids,
    account=st.sampled_from(["a1", "a2", "a9", "", None]),
    ts=st.sampled_from(["2026-01-01", "2026-03-01T10:00:00+01:00", "2099-01-01", "x", None]),
)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(batch=st.lists(rows, max_size=20))
def test_ingesting_a_batch_twice_accepts_nothing_new(batch: list[dict[str, object]]) -> None:
    con = with_accounts(duckdb.connect())
    first = ingest_rows(con, "events", batch, now=NOW)
    again = ingest_rows(con, "events", batch, now=NOW)
    assert len(first.statuses) == len(again.statuses) == len(batch)
    assert again.accepted == 0
    assert [r.status for r in again.statuses if r.status is not REJECTED] == [
        DUPLICATE for r in first.statuses if r.status is not REJECTED
    ]
    accepted = [r.id for r in first.statuses if r.status is ACCEPTED]
    assert len(accepted) == len(set(accepted))
    if batch:
        assert con.execute("SELECT count(*) FROM events").fetchone() == (len(set(accepted)),)


BAD_ROWS = (
    "event_id,account_id,user_id,ts,type,value\n"
    "1,a2,u2,2026-01-02 09:00,login,1\n"
    "2,a1,u1,2026-01-01T10:00:00+02:00,login,1\n"
    "3,,u2,2026-01-02,login,1\n"
    "4,a9,u1,2026-01-01,login,1\n"
    "5,a1,u1,not-a-date,login,1\n"
    "6,a1,u1,2099-01-01,login,1\n"
    "7,a1,u1,2026-01-03,,1\n"
    "2,a1,u1,2026-01-01 10:00,login,1\n"
)


@pytest.mark.parametrize("kind", ["dicts", "frame", "arrow"])
def test_files_and_rows_share_the_rules(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "e.csv"
    path.write_text(BAD_ROWS)
    by_file = with_accounts(duckdb.connect(str(tmp_path / "files.duckdb")))
    summary = ingest_files(by_file, "events", [path], now=NOW)
    records: list[dict[str, object]] = list(csv.DictReader(io.StringIO(BAD_ROWS)))
    data: list[dict[str, object]] | pd.DataFrame | pa.Table = records
    if kind != "dicts":
        data = pd.DataFrame(records)
        data = data if kind == "frame" else pa.Table.from_pandas(data, preserve_index=False)
    by_rows = with_accounts(duckdb.connect())
    result = ingest_rows(by_rows, "events", data, now=NOW)
    assert (summary.inserted, summary.duplicates, summary.rejected_total) == (
        result.accepted,
        result.duplicates,
        result.rejected,
    )
    query = 'SELECT "row", reason FROM healthscore_rejects ORDER BY "row"'
    assert by_file.execute(query).fetchall() == by_rows.execute(query).fetchall()
    assert [(i + 1, r.reason) for i, r in enumerate(result.statuses) if r.reason] == (
        by_rows.execute(query).fetchall()
    )
    stored = "SELECT event_id, account_id, ts, type, value FROM events ORDER BY event_id"
    assert by_file.execute(stored).fetchall() == by_rows.execute(stored).fetchall()
    assert by_rows.execute("SELECT ts FROM events WHERE event_id = '2'").fetchone() == (
        dt.datetime(2026, 1, 1, 8),
    )


def test_bad_calls_name_what_is_expected() -> None:
    con = duckdb.connect()
    assert ingest_rows(con, "events", [], now=NOW) == IntakeResult("events", [], [])
    with pytest.raises(IngestError, match="must be one of accounts, events"):
        ingest_rows(con, "clicks", [{"x": 1}])
    with pytest.raises(IngestError, match=r"row 2 must be a dict\. Got str instead"):
        ingest_rows(con, "events", [event(1), "oops"])  # type: ignore[list-item]
    with_accounts(con)
    ingest_rows(con, "events", [event(1)], now=NOW)
    with pytest.raises(IngestError, match="has column\\(s\\) color that table 'events' lacks"):
        ingest_rows(con, "events", [event(2, color="red")], now=NOW)
    assert RowResult("1", ACCEPTED).reason is None


intake_steps = st.lists(
    st.one_of(
        st.tuples(st.just("rows"), st.lists(st.integers(0, 40), max_size=12)),
        st.tuples(st.just("outside"), st.lists(st.integers(30, 45), min_size=1, max_size=3)),
    ),
    min_size=1,
    max_size=10,
)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(steps=intake_steps)
def test_the_sorted_id_copies_answer_as_the_table_would(
    steps: list[tuple[str, list[int]]],
) -> None:
    # Intake keeps sorted copies of the ids to find duplicates without scanning the table;
    # rows written around it (the user's own loads) and a small merge threshold make every
    # path run: appending, rebuilding when the counts differ, merging the new ids.
    from healthscore.compute import _ingest_keys

    con = with_accounts(duckdb.connect())
    ingest_rows(con, "events", [event(-1)], now=NOW)
    stored = {"-1"}  # intake stores JSON ids as text
    original = _ingest_keys.MERGE_AFTER
    _ingest_keys.MERGE_AFTER = 3
    try:
        for kind, numbers in steps:
            if kind == "outside":
                values = ", ".join(f"({n}, 'a1', TIMESTAMP '2026-01-01', 'login')" for n in numbers)
                con.execute(f"INSERT INTO events (event_id, account_id, ts, type) VALUES {values}")
                stored.update(str(n) for n in numbers)
                continue
            result = ingest_rows(con, "events", [event(n) for n in numbers], now=NOW)
            expected, seen = [], set(stored)
            for n in map(str, numbers):
                expected.append(DUPLICATE if n in seen else ACCEPTED)
                seen.add(n)
            assert [r.status for r in result.statuses] == expected
            stored = seen
            if not numbers:
                continue  # nothing to check: intake returns before it touches anything
            copies = con.execute(
                "SELECT count(*) FROM (SELECT key FROM healthscore_keys__events "
                "UNION ALL SELECT key FROM healthscore_newkeys__events)"
            ).fetchone()
            assert copies == con.execute("SELECT count(*) FROM events").fetchone()
    finally:
        _ingest_keys.MERGE_AFTER = original
    table = {n for (n,) in con.execute("SELECT event_id FROM events").fetchall()}
    assert table == stored


def test_a_row_deleted_by_hand_is_noticed_when_the_service_starts() -> None:
    from healthscore.compute._ingest import prepare_intake

    con = with_accounts(duckdb.connect())
    ingest_rows(con, "events", [event(1), event(2)], now=NOW)
    assert ingest_rows(con, "events", [event(3)], now=NOW).accepted == 1  # copies built
    con.execute("DELETE FROM events WHERE event_id = '2'")
    # Per intake only the stored total is read, and deletions do not lower it: the
    # copies still hold id 2. Counting at start (what `serve` does) rebuilds them.
    assert ingest_rows(con, "events", [event(2)], now=NOW).duplicates == 1
    prepare_intake(con, "events")
    assert ingest_rows(con, "events", [event(2)], now=NOW).accepted == 1


def test_rows_another_writer_commits_during_an_intake_are_never_lost_to_the_copies() -> None:
    # DuckDB's stored row total (read per intake) may count rows committed after the
    # intake's snapshot began; the copies must still come to hold them.
    from healthscore.compute import _ingest_keys
    from healthscore.compute._ingest import prepare_intake

    con = with_accounts(duckdb.connect())
    ingest_rows(con, "events", [event(1), event(2)], now=NOW)
    prepare_intake(con, "events")
    other = con.cursor()  # the user's own loader on the same database
    real = _ingest_keys._stored_total
    committed: list[bool] = []

    def racing(cursor: duckdb.DuckDBPyConnection, table: str) -> tuple[int, int]:
        if not committed:  # after this intake's snapshot began, before it reads the total
            committed.append(True)
            other.execute(
                "INSERT INTO events (event_id, account_id, ts, type) "
                "VALUES ('100', 'a1', TIMESTAMP '2026-01-01 11:00:00', 'login')"
            )
        return real(cursor, table)

    _ingest_keys._stored_total = racing  # type: ignore[assignment]
    try:
        assert ingest_rows(con, "events", [event(3)], now=NOW).accepted == 1
    finally:
        _ingest_keys._stored_total = real  # type: ignore[assignment]
    assert committed
    assert ingest_rows(con, "events", [event(100)], now=NOW).duplicates == 1
    assert con.execute("SELECT count(*) FROM events WHERE event_id = '100'").fetchone() == (1,)


def test_an_events_table_in_another_attached_database_is_not_ours() -> None:
    from healthscore.compute import _ingest_keys

    con = with_accounts(duckdb.connect())
    con.execute("ATTACH ':memory:' AS archive")
    con.execute("CREATE TABLE archive.main.events (event_id VARCHAR)")
    ingest_rows(con, "events", [event(0)], now=NOW)
    ours = con.execute(
        "SELECT table_oid FROM duckdb_tables() WHERE table_name = 'events' "
        "AND database_name = current_database()"
    ).fetchone()
    assert ours is not None and _ingest_keys._stored_total(con, "events")[0] == ours[0]
    ingest_rows(con, "events", [event(1)], now=NOW)  # builds the copies
    built = con.execute(
        "SELECT table_oid FROM duckdb_tables() WHERE table_name = 'healthscore_keys__events'"
    ).fetchone()
    for number in range(2, 6):
        ingest_rows(con, "events", [event(number)], now=NOW)
    again = con.execute(
        "SELECT table_oid FROM duckdb_tables() WHERE table_name = 'healthscore_keys__events'"
    ).fetchone()
    assert again == built  # kept and appended to, not rebuilt per intake
