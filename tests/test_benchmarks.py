"""The three benchmark implementations give every account the same score (no timing here).

A benchmark whose answers differ is meaningless: benchmarks/_sql.py and _pandas.py must
compute what benchmarks/scorecard.yaml asks the engine for, to the last decimal.
benchmarks/backtest.py runs here at 300 accounts: it must count the observations that
Engine.backtest counts. benchmarks/model.py runs at 400 accounts: train, then score with
and without the model (a smoke test: it must report the ratio and both AUCs).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from benchmarks import _engine, _pandas, _sql, backtest, model
from benchmarks._common import Scores, compare
from benchmarks._data import SCORECARD

from healthscore import Engine
from healthscore.demo import DemoConfig, write_demo
from healthscore.evaluation import BacktestResult

# The day after the last day of data, and a day mid-history (later rows must not count).
DATES = (dt.date(2026, 7, 1), dt.date(2026, 2, 14))


@pytest.fixture(scope="module", params=["clustered", "time"])
def data_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp(f"bench-{request.param}")
    config = DemoConfig(
        n_accounts=300, events_per_user_day=0.05, clustered=request.param == "clustered"
    )
    write_demo(directory, config)
    shutil.copyfile(SCORECARD, directory / "scorecard.yaml")
    return directory


@pytest.mark.parametrize("as_of", DATES, ids=str)
def test_engine_sql_and_pandas_agree_on_every_score(data_dir: Path, as_of: dt.date) -> None:
    results: dict[str, Scores] = {
        "engine": _engine.score(data_dir, as_of),
        "sql": _sql.score(data_dir, as_of),
        "pandas": _pandas.score(data_dir, as_of),
    }
    engine = results["engine"]
    assert len(engine) > 100
    # Not a vacuous comparison: the scores spread over more than one tier.
    assert np.ptp(engine.score) > 20 and len(set(engine.tier)) > 1
    for other in ("sql", "pandas"):
        comparison = compare("engine", engine, other, results[other])
        assert comparison.same_accounts, other
        assert comparison.max_score_diff < 1e-6, comparison
        assert comparison.tier_mismatches == 0, comparison
    sql, pandas = results["sql"].sorted(), results["pandas"].sorted()
    assert sql.raw is not None and pandas.raw is not None
    np.testing.assert_allclose(sql.raw, pandas.raw, rtol=0, atol=1e-9)


def test_accounts_created_after_as_of_are_not_scored(data_dir: Path) -> None:
    early = dt.date(2025, 6, 1)
    counts = {len(module.score(data_dir, early)) for module in (_engine, _sql, _pandas)}
    assert len(counts) == 1
    assert counts.pop() < len(_sql.score(data_dir, DATES[0]))


# --- benchmarks/backtest.py: a backtest of 12 monthly dates against one score -----------


@pytest.fixture(scope="module")
def backtest_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("bench-backtest")
    write_demo(directory, DemoConfig(n_accounts=300, events_per_user_day=0.05))
    shutil.copyfile(SCORECARD, directory / "scorecard.yaml")
    return directory


@pytest.fixture(scope="module")
def engine_backtest(backtest_dir: Path) -> BacktestResult:
    engine = Engine(backtest_dir / "scorecard.yaml")
    return engine.backtest("2025-07-01", "2026-06-01", every="1mo", horizon="30d")


def test_backtest_benchmark_counts_what_engine_backtest_counts(
    backtest_dir: Path, engine_backtest: BacktestResult, capsys: pytest.CaptureFixture[str]
) -> None:
    # The three runs in their subprocesses, once each; timings are printed, never checked.
    assert backtest.main(["--data", str(backtest_dir), "--repeat", "1"]) == 0
    printed = capsys.readouterr().out
    assert "backtest / one score: time" in printed
    assert "backtest / 12 separate scores: time" in printed
    results = json.loads((backtest_dir / "backtest-results.json").read_text())
    assert set(results["ratios"]) == {"backtest / one score", "backtest / 12 separate scores"}
    assert all(ratio > 0 for ratio in results["ratios"].values())
    assert results["dates"] == {"start": "2025-07-01", "end": "2026-06-01"}
    frame = engine_backtest.observation_frame
    assert frame["as_of"].nunique() == 12 and engine_backtest.observations > 100
    runs = results["runs"]
    for run in ("backtest", "separate"):  # the same account-dates, labels and summary
        assert runs[run]["rows"] == len(frame), run
        assert runs[run]["dates"] == 12, run
        assert runs[run]["summary"]["observations"] == engine_backtest.observations, run
        assert runs[run]["summary"]["churned"] == engine_backtest.churned, run
    assert runs["score"]["rows"] == len(_engine.score(backtest_dir, DATES[0]))
    assert results["agreement"]["agrees"]


def test_backtest_step_by_step_covers_the_same_rows(
    backtest_dir: Path, engine_backtest: BacktestResult
) -> None:
    start, end = backtest.months_before(DATES[0], 12), backtest.months_before(DATES[0], 1)
    assert (start, end) == (dt.date(2025, 7, 1), dt.date(2026, 6, 1))
    result = backtest.phases(backtest_dir, DATES[0], start, end)
    rows = result["rows"]
    assert rows["backtest"] == len(engine_backtest.observation_frame)
    assert rows["(event, date) pairs, every event before each date"] >= rows["events"]
    assert all(seconds >= 0 for seconds in result["seconds"].values())


# --- benchmarks/model.py: training a churn model, and scoring with it against the rules ---


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("bench-model")
    write_demo(directory, DemoConfig(n_accounts=400, events_per_user_day=0.05))
    return directory


def test_model_benchmark_reports_the_ratio_and_the_aucs(
    model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Train, score with the rules, score with the model: each once, in its subprocess.
    assert model.main(["--data", str(model_dir), "--repeat", "1"]) == 0
    printed = capsys.readouterr().out
    assert "lightgbm: model score / rules score: time" in printed
    assert re.search(r"held-out AUC: model [01]\.\d{3}, rules [01]\.\d{3}", printed)
    results = json.loads((model_dir / "model-results.json").read_text())
    assert results["ratios"]["model lightgbm / rules"] > 0  # never a time target here
    dates = results["training_dates"]
    assert (dates["start"], dates["end"]) == ("2025-06-01", "2026-05-01")
    runs = results["runs"]
    trained = runs["train lightgbm"]["report"]
    assert trained["dates"] == 12 and trained["churned"] >= 20
    assert trained["held_out"]["auc"] is not None and trained["held_out"]["rules_auc"] is not None
    scored, rules = runs["model lightgbm"]["report"], runs["rules"]["report"]
    assert scored["by_model"] == scored["rows"] == rules["rows"] > 100
    assert (model_dir / "model-lightgbm" / "manifest.json").is_file()
