"""A churn model's answers for the rows of a metric frame, as the score frame needs them.

The model package computes these; the score frame only reads them, so scoring does not
depend on how a model is made.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ModelOutput:
    """Row-aligned with the metric frame; contributions are to the raw churn log-odds."""

    probability: FloatArray  # calibrated churn probability
    log_odds: FloatArray  # raw, before calibration: bias + contributions.sum(axis=1)
    bias: FloatArray
    contributions: FloatArray  # rows x features
    values: FloatArray  # rows x features, the inputs (NaN = missing)
    names: tuple[str, ...]  # feature names, for reason codes
    labels: tuple[str, ...]  # feature labels, for reason texts

    def coverage(self) -> FloatArray:
        """Share of the model's features with a value, per row (the score's confidence)."""
        if self.values.shape[1] == 0:
            return np.ones(len(self.probability))
        share: FloatArray = (~np.isnan(self.values)).mean(axis=1)
        return share
