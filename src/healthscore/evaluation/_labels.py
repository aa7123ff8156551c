"""Label observations: did the outcome happen within the horizon after each as-of date?

An observation is (account, as_of). Each gets:

- `eligible`: the account could churn then (a subscription running, still active, a
  purchase history, no earlier churn); ineligible observations are left out;
- `censored`: the horizon (plus any grace period) reaches past the data's end, so the
  answer is unknown; censored observations are left out and counted, never called
  retained;
- `churned` and `churn_date`: the first churn at or after as_of, if before as_of +
  horizon and already settled inside the data (for a censored observation, a churn the
  data has not seen yet, such as a silence that runs past its end, is not reported).

Every date here is midnight; as_of means "known at 00:00 that day", so rows stamped on
the as-of day itself are in the future.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from healthscore.compute._outcome_data import OutcomeData
from healthscore.spec._outcomes import OutcomeSpec

LABEL_COLUMNS = ("eligible", "censored", "churned", "churn_date")


def label_observations(
    observations: pd.DataFrame, spec: OutcomeSpec, data: OutcomeData
) -> pd.DataFrame:
    """The observations (account_id, as_of) with the label columns, in the same order."""
    obs = observations[["account_id", "as_of"]].copy()
    obs["account_id"] = obs["account_id"].astype(str)
    obs["as_of"] = pd.to_datetime(obs["as_of"]).astype("datetime64[us]")
    obs["_row"] = np.arange(len(obs))
    horizon = pd.Timedelta(days=spec.horizon_days)
    match spec.kind:
        case "subscription_end":
            eligible = _subscription_running(obs, data.rows)
            churn_dates = _subscription_churn_dates(data.rows, spec.grace_days)
            reach = horizon + pd.Timedelta(days=spec.grace_days)
        case "inactivity":
            days = pd.Timedelta(days=spec.inactive_days or 0)
            last = _previous(obs, data.rows, "day")
            eligible = last.notna() & (last + days >= obs["as_of"])
            churn_dates = _inactivity_churn_dates(data.rows, days)
            reach = horizon
        case "non_repurchase" if spec.multiple is None:
            eligible = _previous(obs, data.rows, "day").notna()
            following = _next(obs, data.rows.rename(columns={"day": "date"}))
            churned = following.isna() | (following >= obs["as_of"] + horizon)
            # The whole horizon must lie inside the data to show that no order came.
            churned &= obs["as_of"] + horizon <= data.data_until
            # A fixed holdout has no churn day: it is the absence of an order.
            return _finish(
                obs, eligible, churned, pd.Series(pd.NaT, index=obs.index), data, horizon
            )
        case "non_repurchase":
            eligible, churn_dates = _lapse(obs, data.rows, spec)
            reach = horizon
        case "table":
            if spec.once:
                eligible = _previous(obs, data.rows, "day").isna()
            else:
                eligible = pd.Series(True, index=obs.index)
            churn_dates = data.rows.rename(columns={"day": "date"})
            reach = horizon
    first = _next(obs, churn_dates)
    # Settled: the data covers the churn day and any grace a restart had after it. Only
    # censored observations can have an unsettled churn before as_of + horizon.
    settled = first + (reach - horizon) < data.data_until
    churned = first.notna() & (first < obs["as_of"] + horizon) & settled
    return _finish(obs, eligible, churned, first.where(churned), data, reach)


def _finish(
    obs: pd.DataFrame,
    eligible: pd.Series,
    churned: pd.Series,
    churn_date: pd.Series,
    data: OutcomeData,
    reach: pd.Timedelta,
) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "eligible": eligible.to_numpy(dtype=bool),
            "censored": (obs["as_of"] + reach > data.data_until).to_numpy(dtype=bool),
            "churned": churned.to_numpy(dtype=bool),
            "churn_date": pd.to_datetime(churn_date).astype("datetime64[us]").to_numpy(),
        },
        index=obs["_row"].to_numpy(),
    )
    return out.sort_index().reset_index(drop=True)


def _sorted(frame: pd.DataFrame, on: str) -> pd.DataFrame:
    return frame.sort_values(on, kind="stable")


def _previous(obs: pd.DataFrame, rows: pd.DataFrame, column: str) -> pd.Series:
    """The latest `column` strictly before each observation's as_of (NaT if none)."""
    return _previous_with(obs, rows.assign(_value=rows[column]), column, "_value")


def _next(obs: pd.DataFrame, dates: pd.DataFrame) -> pd.Series:
    """The first `date` at or after each observation's as_of (NaT if none)."""
    return _lookup(obs, dates, "date", "date", "forward")


