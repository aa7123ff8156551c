"""Evidence: label past observations with outcomes, measure how well scores predict them."""

from healthscore.evaluation._backtest import (
    BacktestError,
    observation_dates,
    observations,
    run_backtest,
)
from healthscore.evaluation._compare import Comparison, compare
from healthscore.evaluation._result import BacktestResult
from healthscore.evaluation._weights import SuggestError, WeightSuggestion, suggest_weights

__all__ = [
    "BacktestError",
    "BacktestResult",
    "Comparison",
    "SuggestError",
    "WeightSuggestion",
    "compare",
    "observation_dates",
    "observations",
    "run_backtest",
    "suggest_weights",
]
