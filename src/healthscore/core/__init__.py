"""Pure scoring logic on arrays: normalizers, weighting, gates, tiers, reason codes.

Nothing here reads or writes data, and nothing imports Ibis, pandas or a web framework.
"""

from healthscore.core._normalize import NEUTRAL, normalize
from healthscore.core._reasons import (
    Reason,
    ReasonColumns,
    ReasonSource,
    gate_reasons,
    measure_reasons,
)
from healthscore.core._scoring import VariantScores, apply_gates, assign_tiers, score_variant

__all__ = [
    "NEUTRAL",
    "Reason",
    "ReasonColumns",
    "ReasonSource",
    "VariantScores",
    "apply_gates",
    "assign_tiers",
    "gate_reasons",
    "measure_reasons",
    "normalize",
    "score_variant",
]