def _subscription_running(obs: pd.DataFrame, subs: pd.DataFrame) -> pd.Series:
    """A subscription started before as_of and not ended before it."""
    pairs = obs[["_row", "account_id", "as_of"]].merge(subs, on="account_id")
    running = (pairs["start"] < pairs["as_of"]) & (
        pairs["end"].isna() | (pairs["end"] >= pairs["as_of"])
    )
    rows = set(pairs.loc[running, "_row"])
    return obs["_row"].isin(rows)


def _subscription_churn_dates(subs: pd.DataFrame, grace_days: int) -> pd.DataFrame:
    """End dates after which no subscription of the account runs within the grace period."""
    ended = subs.loc[subs["end"].notna(), ["account_id", "end"]].drop_duplicates()
    others = subs.rename(columns={"start": "other_start", "end": "other_end"})
    pairs = ended.merge(others, on="account_id")
    grace = pd.Timedelta(days=grace_days)
    covered = (pairs["other_start"] <= pairs["end"] + grace) & (
        pairs["other_end"].isna() | (pairs["other_end"] > pairs["end"])
    )
    kept = pairs.loc[covered, ["account_id", "end"]].drop_duplicates()
    keys = pd.MultiIndex.from_frame(ended)
    churned = ended[~keys.isin(pd.MultiIndex.from_frame(kept))]
    return churned.rename(columns={"end": "date"})


def _inactivity_churn_dates(days: pd.DataFrame, silence: pd.Timedelta) -> pd.DataFrame:
    """The day each silence of more than `silence` reaches it: last active day + silence."""
    ordered = days.sort_values(["account_id", "day"], kind="stable")
    following = ordered.groupby("account_id", sort=False)["day"].shift(-1)
    gap_too_long = following.isna() | (following - ordered["day"] > silence)
    churned = ordered.loc[gap_too_long, ["account_id", "day"]]
    return pd.DataFrame({"account_id": churned["account_id"], "date": churned["day"] + silence})


def _lapse(
    obs: pd.DataFrame, days: pd.DataFrame, spec: OutcomeSpec
) -> tuple[pd.Series, pd.DataFrame]:
    """Non-repurchase against the customer's own cadence.

    After each purchase day the customer may wait `multiple` x the median gap between
    their purchases so far (`fallback` days after a first purchase); the day that
    allowance runs out with no purchase is a churn date.
    """
    ordered = days.sort_values(["account_id", "day"], kind="stable").reset_index(drop=True)
    by_account = ordered.groupby("account_id", sort=False)["day"]
    gaps = (ordered["day"] - by_account.shift(1)).dt.days.astype("float64")
    typical = gaps.groupby(ordered["account_id"], sort=False).expanding().median()
    typical = typical.reset_index(level=0, drop=True).sort_index()
    allowed = typical * float(spec.multiple or 1.0)
    if spec.fallback_days is not None:
        allowed = allowed.fillna(float(spec.fallback_days))
    # Rounded before the ceiling: 1.1 x 50 is 55.00000000000001 in floating point, and
    # a whole allowance must not gain a day from that.
    whole_days = np.ceil(allowed.round(9))
    ordered["deadline"] = ordered["day"] + pd.to_timedelta(whole_days, unit="D")
    following = by_account.shift(-1)
    lapsed = ordered["deadline"].notna() & (following.isna() | (following > ordered["deadline"]))
    churn_dates = ordered.loc[lapsed, ["account_id", "deadline"]].rename(
        columns={"deadline": "date"}
    )
    deadline = _previous_with(obs, ordered, "day", "deadline")
    eligible = deadline.notna() & (deadline >= obs["as_of"])
    return eligible, churn_dates


def _previous_with(obs: pd.DataFrame, rows: pd.DataFrame, on: str, value: str) -> pd.Series:
    """`value` of the latest row whose `on` is strictly before each as_of."""
    return _lookup(obs, rows, on, value, "backward")


def _lookup(
    obs: pd.DataFrame,
    rows: pd.DataFrame,
    on: str,
    value: str,
    direction: Literal["backward", "forward"],
) -> pd.Series:
    """`value` of each account's nearest row by `on`: strictly before as_of ("backward"),
    or at or after it ("forward"); aligned with `obs`, missing where there is none."""
    right = pd.DataFrame(
        {
            "account_id": rows["account_id"],
            "_on": rows[on].astype("datetime64[us]"),
            "_value": rows[value],
        }
    )
    merged = pd.merge_asof(
        _sorted(obs, "as_of"),
        _sorted(right, "_on"),
        left_on="as_of",
        right_on="_on",
        by="account_id",
        direction=direction,
        allow_exact_matches=direction == "forward",
    )
    return merged.set_index("_row")["_value"].reindex(obs["_row"]).set_axis(obs.index)
