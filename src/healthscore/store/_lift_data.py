"""The playbooks' assignments from the action log, with their outcomes attached.

An account's first trigger per playbook decides its group (the control group is a
stable hash, so later triggers would put it in the same group anyway). Churn comes from
the scorecard's outcome definition, recovery from the stored tier history; both are NA
where the horizon reaches past the data.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from healthscore.compute import Sources
from healthscore.compute._outcome_data import read_outcome_data
from healthscore.evaluation._labels import label_observations
from healthscore.playbooks import recovered
from healthscore.spec import ResolvedScorecard
from healthscore.store._actions import actions
from healthscore.store._schema import RUNS, SCORES
from healthscore.store._store import Store

ASSIGNED = ("created", "delivered", "exported", "dead_letter", "held_out", "pending")


def assignments(store: Store, scorecard: ResolvedScorecard) -> pd.DataFrame:
    """One row per playbook and account: the first time it fired and the group it got."""
    log = actions(store.db, scorecard.name, statuses=ASSIGNED)
    columns = ["playbook", "account_id", "tier", "group", "triggered_at"]
    if log.empty:
        return pd.DataFrame(columns=columns)
    log = log[log["action_index"] == 0].sort_values(["as_of", "logged_at"])
    first = log.groupby(["playbook", "account_id"], as_index=False).first()
    return pd.DataFrame(
        {
            "playbook": first["playbook"],
            "account_id": first["account_id"].astype(str),
            # Categories keep the report's tiers in the scorecard's order, best first.
            "tier": pd.Categorical(first["tier"], categories=[t.name for t in scorecard.tiers]),
            "group": first["group_name"],
            "triggered_at": pd.to_datetime(first["as_of"]).dt.date,
        }
    )


def tier_history(store: Store, name: str) -> pd.DataFrame:
    return store.db.query(
        f"SELECT s.account_id, s.as_of, s.tier FROM {SCORES} s JOIN {RUNS} r "
        "ON r.run_id = s.run_id WHERE r.scorecard_name = ? AND r.mode = 'live' "
        "AND r.status = 'done'",
        (name,),
    )


def with_outcomes(
    frame: pd.DataFrame,
    store: Store,
    scorecard: ResolvedScorecard,
    sources: Sources,
    horizon_days: int,
) -> pd.DataFrame:
    """The assignments with nullable `churned` and `recovered` columns."""
    out = frame.copy()
    if out.empty:
        out["churned"] = pd.Series(dtype="boolean")
        out["recovered"] = pd.Series(dtype="boolean")
        return out
    out["churned"] = pd.array([pd.NA] * len(out), dtype="boolean")
    if scorecard.outcome is not None:
        spec = scorecard.outcome.with_horizon(horizon_days)
        observations = pd.DataFrame(
            {"account_id": out["account_id"], "as_of": pd.to_datetime(out["triggered_at"])}
        )
        labels = label_observations(observations, spec, read_outcome_data(spec, sources))
        known = labels["eligible"].to_numpy(dtype=bool) & ~labels["censored"].to_numpy(dtype=bool)
        churned = pd.array(labels["churned"].to_numpy(dtype=bool), dtype="boolean")
        churned[~known] = pd.NA
        out["churned"] = churned
    history = tier_history(store, scorecard.name)
    until: dt.date = pd.to_datetime(history["as_of"]).max().date()
    out["recovered"] = recovered(
        out, history, [tier.name for tier in scorecard.tiers], horizon_days, until
    )
    return out
