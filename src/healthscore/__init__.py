"""healthscore: customer health scores as versioned, backtested, explainable code."""

from healthscore.compute import AssignmentError, SourceError
from healthscore.engine import Engine
from healthscore.spec import (
    Issue,
    ResolvedScorecard,
    Scorecard,
    ScorecardError,
    load_scorecard,
    load_scorecard_text,
)

__version__ = "0.1.0"

__all__ = [
    "AssignmentError",
    "Engine",
    "Issue",
    "ResolvedScorecard",
    "Scorecard",
    "ScorecardError",
    "SourceError",
    "__version__",
    "load_scorecard",
    "load_scorecard_text",
]
