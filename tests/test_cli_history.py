"""The history commands as a user runs them: score over time, explain, versions, runs,
diff, backfill, shadow, overrides and the audit log."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from healthscore.cli.main import app
from tests.conftest import EXAMPLE, toy_frames

runner = CliRunner()
DATES = ["2026-05-04", "2026-05-11", "2026-06-01"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example scorecard, a newer version of it, toy data, and three live runs."""
    folder = tmp_path_factory.mktemp("history")
    text = EXAMPLE.read_text()
    (folder / "scorecard.yaml").write_text(text)
    newer = text.replace('version: "1.2.0"', 'version: "9.1.0"').replace(
        "weight: 3\n", "weight: 6\n", 1
    )
    assert newer.count("9.1.0") == 1 and "weight: 6" in newer
    (folder / "newer.yaml").write_text(newer)
    with duckdb.connect(str(folder / "healthscore.duckdb")) as con:
        for name, frame in toy_frames().items():
            con.register("frame", frame)
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame')
            con.unregister("frame")
    for day in DATES[:2]:
        invoke("score", "-c", str(folder / "scorecard.yaml"), "--as-of", day)
    invoke("score", "-c", str(folder / "newer.yaml"), "--as-of", DATES[2])
    return folder


def invoke(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def an_account(project: Path) -> str:
    with duckdb.connect(str(project / "healthscore.duckdb")) as con:
        row = con.execute("SELECT min(account_id) FROM healthscore_scores").fetchone()
    assert row is not None
    return str(row[0])


def test_history_shows_every_run_and_marks_the_version_change(project: Path) -> None:
    account = an_account(project)
    out = invoke("history", account, "-c", str(project / "scorecard.yaml"))
    for day in DATES:
        assert day in out
    assert "◆ scorecard 1.2.0" in out and "logic changed" in out
    assert "over 3 run(s)" in out
    invoke("history", "nobody", "-c", str(project / "scorecard.yaml"), code=2)


def test_explain_names_the_version_change_and_the_measures(project: Path) -> None:
    account = an_account(project)
    out = invoke("explain", account, "-c", str(project / "scorecard.yaml"), "--since", DATES[0])
    assert "changed from 1.2.0 to 9.1.0" in out
    assert "What moved the score" in out
    early = invoke(
        "explain",
        account,
        "-c",
        str(project / "scorecard.yaml"),
        "--since",
        "2020-01-01",
        code=2,
    )
    assert "no stored score on or before 2020-01-01" in early


def test_versions_and_runs(project: Path) -> None:
    out = invoke("versions", "-c", str(project / "scorecard.yaml"))
    assert "1.2.0" in out and "9.1.0" in out
    runs = invoke("runs", "-c", str(project / "scorecard.yaml"))
    assert runs.count("done") == 3


def test_diff_lists_the_logic_change_and_tier_moves(project: Path) -> None:
    out = invoke(
        "diff",
        "-c",
        str(project / "scorecard.yaml"),
        "-c",
        str(project / "newer.yaml"),
        "--as-of",
        DATES[2],
    )
    assert "weight: 3.0 -> 6.0" in out
    assert "Tier changes as of 2026-06-01" in out


def test_shadow_and_backfill_stay_out_of_the_live_history(project: Path) -> None:
    card = str(project / "newer.yaml")
    invoke("score", "-c", card, "--as-of", "2026-06-08", "--shadow")
    invoke("backfill", "-c", card, "--start", "2026-04-06", "--end", "2026-04-20")
    account = an_account(project)
    live = invoke("history", account, "-c", card)
    assert "2026-06-08" not in live and "2026-04-13" not in live
    shadow = invoke("history", account, "-c", card, "--mode", "shadow")
    assert "2026-06-08" in shadow
    backfill = invoke("history", account, "-c", card, "--mode", "backfill")
    assert all(day in backfill for day in ("2026-04-06", "2026-04-13", "2026-04-20"))


def test_override_set_applied_revoked_and_audited(project: Path) -> None:
    card = str(project / "scorecard.yaml")
    account = an_account(project)
    until = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    out = invoke(
        "override",
        account,
        "-c",
        card,
        "--score",
        "35",
        "--reason",
        "champion left",
        "--until",
        until,
        "--by",
        "dana",
    )
    assert "Override ovr-" in out
    today = dt.date.today().isoformat()
    invoke("score", "-c", card, "--as-of", today)
    history = invoke("history", account, "-c", card)
    assert "override by dana" in history and "35.0" in history
    assert "Revoked 1 override" in invoke(
        "override", account, "-c", card, "--revoke", "--by", "erin"
    )
    audit = invoke("audit", "-c", card)
    assert "override.set" in audit and "override.revoke" in audit and "dana" in audit
    bad = invoke(
        "override",
        "nobody",
        "-c",
        card,
        "--score",
        "35",
        "--reason",
        "x",
        "--until",
        until,
        "--by",
        "dana",
        code=2,
    )
    assert "unknown account 'nobody'" in bad
    past = invoke(
        "override",
        account,
        "-c",
        card,
        "--tier",
        "red",
        "--reason",
        "x",
        "--until",
        "2020-01-01",
        "--by",
        "dana",
        code=2,
    )
    assert "in the past" in past


@pytest.mark.parametrize("kind", ["csv", "parquet", "jsonl"])
def test_export_for_a_crm(project: Path, kind: str) -> None:
    import pandas as pd

    out = project / f"crm.{kind}"
    invoke("export", "-c", str(project / "newer.yaml"), "--format", kind, "--out", str(out))
    frame = {
        "csv": pd.read_csv,
        "parquet": pd.read_parquet,
        "jsonl": lambda p: pd.read_json(p, lines=True),
    }[kind](out)
    assert {"account_id", "health_score", "health_tier", "health_reasons"} <= set(frame.columns)
    assert frame["account_id"].is_unique and frame["health_score"].is_monotonic_increasing
    assert set(frame["health_tier"]) <= {"green", "yellow", "red"}
    assert frame["health_reasons"].astype(str).str.len().gt(0).any()


def test_export_refuses_an_unknown_format(project: Path) -> None:
    invoke(
        "export", "-c", str(project / "scorecard.yaml"), "--format", "xlsx", "--out", "x", code=2
    )
