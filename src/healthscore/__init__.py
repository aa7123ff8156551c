"""healthscore: customer health scores as versioned, backtested, explainable code."""

from healthscore.compute import AssignmentError, SourceError
from healthscore.compute._model_reasons import risk_value_quadrants
from healthscore.engine import Engine
from healthscore.evaluation import BacktestResult
from healthscore.model import ArtifactError, ChurnModel
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
    "ArtifactError",
    "AssignmentError",
    "BacktestResult",
    "ChurnModel",
    "Engine",
    "Issue",
    "ResolvedScorecard",
    "Scorecard",
    "ScorecardError",
    "SourceError",
    "__version__",
    "load_scorecard",
    "load_scorecard_text",
    "risk_value_quadrants",
]
