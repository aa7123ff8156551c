"""The fight-churn simulator data ("crm6") as a customer's warehouse for healthscore.

The data (see its README.md) sits in `shared/data/fightchurn-crm6/` beside the
repository: CSV files written by the `fightchurn` package's churn simulator. This is the
load step a customer would run: each CSV becomes one table of a DuckDB file, as it is
(names from the file names, types as DuckDB reads them); only the 7M events are stored
ordered by account and time, so the scans per account stay cheap. The scorecard
`docs/validation/fightchurn/scorecard.yaml` maps these tables with `sources:` alone and
is copied beside the DuckDB file.

    python scripts/validation/fightchurn.py prepare [--data DIR] [--out DIR]
    python scripts/validation/fightchurn.py backtest [--json FILE]
    python scripts/validation/fightchurn.py train [--model logistic|lightgbm]

The default output folder is `$HEALTHSCORE_DATA_CACHE/fightchurn` (default
`~/.cache/healthscore/fightchurn`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
from pathlib import Path

import duckdb
import numpy as np

from healthscore import Engine
from healthscore.evaluation import BacktestResult, observation_dates, run_backtest
from healthscore.evaluation._training_report import TrainingReport
from healthscore.model._estimator import ModelKind

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data" / "fightchurn-crm6"
SCORECARD = REPO / "docs" / "validation" / "fightchurn" / "scorecard.yaml"
WAREHOUSE = "fightchurn.duckdb"  # the scorecard's `warehouse:`, beside it
# Each file becomes the table of its name; the events are stored in this order.
FILES = {
    "account": "account.csv",
    "subscription": "subscription.csv",
    "event": "event.csv.gz",
    "event_type": "event_type.csv",
    "active_period": "active_period.csv",
    "observation": "observation.csv",
}
ORDER = {"event": "account_id, event_time"}

# Observation dates: every 30 days from the first month with customers; a 30-day horizon
# tiles the time exactly, so each churn falls in one window. The last date is the latest
# whose horizon and 7-day grace end inside the data (which ends on 2023-12-31).
START = dt.date(2022, 2, 1)
END = dt.date(2023, 11, 24)
EVERY = "30d"
# The book's own figures (the data's README): logistic regression, time-split backtest.
BOOK_AUC = 0.560
BOOK_LIFT = 1.56


def cache_dir() -> Path:
    """$HEALTHSCORE_DATA_CACHE/fightchurn (default ~/.cache/healthscore/fightchurn)."""
    root = os.environ.get("HEALTHSCORE_DATA_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "healthscore"
    return base / "fightchurn"


def load(data: Path, database: Path) -> dict[str, int]:
    """Each CSV into a table of a new DuckDB file; returns the rows per table."""
    missing = [name for name in FILES.values() if not (data / name).is_file()]
    if missing:
        raise FileNotFoundError(f"fight-churn data missing at {data}: {', '.join(missing)}")
    database.parent.mkdir(parents=True, exist_ok=True)
    database.unlink(missing_ok=True)
    rows = {}
    with duckdb.connect(str(database)) as con:
        for table, name in FILES.items():
            order = f" ORDER BY {ORDER[table]}" if table in ORDER else ""
            source = str(data / name).replace("'", "''")
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_csv('{source}'){order}")
            count = con.execute(f"SELECT count(*) FROM {table}").fetchone()
            rows[table] = int(count[0]) if count else 0
    return rows


def prepare(data: Path = DATA, out: Path | None = None) -> Path:
    """The DuckDB file and a copy of the scorecard in `out`; returns the scorecard copy."""
    out = out or cache_dir()
    load(data, out / WAREHOUSE)
    return Path(shutil.copyfile(SCORECARD, out / "scorecard.yaml"))


def backtest(scorecard: Path) -> BacktestResult:
    """Every 30 days from 2022-02-01, churn within 30 days (subscription_end, 7-day grace)."""
    engine = Engine(scorecard)
    try:
        dates = observation_dates(START, END, EVERY)
        return run_backtest(engine.scorecard, engine.sources, dates)
    finally:
        engine.con.disconnect()


def train(scorecard: Path, kind: ModelKind, out: Path) -> TrainingReport:
    """A churn model on the 23 dates, validated forward in time; bias check by channel."""
    engine = Engine(scorecard)
    try:
        return engine.train(START, END, out, EVERY, kind=kind, by=["channel"])
    finally:
        engine.con.disconnect()


def auc_interval(area: float, churned: int, retained: int) -> tuple[float, float]:
    """An approximate 95% interval of an AUC (Hanley and McNeil 1982): the training
    report gives no interval, and with a few churners the AUC is mostly noise."""
    q1, q2 = area / (2 - area), 2 * area**2 / (1 + area)
    variance = (
        area * (1 - area) + (churned - 1) * (q1 - area**2) + (retained - 1) * (q2 - area**2)
    ) / (churned * retained)
    half = 1.96 * float(np.sqrt(variance))
    return max(0.0, area - half), min(1.0, area + half)


def describe_training(report: TrainingReport) -> str:
    """The training report's figures docs/validation.md quotes, as text."""

    def num(value: float | None, digits: int = 3) -> str:
        return "n/a" if value is None else f"{value:.{digits}f}"

    held = report.held_out
    interval = ""
    if held.auc is not None:
        low, high = auc_interval(held.auc, held.churned, held.observations - held.churned)
        interval = f" (about {low:.2f}-{high:.2f})"
    lines = [
        f"{report.kind} on {report.scorecard_name} {report.scorecard_version}: "
        f"{report.observations} observations, {report.churned} churned, "
        f"{len(report.features)} features ({', '.join(report.features)}), "
        f"calibration {report.calibration}",
        "folds: "
        + ", ".join(
            f"{f.test_from}..{f.test_until} AUC {num(f.auc)} ({f.test_churned}/"
            f"{f.test_observations})"
            for f in report.folds
        ),
        f"held out {held.dates[0]}..{held.dates[-1]}: {held.observations} observations, "
        f"{held.churned} churned",
        f"  model AUC {num(held.auc)}{interval}, top-decile lift "
        f"{num(held.top_decile_lift, 2)}, Brier {num(held.brier, 4)}, log-loss "
        f"{num(held.log_loss, 4)}",
        f"  rules score AUC {num(held.rules_auc)}, top-decile lift "
        f"{num(held.rules_top_decile_lift, 2)}",
        f"  the book (README): AUC {BOOK_AUC}, top-decile lift {BOOK_LIFT}",
    ]
    lines += [f"dropped {d['name']}: {d['reason']}" for d in report.dropped]
    lines += [f"sensitive, not used: {name}" for name in report.excluded_sensitive]
    lines += [
        f"bias check {row.attribute}={row.value}: {row.observations} observations, churn "
        f"{row.churn_rate:.2%}, mean P(churn) {row.mean_probability:.2%}"
        for row in report.bias
        if row.attribute == "channel"
    ]
    return "\n".join(lines)


