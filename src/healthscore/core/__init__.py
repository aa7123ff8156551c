"""Pure scoring logic on arrays: normalizers, weighting, gates, tiers, reason codes.

Nothing here reads or writes data, and nothing imports Ibis, pandas or a web framework.
"""

from healthscore.core._normalize import NEUTRAL, normalize
from healthscore.core._reasons import MIN_IMPACT, Reason, ReasonPicks, pick_reasons
from healthscore.core._scoring import VariantScores, apply_gates, assign_tiers, score_variant

__all__ = [
    "MIN_IMPACT",
    "NEUTRAL",
    "Reason",
    "ReasonPicks",
    "VariantScores",
    "apply_gates",
    "assign_tiers",
    "normalize",
    "pick_reasons",
    "score_variant",
]
