"""Evidence: label past observations with outcomes, measure how well scores predict them."""

from healthscore.evaluation._backtest import (
    BacktestError,
    observation_dates,
    observations,
    run_backtest,
)
from healthscore.evaluation._result import BacktestResult

__all__ = [
    "BacktestError",
    "BacktestResult",
    "observation_dates",
    "observations",
    "run_backtest",
]