def describe(result: BacktestResult) -> str:
    """The figures docs/validation.md reports, as text."""

    def num(value: float | None, digits: int = 3) -> str:
        return "n/a" if value is None else f"{value:.{digits}f}"

    interval = result.auc_interval
    lines = [
        f"scorecard {result.scorecard_name} {result.scorecard_version} ({result.scorecard_hash})",
        f"outcome {result.outcome}, horizon {result.horizon_days}d, {len(result.dates)} dates "
        f"{result.dates[0]} .. {result.dates[-1]}",
        f"observations {result.observations}, churned {result.churned} "
        f"({num(result.churn_rate, 4)}), censored {result.censored}, "
        f"ineligible {result.ineligible}",
        f"AUC {num(result.auc)} "
        f"[{num(interval.low if interval else None)}, {num(interval.high if interval else None)}]"
        f"  top-decile lift {num(result.top_decile_lift, 2)}",
        "tiers: "
        + ", ".join(
            f"{t.tier} {t.churned}/{t.observations} ({num(t.churn_rate, 4)})" for t in result.tiers
        ),
        "groups: " + ", ".join(f"{g.name} {num(g.auc)}" for g in result.groups),
        "measures: "
        + ", ".join(f"{m.name} {num(m.auc)} (n={m.observations})" for m in result.measures),
    ]
    lines += [f"warning: {text}" for text in result.warnings]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["prepare", "backtest", "train"])
    parser.add_argument("--model", choices=["logistic", "lightgbm"], default="logistic")
    parser.add_argument("--data", type=Path, default=DATA, help="the fight-churn CSV folder")
    parser.add_argument("--out", type=Path, help="output folder (default: the cache)")
    parser.add_argument("--json", type=Path, help="write the backtest result as JSON")
    args = parser.parse_args(argv)
    out = args.out or cache_dir()
    scorecard = out / "scorecard.yaml"
    if args.command == "prepare" or not (out / WAREHOUSE).is_file():
        scorecard = prepare(args.data, out)
    else:
        shutil.copyfile(SCORECARD, scorecard)
    print(f"scorecard: {scorecard}")
    if args.command == "backtest":
        result = backtest(scorecard)
        print(describe(result))
        if args.json:
            args.json.write_text(result.to_json())
    if args.command == "train":
        kind: ModelKind = args.model
        print(describe_training(train(scorecard, kind, out / f"model-{kind}")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
