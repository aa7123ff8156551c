"""Weighting, missing data, confidence, gates and tiers, vectorized over many accounts.

The score is `50 + sum(impacts)`, where a measure's impact is its effective weight times
(sub-score - 50): every point above or below a neutral account is attributed to exactly
one measure, which is what makes the reason codes add up. Weights are normalized, first
among the measures of a group, then among groups, over what each account has data for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from healthscore.core._normalize import NEUTRAL, FloatArray
from healthscore.spec._resolved import GateSpec, MissingPolicy, TierSpec, VariantSpec

BoolArray = NDArray[np.bool_]


@dataclass
class VariantScores:
    """Scores of the rows of one variant; per-measure arrays are keyed by measure code."""

    score: FloatArray
    confidence: FloatArray
    measures: dict[str, FloatArray] = field(default_factory=dict)
    impacts: dict[str, FloatArray] = field(default_factory=dict)
    groups: dict[str, FloatArray] = field(default_factory=dict)


def score_variant(
    variant: VariantSpec, sub_scores: Mapping[str, FloatArray], rows: int
) -> VariantScores:
    """Combine measure sub-scores (NaN = no data) into scores for `rows` accounts."""
    total_group_weight = sum(group.weight for group in variant.groups) or 1.0
    group_parts: list[tuple[FloatArray, dict[str, FloatArray]]] = []
    present_group_weight = np.zeros(rows)
    result = VariantScores(score=np.zeros(rows), confidence=np.zeros(rows))
    for group in variant.groups:
        total_weight = sum(measure.weight for measure in group.measures) or 1.0
        counted_weight = np.zeros(rows)
        weighted_sum = np.zeros(rows)
        weights: dict[str, FloatArray] = {}
        for measure in group.measures:
            raw = sub_scores[measure.code]
            observed = ~np.isnan(raw)
            match measure.missing:
                case MissingPolicy.REWEIGHT:
                    value = raw
                case MissingPolicy.NEUTRAL:
                    value = np.where(observed, raw, measure.neutral)
                case MissingPolicy.WORST:
                    value = np.where(observed, raw, 0.0)
            counts = ~np.isnan(value)
            weight = np.where(counts, measure.weight, 0.0)
            counted_weight += weight
            weighted_sum += np.where(counts, weight * np.nan_to_num(value), 0.0)
            weights[measure.code] = weight
            result.measures[measure.code] = value
            static_share = (group.weight / total_group_weight) * (measure.weight / total_weight)
            result.confidence += np.where(observed, static_share, 0.0)
        has_data = counted_weight > 0
        safe = np.where(has_data, counted_weight, 1.0)
        result.groups[group.name] = np.where(has_data, weighted_sum / safe, np.nan)
        shares = {code: weight / safe for code, weight in weights.items()}
        group_weight = np.where(has_data, group.weight, 0.0)
        present_group_weight += group_weight
        group_parts.append((group_weight, shares))
    safe_total = np.where(present_group_weight > 0, present_group_weight, 1.0)
    impact_total = np.zeros(rows)
    for (group_weight, shares), group in zip(group_parts, variant.groups, strict=True):
        group_share = group_weight / safe_total
        for measure in group.measures:
            effective = group_share * shares[measure.code]
            sub = np.nan_to_num(result.measures[measure.code], nan=NEUTRAL)
            impact = effective * (sub - NEUTRAL)
            result.impacts[measure.code] = impact
            impact_total += impact
    result.score = np.clip(NEUTRAL + impact_total, 0.0, 100.0)
    result.confidence = np.clip(result.confidence, 0.0, 1.0)
    return result


@dataclass(frozen=True)
class GateOutcome:
    score: FloatArray
    impacts: dict[str, FloatArray]  # per gate: points it moved the score (0 where not fired)


def apply_gates(
    score: FloatArray, gates: Sequence[GateSpec], fired: Mapping[str, BoolArray]
) -> GateOutcome:
    """Caps first, then floors; each fired gate's impact is how far it moved the score."""
    result = score.copy()
    impacts: dict[str, FloatArray] = {}
    for gate in sorted(gates, key=lambda g: g.cap is None):
        mask = fired[gate.name]
        before = result
        if gate.cap is not None:
            result = np.where(mask, np.minimum(result, gate.cap), result)
        elif gate.floor is not None:
            result = np.where(mask, np.maximum(result, gate.floor), result)
        impacts[gate.name] = result - before
    return GateOutcome(result, impacts)


def assign_tiers(score: FloatArray, tiers: Sequence[TierSpec]) -> NDArray[np.object_]:
    """The name of the best tier whose `min` each score reaches (tiers are best first)."""
    names = np.array([tier.name for tier in tiers], dtype=object)
    result = np.full(score.shape, names[-1], dtype=object)
    for tier in reversed(tiers):
        result = np.where(score >= tier.min, tier.name, result)
    return result
