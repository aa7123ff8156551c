"""From labelled observations to the BacktestResult: every number and every warning."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from healthscore.compute._metrics import gate_column
from healthscore.compute._outcome_data import OutcomeData
from healthscore.evaluation._result import (
    BacktestResult,
    ComponentEvidence,
    DateRow,
    GateEvidence,
    LeadTime,
    SliceEvidence,
)
from healthscore.evaluation._stats import (
    auc,
    auc_interval,
    calibration,
    cohorts,
    histogram,
    lift_curve,
    rate,
    roc,
    tier_order_failures,
    tier_rows,
    top_decile_lift,
)
from healthscore.spec._outcomes import OutcomeSpec
from healthscore.spec._resolved import ResolvedScorecard


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def summarize(
    scorecard: ResolvedScorecard,
    outcome: OutcomeSpec,
    frame: pd.DataFrame,
    dates: Sequence[dt.date],
    data: OutcomeData,
    notes: Sequence[str] = (),
) -> BacktestResult:
    """The result for scored, labelled observations (every eligible one, censored included)."""
    worst_first = [tier.name for tier in reversed(scorecard.tiers)]
    labelled = frame[frame["eligible"] & ~frame["censored"]]
    churned = labelled["churned"].to_numpy(dtype=bool)
    score = labelled["score"].to_numpy(dtype=np.float64)
    curve = lift_curve(churned, score)
    tiers = tier_rows(labelled["tier"].to_numpy(), churned, worst_first)
    failures = tier_order_failures(tiers)
    gates = _gates(scorecard, labelled)
    result = BacktestResult(
        scorecard_name=scorecard.name,
        scorecard_version=scorecard.version,
        scorecard_hash=scorecard.hash,
        outcome=outcome.kind,
        horizon_days=outcome.horizon_days,
        dates=sorted(dates),
        data_until=data.data_until.date(),
        observations=len(labelled),
        churned=int(churned.sum()),
        censored=int((frame["eligible"] & frame["censored"]).sum()),
        ineligible=int((~frame["eligible"]).sum()),
        churn_rate=_round(rate(int(churned.sum()), len(labelled)), 6),
        auc=_round(auc(churned, score)),
        auc_interval=auc_interval(churned, score, labelled["account_id"].to_numpy()),
        top_decile_lift=top_decile_lift(curve),
        lift_curve=curve,
        roc=roc(churned, score),
        tiers=tiers,
        tier_order_failures=failures,
        calibration=calibration(churned, score),
        lead_time=lead_time(frame, worst_first[0]) if outcome_has_dates(outcome) else None,
        measures=_components(scorecard, labelled, "measure"),
        groups=_components(scorecard, labelled, "group"),
        gates=gates,
        segments=_slices(labelled, "segment", worst_first),
        stages=_slices(labelled, "stage", worst_first),
        by_date=_by_date(frame, dates, worst_first),
        warnings=_warnings(frame, labelled, dates, failures, outcome, data)
        + _gate_warnings(scorecard, gates)
        + list(notes),
    )
    result._observations = frame
    return result


def outcome_has_dates(outcome: OutcomeSpec) -> bool:
    """A fixed-holdout non-repurchase has no churn day, so no lead time."""
    return not (outcome.kind == "non_repurchase" and outcome.multiple is None)


def lead_time(frame: pd.DataFrame, worst: str) -> LeadTime:
    """Days from entering the worst tier (and staying there) to churn, per churned account.

    For each account with a labelled churn, its observations before the churn date are
    read latest first; the lead time runs from the first date of the final unbroken run
    of worst-tier observations. No worst-tier observation right before churn: never
    flagged.
    """
    positives = frame.loc[frame["eligible"] & frame["churned"], ["account_id", "churn_date"]]
    churns = positives.groupby("account_id", sort=False, as_index=False)["churn_date"].min()
    seen = frame.loc[frame["eligible"], ["account_id", "as_of", "tier"]].merge(
        churns, on="account_id"
    )
    seen = seen[seen["as_of"] <= seen["churn_date"]].sort_values(
        ["account_id", "as_of"], ascending=[True, False], kind="stable"
    )
    # Latest first per account: the final worst-tier run is the leading rows that are all
    # worst; a running count of non-worst rows stays 0 exactly there.
    not_worst = (seen["tier"] != worst).astype(np.int64)
    breaks = not_worst.groupby(seen["account_id"], sort=False).cumsum()
    run = seen[breaks.to_numpy() == 0]
    entered = run.groupby("account_id", sort=False).agg(
        entered=("as_of", "min"), churn_date=("churn_date", "first")
    )
    days = sorted(int(d) for d in (entered["churn_date"] - entered["entered"]).dt.days)
    total = len(churns)
    return LeadTime(
        churners=total,
        flagged=len(days),
        never_flagged_share=_round(rate(total - len(days), total)),
        median_days=float(np.median(days)) if days else None,
        days=sorted(days),
    )


def _components(
    scorecard: ResolvedScorecard, labelled: pd.DataFrame, kind: str
) -> list[ComponentEvidence]:
    churned = labelled["churned"].to_numpy(dtype=bool)
    names: list[tuple[str, str | None]]
    if kind == "measure":
        names = [(m.code, m.metric) for m in scorecard.measures]
    else:
        seen = {g.name: None for v in scorecard.variants.values() for g in v.groups}
        names = [(name, None) for name in seen]
    evidence = []
    for name, metric in names:
        column = f"{kind}.{name}"
        values = labelled[column].to_numpy(dtype=np.float64)
        present = ~np.isnan(values)
        rows = []
        if metric is not None and metric in labelled.columns:
            rows = cohorts(labelled[metric].to_numpy(dtype=np.float64), churned)
        evidence.append(
            ComponentEvidence(
                name=name,
                kind=kind,
                metric=metric,
                observations=int(present.sum()),
                auc=_round(auc(churned[present], values[present])),
                cohorts=rows,
            )
        )
    return evidence


def _gates(scorecard: ResolvedScorecard, labelled: pd.DataFrame) -> list[GateEvidence]:
    churned = labelled["churned"].to_numpy(dtype=bool)
    evidence = []
    for gate in scorecard.gates:
        fired = labelled[gate_column(gate.name)].to_numpy(dtype=bool)
        hits = int(churned[fired].sum())
        evidence.append(
            GateEvidence(
                name=gate.name,
                fired=int(fired.sum()),
                churned_when_fired=hits,
                churn_rate_fired=_round(rate(hits, int(fired.sum())), 6),
                churn_rate_not_fired=_round(
                    rate(int(churned[~fired].sum()), int((~fired).sum())), 6
                ),
            )
        )
    return evidence


def _gate_warnings(scorecard: ResolvedScorecard, gates: list[GateEvidence]) -> list[str]:
    """A cap should fire on accounts that churn more than the rest; a floor, less."""
    notes = []
    for spec, evidence in zip(scorecard.gates, gates, strict=True):
        fired, rest = evidence.churn_rate_fired, evidence.churn_rate_not_fired
        if fired is None or rest is None:
            continue
        caps = spec.cap is not None
        if (caps and fired <= rest) or (not caps and fired >= rest):
            notes.append(
                f"gate '{spec.name}' ({'cap' if caps else 'floor'}) fired on "
                f"{evidence.fired} observation(s) that churned {fired:.1%} against {rest:.1%} "
                f"for the rest: it {'caps' if caps else 'lifts'} scores without evidence"
            )
    return notes


def _slices(labelled: pd.DataFrame, column: str, worst_first: list[str]) -> list[SliceEvidence]:
    slices = []
    # Only the columns read: a group of the whole frame copies every metric and sub-score.
    narrow = labelled[[column, "churned", "score", "tier"]]
    for name, part in narrow.groupby(column, sort=True):
        churned = part["churned"].to_numpy(dtype=bool)
        score = part["score"].to_numpy(dtype=np.float64)
        tiers = tier_rows(part["tier"].to_numpy(), churned, worst_first)
        slices.append(
            SliceEvidence(
                name=str(name),
                observations=len(part),
                churned=int(churned.sum()),
                churn_rate=_round(rate(int(churned.sum()), len(part)), 6),
                auc=_round(auc(churned, score)),
                top_decile_lift=top_decile_lift(lift_curve(churned, score)),
                tiers=tiers,
                tier_order_failures=tier_order_failures(tiers),
            )
        )
    return slices


def _by_date(
    frame: pd.DataFrame, dates: Sequence[dt.date], worst_first: list[str]
) -> list[DateRow]:
    # Only the columns read: filtering the whole frame per date copied every column.
    eligible = frame.loc[frame["eligible"], ["as_of", "censored", "churned", "score", "tier"]]
    stamps = eligible["as_of"].to_numpy()
    rows = []
    for day in sorted(dates):
        part = eligible[stamps == np.datetime64(day, "us")]
        known = part[~part["censored"]]
        hits = int(known["churned"].sum())
        rows.append(
            DateRow(
                as_of=day,
                observations=len(known),
                churned=hits,
                censored=int(part["censored"].sum()),
                churn_rate=_round(rate(hits, len(known)), 6),
                mean_score=round(float(part["score"].mean()), 2) if len(part) else None,
                tiers={tier: int((part["tier"] == tier).sum()) for tier in worst_first},
                histogram=histogram(part["score"].to_numpy(dtype=np.float64)),
            )
        )
    return rows


def _warnings(
    frame: pd.DataFrame,
    labelled: pd.DataFrame,
    dates: Sequence[dt.date],
    failures: int,
    outcome: OutcomeSpec,
    data: OutcomeData,
) -> list[str]:
    notes = []
    if data.data_from is not None:
        early = [day for day in sorted(dates) if pd.Timestamp(day) <= data.data_from]
        if early:
            notes.append(
                f"{len(early)} date(s) on or before the data begins ({data.data_from.date()}): "
                f"metrics there see no rows ({', '.join(d.isoformat() for d in early[:6])})"
            )
    late = [day for day in sorted(dates) if pd.Timestamp(day) >= data.data_until]
    if late:
        notes.append(
            f"{len(late)} date(s) after the data ends ({data.data_until.date()}): nothing is "
            "known there"
        )
    churned = int(labelled["churned"].sum())
    if frame.empty or not frame["eligible"].any():
        notes.append(
            "no eligible observations: no account was in the population (and able to churn) "
            "on any observation date; check the dates against the data"
        )
    elif labelled.empty:
        notes.append(
            f"every observation is censored: the {outcome.horizon_days}-day horizon reaches "
            "past the data's end on every date; move --end earlier or shorten --horizon"
        )
    elif churned == 0:
        notes.append(
            f"no churn among {len(labelled)} observations: AUC, lift and lead time are "
            "undefined (nothing to rank); check the outcome definition and horizon"
        )
    elif churned == len(labelled):
        notes.append(
            f"every one of {len(labelled)} observations churned: AUC and lift are undefined "
            "(nothing to rank against); check the outcome definition"
        )
    if len(labelled) and labelled["score"].nunique() == 1:
        notes.append(
            f"the score is constant ({labelled['score'].iloc[0]:g}) on every observation: it "
            "cannot rank accounts, so its AUC is 0.5 or undefined"
        )
    if failures:
        notes.append(
            f"churn does not fall strictly from the worst tier to the best "
            f"({failures} adjacent pair(s) out of order): the tiers mislead"
        )
    if not outcome_has_dates(outcome):
        notes.append(
            "lead time is undefined: a fixed-holdout non_repurchase outcome has no churn day "
            "(add `multiple:` for a cadence-based one that has)"
        )
    censored = int((frame["eligible"] & frame["censored"]).sum())
    if censored:
        notes.append(
            f"{censored} observation(s) censored and left out: their horizon reaches past the "
            "data's end, so whether they churned is unknown"
        )
    present = {pd.Timestamp(d).date() for d in frame.loc[frame["eligible"], "as_of"].unique()}
    empty = [day.isoformat() for day in sorted(dates) if day not in present]
    if empty:
        notes.append(f"no eligible accounts on {len(empty)} date(s): {', '.join(empty[:6])}")
    return notes
