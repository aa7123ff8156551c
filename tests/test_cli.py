"""The command line, run as a user would: real files, a real DuckDB warehouse."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from healthscore.cli.main import app
from tests.conftest import EXAMPLE, toy_frames

runner = CliRunner()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with the example scorecard and a DuckDB warehouse of toy data beside it."""
    (tmp_path / "scorecard.yaml").write_text(EXAMPLE.read_text())
    with duckdb.connect(str(tmp_path / "healthscore.duckdb")) as con:
        for name, frame in toy_frames().items():
            con.register("frame", frame)
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame')
            con.unregister("frame")
    return tmp_path


def test_init_writes_a_commented_example_that_validates_offline(tmp_path: Path) -> None:
    result = runner.invoke(app, ["init", str(tmp_path / "new")])
    assert result.exit_code == 0, result.output
    written = (tmp_path / "new" / "scorecard.yaml").read_text()
    assert written.count("\n# ") > 10
    check = runner.invoke(
        app, ["validate", "-c", str(tmp_path / "new" / "scorecard.yaml"), "--offline"]
    )
    assert check.exit_code == 0, check.output
    again = runner.invoke(app, ["init", str(tmp_path / "new")])
    assert again.exit_code == 1


def test_validate_against_data(project: Path) -> None:
    result = runner.invoke(app, ["validate", "-c", str(project / "scorecard.yaml")])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output


def test_validate_reports_every_problem_and_exits_2(project: Path) -> None:
    card = project / "bad.yaml"
    card.write_text(
        EXAMPLE.read_text()
        .replace("    weight: 25\n", "    weight: -25\n")
        .replace("bad: 0.1\n        good: 0.7", "bad: 0.1\n        goood: 0.7")
    )
    result = runner.invoke(app, ["validate", "-c", str(card)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.startswith(str(card))]
    assert len(lines) == 3, result.output
    assert any(
        ":  " not in line and "groups.support.weight: a number >= 0. Got -25." in line
        for line in lines
    )
    assert any("goood" in line and "did you mean 'good'" in line for line in lines)


def test_validate_reports_data_problems(project: Path) -> None:
    card = project / "cols.yaml"
    card.write_text(EXAMPLE.read_text().replace("column: user_id", "column: member_id"))
    result = runner.invoke(app, ["validate", "-c", str(card)])
    assert result.exit_code == 2
    assert "metrics.active_users_30d.column" in result.output
    assert "'member_id'" in result.output


def test_schema_is_json() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.output)["title"] == "Scorecard"


def test_score_writes_parquet_and_csv_and_history(project: Path) -> None:
    parquet = project / "out" / "scores.parquet"
    result = runner.invoke(
        app,
        [
            "score",
            "-c",
            str(project / "scorecard.yaml"),
            "--as-of",
            "2026-06-01",
            "--out",
            str(parquet),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "lowest scores" in result.output
    scores = pd.read_parquet(parquet)
    assert len(scores) > 0 and scores.score.between(0, 100).all()
    assert isinstance(scores.reasons.iloc[0][0]["code"], str)
    csv = project / "scores.csv"
    runner.invoke(
        app,
        [
            "score",
            "-c",
            str(project / "scorecard.yaml"),
            "--as-of",
            "2026-06-01",
            "--out",
            str(csv),
            "--no-save",
        ],
    )
    assert json.loads(pd.read_csv(csv).reasons.iloc[0])[0]["code"]
    with duckdb.connect(str(project / "healthscore.duckdb")) as con:
        stored = con.execute(
            "SELECT count(*), count(DISTINCT as_of), count(DISTINCT run_id) FROM healthscore_scores"
        )
        assert stored.fetchone() == (len(scores), 1, 1)  # --no-save stored nothing


def test_score_with_a_bad_scorecard_computes_nothing(project: Path) -> None:
    card = project / "bad.yaml"
    card.write_text(EXAMPLE.read_text().replace("kind: count", "kind: tally", 1))
    result = runner.invoke(app, ["score", "-c", str(card), "--as-of", "2026-06-01"])
    assert result.exit_code == 2
    with duckdb.connect(str(project / "healthscore.duckdb")) as con:
        tables = {row[0] for row in con.execute("SHOW TABLES").fetchall()}
    assert "healthscore_scores" not in tables


def test_ingest_command_summarizes(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("account_id,name,created_at\na1,Acme,2025-01-01\n")
    events = tmp_path / "events.csv"
    events.write_text(
        "event_id,account_id,user_id,ts,type\n1,a1,u,2026-01-01,login\n2,zz,u,2026-01-01,login\n"
    )
    warehouse = tmp_path / "w.duckdb"
    assert (
        runner.invoke(
            app, ["ingest", "--table", "accounts", str(accounts), "--warehouse", str(warehouse)]
        ).exit_code
        == 0
    )
    result = runner.invoke(
        app, ["ingest", "--table", "events", str(events), "--warehouse", str(warehouse)]
    )
    assert result.exit_code == 0, result.output
    assert "rejected: unknown account_id" in result.output
    assert "healthscore_rejects" in result.output


def test_demo_generates_loads_scores_and_summarizes(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--directory", str(tmp_path), "--accounts", "150"])
    assert result.exit_code == 0, result.output
    assert "The 10 lowest scores" in result.output
    # The evidence comes with it: a backtest on screen and the report beside the data.
    assert "Churn by tier" in result.output and "2025-06-01 .. 2026-05-01" in result.output
    report = (tmp_path / "report.html").read_text()
    assert "<html" in report and "saas_health" in report
    scores = pd.read_parquet(tmp_path / "scores.parquet")
    accounts = pd.read_parquet(tmp_path / "data" / "accounts.parquet")
    assert 0 < len(scores) <= len(accounts) == 150
    assert scores.score.between(0, 100).all()
    assert set(scores.segment) == {"enterprise", "self_serve"} or len(scores) < 20
    with duckdb.connect(str(tmp_path / "healthscore.duckdb")) as con:
        runs = con.execute("SELECT count(*), max(as_of) FROM healthscore_runs").fetchone()
        latest = con.execute(
            "SELECT count(*) FROM healthscore_scores WHERE as_of = ?", [runs[1]]
        ).fetchone()
        order = con.execute("SELECT account_id, ts FROM events").fetchall()
    assert runs[0] == 6 and latest == (len(scores),)  # six weekly runs, the last exported
    assert order == sorted(order)  # loaded clustered by account and time
    rescored = runner.invoke(
        app, ["score", "-c", str(tmp_path / "scorecard.yaml"), "--as-of", "2026-07-01", "--no-save"]
    )
    assert rescored.exit_code == 0, rescored.output


def test_a_bad_date_is_a_clear_error(project: Path) -> None:
    result = runner.invoke(
        app, ["score", "-c", str(project / "scorecard.yaml"), "--as-of", "30/06/2026"]
    )
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.output and "30/06/2026" in result.output
