"""benchmarks/store.py at 300 accounts: every run stores every row, into DuckDB and PostgreSQL.

A smoke test, as tests/test_benchmarks.py does for the other scripts: timings are printed,
never checked; the second run must have read the first's rows (trend), and the schemas the
benchmark made in the database it was given must be gone afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from benchmarks import store

from healthscore.demo import DemoConfig, write_demo


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("bench-store")
    write_demo(directory, DemoConfig(n_accounts=300, events_per_user_day=0.05))
    return directory


def _bench_schemas(url: str) -> list[str]:
    with psycopg.connect(url) as con:
        rows = con.execute(
            "SELECT schema_name FROM information_schema.schemata "
            "WHERE schema_name LIKE 'healthscore_bench_%'"
        ).fetchall()
    return [row[0] for row in rows]


def test_store_benchmark_stores_every_row_in_both_databases(
    demo_dir: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _bench_schemas(postgres_url)
    assert store.main(["--data", str(demo_dir), "--repeat", "1", "--postgres", postgres_url]) == 0
    printed = capsys.readouterr().out
    assert "Engine.run into duckdb, step by step" in printed
    assert "Engine.run into postgresql, step by step" in printed
    results = json.loads((demo_dir / "store-results.json").read_text())
    runs = results["runs"]
    assert set(runs) == set(store.LABELS)
    scored = runs["score"]["report"]["rows"]
    assert scored > 100
    for backend in ("duckdb", "postgresql"):
        first, second = runs[f"{backend} first"]["report"], runs[f"{backend} second"]["report"]
        assert first["stored_rows"] == first["rows"] > 100, backend
        assert second["stored_rows"] == scored, backend
        assert second["with_trend"] > 0, backend  # the second run read the first's rows
        steps = results["steps"][backend]
        assert set(steps["first"]) == set(steps["second"])
        assert store.WRITE in steps["first"]
    assert runs["ctas"]["report"]["stored_rows"] == runs["duckdb first"]["report"]["rows"]
    assert all(ratio > 0 for ratio in results["ratios"].values())  # never a time target
    assert results["first_runs_as_of"] == "2026-06-24"
    assert _bench_schemas(postgres_url) == before
