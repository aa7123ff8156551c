"""Helpers for the backend contract suite: one demo dataset loaded into DuckDB and Spark.

Both backends receive the same Arrow tables, so missing values arrive as nulls on both
(pandas keeps a missing float as NaN, which Spark would store as NaN, not null).
"""

from __future__ import annotations

import gc
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from ibis.backends import BaseBackend

from healthscore.demo import DemoConfig, generate_frames

DEMO = DemoConfig(n_accounts=120, months=8, seed=11)
METRIC_RTOL = 1e-9
IMPACT_ATOL = 1e-6
SCORE_EXACT = (
    "account_id",
    "as_of",
    "score",
    "tier",
    "segment",
    "stage",
    "scorecard_name",
    "scorecard_version",
    "scorecard_hash",
)


def demo_tables(config: DemoConfig = DEMO) -> dict[str, pa.Table]:
    """The demo frames as Arrow tables (missing values as nulls)."""
    return {
        name: pa.Table.from_pandas(frame, preserve_index=False)
        for name, frame in generate_frames(config).items()
    }


def duckdb_backend(tables: dict[str, pa.Table]) -> BaseBackend:
    con = ibis.duckdb.connect()
    for name, table in tables.items():
        con.create_table(name, table)
    return con


def require_spark() -> None:
    """Skip, naming the missing piece, when pyspark or a Java runtime is not installed."""
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install -e '.[spark]')")
    if shutil.which("java") is None:
        pytest.skip("java is not on PATH; Spark needs a Java 17 runtime")


def spark_session(warehouse_dir: Path) -> Any:
    """A small local Spark session: 2 cores, 4 shuffle partitions, UTC, no UI."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("healthscore-backend-contract")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.warehouse.dir", str(warehouse_dir))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def spark_backend(session: Any, tables: dict[str, pa.Table]) -> BaseBackend:
    """Ibis over `session`, each table registered as a temporary view."""
    for name, table in tables.items():
        session.createDataFrame(table).createOrReplaceTempView(name)
    con: BaseBackend = ibis.pyspark.connect(session)
    return con


def release_spark_sockets() -> None:
    """Collect the result sockets pyspark leaves to the garbage collector, quietly, now.

    Otherwise their ResourceWarning can surface later, inside an unrelated test.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "unclosed <socket.socket", ResourceWarning)
        gc.collect()


def _normalized_metrics(frame: pd.DataFrame) -> pd.DataFrame:
    # DuckDB returns as_of as datetime64[us], Spark as datetime64[ns]: same instants.
    frame = frame.assign(as_of=frame["as_of"].astype("datetime64[ns]"))
    return frame.sort_values(["as_of", "account_id"], kind="stable").reset_index(drop=True)


def assert_same_metrics(expected: pd.DataFrame, actual: pd.DataFrame) -> None:
    """Same rows, columns and dtypes; floats equal to METRIC_RTOL relative, nulls alike."""
    pd.testing.assert_frame_equal(
        _normalized_metrics(expected),
        _normalized_metrics(actual),
        check_exact=False,
        rtol=METRIC_RTOL,
        atol=0.0,
    )


def _reason_problems(expected: Sequence[Any], actual: Sequence[Any]) -> str | None:
    codes = [r["code"] for r in expected], [r["code"] for r in actual]
    if codes[0] != codes[1]:
        return f"codes {codes[0]} != {codes[1]}"
    for left, right in zip(expected, actual, strict=True):
        if left["text"] != right["text"]:
            return f"text {left['text']!r} != {right['text']!r}"
        if not np.isclose(left["impact"], right["impact"], rtol=0.0, atol=IMPACT_ATOL):
            return f"impact of {left['code']}: {left['impact']} != {right['impact']}"
    return None


def assert_same_scores(expected: pd.DataFrame, actual: pd.DataFrame) -> None:
    """Same scores, tiers, variants, reasons (impacts to IMPACT_ATOL) and sub-scores."""
    keys = ["as_of", "account_id"]
    expected = expected.sort_values(keys, kind="stable").reset_index(drop=True)
    actual = actual.sort_values(keys, kind="stable").reset_index(drop=True)
    assert list(expected.columns) == list(actual.columns)
    assert len(expected) == len(actual)
    exact = [*SCORE_EXACT]
    expected = expected.assign(score=expected.score.round(2))
    actual = actual.assign(score=actual.score.round(2))
    pd.testing.assert_frame_equal(expected[exact], actual[exact], check_exact=True)
    numeric = [
        c for c in expected.columns if c == "confidence" or c.startswith(("measure.", "group."))
    ]
    pd.testing.assert_frame_equal(
        expected[numeric], actual[numeric], check_exact=False, rtol=0.0, atol=IMPACT_ATOL
    )
    problems = []
    for row, (left, right) in enumerate(zip(expected.reasons, actual.reasons, strict=True)):
        problem = _reason_problems(left, right)
        if problem is not None:
            problems.append(f"{expected.account_id[row]} as of {expected.as_of[row]}: {problem}")
    assert not problems, f"{len(problems)} row(s) with different reasons:\n" + "\n".join(
        problems[:10]
    )
