"""Measures: turn a metric's values into 0-100 sub-scores. NaN (no data) stays NaN."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from healthscore.spec._resolved import (
    BandsNormalizer,
    LinearNormalizer,
    LogZNormalizer,
    Normalizer,
    PercentileNormalizer,
)

FloatArray = NDArray[np.float64]
NEUTRAL = 50.0


Reference = tuple[FloatArray, NDArray[np.int64]]


def normalize(
    normalizer: Normalizer,
    values: FloatArray,
    peers: NDArray[np.int64],
    reference: Reference | None = None,
) -> FloatArray:
    """Sub-scores in [0, 100] for `values`; `peers` numbers the comparison group of each row.

    Percentile and log_z compare each value with its peer group: the other rows, or, with
    `reference` (values, peer numbers), a stored population (rescoring a few accounts
    against the last full run).

    >>> normalize(LinearNormalizer(bad=0, good=10), np.array([5.0, 20.0]), np.zeros(2, np.int64))
    array([ 50., 100.])
    """
    values = np.asarray(values, dtype=np.float64)
    if reference is None:
        reference = (values, peers)
    match normalizer:
        case BandsNormalizer(thresholds=thresholds, scores=scores):
            return _bands(values, thresholds, scores)
        case LinearNormalizer(bad=bad, good=good):
            with np.errstate(over="ignore"):  # a tiny good - bad overflows to inf: clipped
                scaled = (values - bad) / (good - bad)
            return np.clip(scaled, 0.0, 1.0) * 100.0
        case PercentileNormalizer(higher_is_better=higher):
            percentile = _by_peer_group(values, peers, reference, _percentile)
            return percentile if higher else _flip(percentile)
        case LogZNormalizer(higher_is_better=higher, z_range=z_range):
            logged = np.log1p(np.maximum(values, 0.0))
            known = (np.log1p(np.maximum(reference[0], 0.0)), reference[1])
            z = _by_peer_group(logged, peers, known, _zscore)
            z = z if higher else -z
            return np.clip(NEUTRAL + NEUTRAL * z / z_range, 0.0, 100.0)


def _bands(
    values: FloatArray, thresholds: tuple[float, ...], scores: tuple[float, ...]
) -> FloatArray:
    # A value below the first band's `min` takes the first band's score.
    index = np.searchsorted(np.asarray(thresholds), values, side="right") - 1
    result = np.asarray(scores, dtype=np.float64)[np.clip(index, 0, len(scores) - 1)]
    return np.where(np.isnan(values), np.nan, result)


def _flip(scores: FloatArray) -> FloatArray:
    return 100.0 - scores


def _percentile(values: FloatArray, population: FloatArray) -> FloatArray:
    """Mid-rank percentile among the present population values: ties share one."""
    present = np.sort(population[~np.isnan(population)])
    if present.size == 0:
        return np.full_like(values, np.nan)
    below = np.searchsorted(present, values, side="left")
    at_or_below = np.searchsorted(present, values, side="right")
    result = (below + at_or_below) / 2.0 / present.size * 100.0
    return np.where(np.isnan(values), np.nan, result)


def _zscore(values: FloatArray, population: FloatArray) -> FloatArray:
    present = population[~np.isnan(population)]
    if present.size == 0:
        return np.full_like(values, np.nan)
    spread = float(present.std())
    if spread == 0.0:
        return np.where(np.isnan(values), np.nan, 0.0)
    return (values - float(present.mean())) / spread


def _by_peer_group(
    values: FloatArray,
    peers: NDArray[np.int64],
    reference: Reference,
    function: Callable[[FloatArray, FloatArray], FloatArray],
) -> FloatArray:
    population, population_peers = reference
    result = np.full_like(values, np.nan)
    for group in np.unique(peers):
        rows = peers == group
        result[rows] = function(values[rows], population[population_peers == group])
    return result
