"""healthscore: customer health scores as versioned, backtested, explainable code."""

from typing import Any

from healthscore.compute import AssignmentError, SourceError
from healthscore.compute._model_reasons import risk_value_quadrants
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


def __getattr__(name: str) -> Any:
    # scikit-learn and LightGBM load on first use, not with every score.
    if name == "BacktestResult":
        from healthscore.evaluation import BacktestResult

        return BacktestResult
    if name in {"ArtifactError", "ChurnModel"}:
        from healthscore import model

        return getattr(model, name)
    raise AttributeError(f"module 'healthscore' has no attribute '{name}'")
