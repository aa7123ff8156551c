"""The three benchmark implementations give every account the same score (no timing here).

A benchmark whose answers differ is meaningless: benchmarks/_sql.py and _pandas.py must
compute what benchmarks/scorecard.yaml asks the engine for, to the last decimal.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pytest
from benchmarks import _engine, _pandas, _sql
from benchmarks._common import Scores, compare
from benchmarks._data import SCORECARD

from healthscore.demo import DemoConfig, write_demo

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
