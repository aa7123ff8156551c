"""(c) Vectorized pandas: read_parquet (only the needed columns, rows filtered on read),
boolean masks, one groupby-agg per table, numpy for the score. What a competent user
writes; it computes the same metrics and score as benchmarks/scorecard.yaml.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from benchmarks._common import Scores, finish, midnight

SECONDS_PER_DAY = 86400.0


def _linear(values: NDArray[np.float64], bad: float, good: float) -> NDArray[np.float64]:
    """0 at bad, 100 at good, clipped; NaN (no data) stays NaN."""
    result: NDArray[np.float64] = np.clip((values - bad) / (good - bad), 0.0, 1.0) * 100.0
    return result


def score(data_dir: Path, as_of: dt.date) -> Scores:
    end = midnight(as_of)
    d30, d60, d90 = (end - dt.timedelta(days=days) for days in (30, 60, 90))

    events = pd.read_parquet(
        data_dir / "events.parquet",
        columns=["account_id", "user_id", "ts", "type"],
        filters=[("ts", "<", end)],
    )
    login = (events["type"] == "login").to_numpy()
    ts = events["ts"]
    recent = (ts >= d30).to_numpy()
    previous = ((ts >= d60) & (ts < d30)).to_numpy()
    per_account = (
        pd.DataFrame(
            {
                "account_id": events["account_id"],
                "logins_30d": login & recent,
                "logins_prev": login & previous,
                "last_login": ts.where(login),
            }
        )
        .groupby("account_id", sort=False)
        .agg(
            logins_30d=("logins_30d", "sum"),
            logins_prev=("logins_prev", "sum"),
            last_login=("last_login", "max"),
        )
    )
    active_users = (
        events.loc[recent, ["account_id", "user_id"]]
        .groupby("account_id", sort=False)["user_id"]
        .nunique()
        .rename("active_users_30d")
    )
    del events

    invoices = pd.read_parquet(
        data_dir / "invoices.parquet",
        columns=["account_id", "status"],
        filters=[("ts", ">=", d90), ("ts", "<", end), ("status", "==", "failed")],
    )
    failed = invoices.groupby("account_id", sort=False).size().rename("failed_payments_90d")

    accounts = pd.read_parquet(
        data_dir / "accounts.parquet",
        columns=["account_id", "seats"],
        filters=[("created_at", "<", end)],
    )
    frame = accounts.set_index("account_id").join([per_account, active_users, failed])

    def counts(name: str) -> NDArray[np.float64]:
        return frame[name].fillna(0).to_numpy(dtype=np.float64)

    logins_30d, logins_prev = counts("logins_30d"), counts("logins_prev")
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.where(logins_prev > 0, (logins_30d / logins_prev - 1) * 100, np.nan)
    seats = frame["seats"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        seat_utilization = np.where(seats != 0, counts("active_users_30d") / seats, np.nan)
    last = frame["last_login"]
    seconds = np.floor(
        (last - pd.Timestamp(0)).dt.total_seconds().to_numpy(dtype=np.float64, na_value=np.nan)
    )
    as_of_days = (end - dt.datetime(1970, 1, 1)).total_seconds() / SECONDS_PER_DAY
    days_since_login = as_of_days - seconds / SECONDS_PER_DAY
    failed_payments = counts("failed_payments_90d")

    volume = _linear(logins_30d, 0, 40)
    recency = np.nan_to_num(_linear(days_since_login, 30, 0), nan=0.0)  # missing: worst
    utilization = _linear(seat_utilization, 0.1, 0.7)
    trend = _linear(change, -50, 0)  # missing: reweight
    payments = _linear(failed_payments, 2, 0)
    # 50 + the sum of each measure's impact, effective weight x (sub-score - 50), summed in
    # the engine's order; the trend is reweighted away (weight 0) where it is missing.
    has_trend = ~np.isnan(trend)
    impacts = (
        0.5 * (2 / 3) * (volume - 50)
        + 0.5 * (1 / 3) * (recency - 50)
        + 0.3 * np.where(has_trend, 2 / 3, 1.0) * (utilization - 50)
        + 0.3 * np.where(has_trend, 1 / 3, 0.0) * (np.nan_to_num(trend, nan=50.0) - 50)
        + 0.2 * (payments - 50)
    )
    raw = np.clip(50 + impacts, 0.0, 100.0)
    raw = np.where(failed_payments >= 2, np.minimum(raw, 40.0), raw)
    return finish(frame.index.to_numpy(dtype=object), raw)
