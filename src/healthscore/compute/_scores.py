"""Turn an executed metric frame into the score frame, calling the pure core."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import NDArray

from healthscore.compute._metrics import (
    condition_column,
    default_condition,
    gate_column,
)
from healthscore.compute._model_output import ModelOutput
from healthscore.compute._model_reasons import add_value, model_reasons
from healthscore.compute._reason_sources import reason_source
from healthscore.compute._reason_text import ReasonTable, gate_reasons, measure_reasons
from healthscore.core import apply_gates, assign_tiers, normalize, pick_reasons, score_variant
from healthscore.spec._resolved import (
    ConditionSpec,
    LogZNormalizer,
    PercentileNormalizer,
    ResolvedScorecard,
)


class AssignmentError(ValueError):
    """Some accounts match no segment (or stage), or more than one."""


def assign(frame: pd.DataFrame, section: str, conditions: Sequence[ConditionSpec]) -> NDArray[Any]:
    """The one segment (or stage) of each row; raises AssignmentError naming the accounts."""
    named = [c for c in conditions if c.when is not None]
    default = default_condition(conditions)
    rows = len(frame)
    if not named:
        return np.full(rows, default or "default", dtype=object)
    matches = np.column_stack(
        [frame[condition_column(section, c.name)].to_numpy(dtype=bool) for c in named]
    )
    count = matches.sum(axis=1)
    problems = []
    overlap = count > 1
    if overlap.any():
        problems.append(
            f"{int(overlap.sum())} account(s) match more than one {section} "
            f"(e.g. {_examples(frame, overlap)}); make the 'when' conditions exclusive"
        )
    unassigned = count == 0
    if unassigned.any() and default is None:
        problems.append(
            f"{int(unassigned.sum())} account(s) match no {section} "
            f"(e.g. {_examples(frame, unassigned)}); add a {section} without 'when' as default"
        )
    if problems:
        raise AssignmentError("; ".join(problems))
    names = np.array([c.name for c in named], dtype=object)
    chosen: NDArray[Any] = names[np.argmax(matches, axis=1)]
    result: NDArray[Any] = np.where(unassigned, str(default), chosen)
    return result


def _examples(frame: pd.DataFrame, mask: NDArray[np.bool_]) -> str:
    return ", ".join(str(account) for account in frame.loc[mask, "account_id"].head(3))


def _peer_codes(frame: pd.DataFrame, segment: NDArray[Any], by_segment: bool) -> NDArray[np.int64]:
    """Numbers the comparison groups of percentile and log_z: as-of date (and segment)."""
    dates = pd.factorize(frame["as_of"])[0].astype(np.int64)
    if not by_segment:
        return dates
    segments = pd.factorize(segment)[0].astype(np.int64)
    return segments * (int(dates.max(initial=0)) + 1) + dates


def score_frame(
    scorecard: ResolvedScorecard,
    frame: pd.DataFrame,
    models: Mapping[Path, ModelOutput] | None = None,
    reasons: bool = True,
    with_impacts: bool = False,
    reference: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Scores, tiers, confidence, reasons and sub-scores for every row of a metric frame.

    Variants that name a model are scored by it when `models` holds its output
    (score = 100 x (1 - churn probability / zero_score_at), reasons from its
    contributions); without
    `models` every variant is scored by its groups (the rules). With `reasons` false the
    reasons column holds empty lists (backtests need scores, not texts). With `with_impacts`,
    `impact.<measure>` columns hold the points each measure moved the score from 50
    (rules-scored rows only), which is what lets history say what changed. `reference`
    (segment and metric columns of a full population) is what percentile and log_z
    measures compare with instead of the rows themselves: rescoring a few accounts.
    """
    frame = frame.reset_index(drop=True)
    rows = len(frame)
    segment = assign(frame, "segment", scorecard.segments)
    stage = assign(frame, "stage", scorecard.stages)
    peers = {
        within: _peer_codes(frame, segment, within)
        for within in {
            isinstance(m.normalizer, PercentileNormalizer | LogZNormalizer)
            and m.normalizer.within_segment
            for m in scorecard.measures
        }
    }
    population: dict[bool, tuple[pd.DataFrame, NDArray[np.int64]]] = {}
    if reference is not None:
        # One numbering of segments for the rows and the population they are ranked in.
        joint = pd.factorize(pd.concat([pd.Series(segment), reference["segment"]]))[0]
        peers = {True: joint[:rows].astype(np.int64), False: np.zeros(rows, np.int64)}
        population = {
            True: (reference, joint[rows:].astype(np.int64)),
            False: (reference, np.zeros(len(reference), np.int64)),
        }

    score = np.full(rows, 50.0)
    confidence = np.zeros(rows)
    churn_probability = np.full(rows, np.nan)
    # Every sub-score column exists even when no row uses it: a stable schema.
    columns: dict[str, NDArray[np.float64]] = {
        f"{kind}.{name}": np.full(rows, np.nan)
        for variant in scorecard.variants.values()
        for kind, names in (
            ("measure", [m.code for m in variant.measures]),
            ("group", [g.name for g in variant.groups]),
        )
        for name in names
    }
    reason_parts: list[ReasonTable] = []
    normalized: dict[tuple[str, Any], NDArray[np.float64]] = {}
    for (segment_name, stage_name), variant in scorecard.variants.items():
        mask = (segment == segment_name) & (stage == stage_name)
        if not mask.any():
            continue
        if variant.model is not None and models is not None:
            output = models[variant.model]
            probability = output.probability[mask]
            churn_probability[mask] = probability
            zero_at = scorecard.model.zero_score_at if scorecard.model else 1.0
            score[mask] = 100.0 * np.clip(1.0 - probability / zero_at, 0.0, 1.0)
            confidence[mask] = output.coverage()[mask]
            if reasons:
                reason_parts.append(model_reasons(scorecard, output, mask))
            continue
        subs = {}
        for measure in variant.measures:
            key = (measure.metric, measure.normalizer)
            if key not in normalized:
                within = isinstance(measure.normalizer, PercentileNormalizer | LogZNormalizer) and (
                    measure.normalizer.within_segment
                )
                values = frame[measure.metric].to_numpy(dtype=np.float64)
                known = None
                if population and isinstance(
                    measure.normalizer, PercentileNormalizer | LogZNormalizer
                ):
                    table, codes = population[within]
                    known = (table[measure.metric].to_numpy(dtype=np.float64), codes)
                normalized[key] = normalize(measure.normalizer, values, peers[within], known)
            subs[measure.code] = normalized[key][mask]
        result = score_variant(variant, subs, int(mask.sum()))
        score[mask] = result.score
        confidence[mask] = result.confidence
        for code, values in result.measures.items():
            columns.setdefault(f"measure.{code}", np.full(rows, np.nan))[mask] = values
        for name, values in result.groups.items():
            columns.setdefault(f"group.{name}", np.full(rows, np.nan))[mask] = values
        if with_impacts:
            for code, values in result.impacts.items():
                columns.setdefault(f"impact.{code}", np.full(rows, np.nan))[mask] = values
        if reasons:
            sources = [reason_source(scorecard, m, frame, mask) for m in variant.measures]
            impacts = np.column_stack([result.impacts[m.code] for m in variant.measures])
            picks = pick_reasons(impacts, scorecard.max_drags, scorecard.max_lifts)
            row_ids = np.flatnonzero(mask).astype(np.int64)
            reason_parts.append(measure_reasons(picks, sources, row_ids))

    fired = {g.name: frame[gate_column(g.name)].to_numpy(dtype=bool) for g in scorecard.gates}
    gated = apply_gates(score, scorecard.gates, fired)
    gates = (
        gate_reasons({g.name: g.reason for g in scorecard.gates}, gated.impacts, fired)
        if reasons
        else ReasonTable.empty()
    )
    final = np.round(gated.score, 2)
    as_of = pa.array(pd.to_datetime(frame["as_of"]).to_numpy()).cast(pa.date32())
    out = pd.DataFrame(
        {
            "account_id": frame["account_id"],
            "as_of": pd.arrays.ArrowExtensionArray(as_of),
            "score": final,
            "tier": assign_tiers(final, scorecard.tiers),
            "confidence": np.round(confidence, 4),
            "reasons": ReasonTable.concat([gates, *reason_parts]).column(rows),
            "segment": segment,
            "stage": stage,
            "scorecard_name": scorecard.name,
            "scorecard_version": scorecard.version,
            "scorecard_hash": scorecard.hash,
        }
    )
    sub_scores = pd.DataFrame(
        {name: np.round(values, 2) for name, values in sorted(columns.items())}
    )
    out["churn_probability"] = np.round(churn_probability, 6)
    if "owner" in frame.columns:
        out["owner"] = frame["owner"].astype(object).where(frame["owner"].notna(), None)
    if scorecard.value is not None:
        add_value(out, frame[scorecard.value].to_numpy(dtype=np.float64), churn_probability)
    return pd.concat([out, sub_scores], axis=1)


__all__ = ["AssignmentError", "score_frame"]
