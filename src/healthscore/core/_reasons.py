"""Reason codes: which measures explain each score, ordered by impact.

The choice is made for all rows at once: per row, the `max_drags` most negative impacts
(most negative first), then the `max_lifts` most positive (largest first), leaving out
impacts too small to matter. Turning the choices into text is the compute layer's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import numpy as np
from numpy.typing import NDArray

from healthscore.core._normalize import FloatArray

#: Impacts smaller than this many points are noise, not reasons.
MIN_IMPACT = 0.05
IntArray = NDArray[np.int64]


class Reason(TypedDict):
    code: str
    text: str
    impact: float


@dataclass(frozen=True)
class ReasonPicks:
    """The reasons chosen, flat: row by row, in display order."""

    rows: IntArray  # row of the impact matrix
    measures: IntArray  # column of the impact matrix
    impacts: FloatArray


def pick_reasons(impacts: FloatArray, max_drags: int, max_lifts: int) -> ReasonPicks:
    """Top drags then top lifts of each row of a (rows x measures) impact matrix.

    >>> pick_reasons(np.array([[-3.0, 1.0, -5.0]]), 1, 1).measures.tolist()
    [2, 1]
    """
    rows, measures = impacts.shape
    if rows == 0 or measures == 0:
        empty = np.zeros(0, np.int64)
        return ReasonPicks(empty, empty, np.zeros(0))
    order = np.argsort(impacts, axis=1, kind="stable")
    drags = min(max_drags, measures)
    lifts = min(max_lifts, measures)
    # Candidate slots per row: the drags from the low end, then the lifts from the high end.
    slots = np.concatenate([order[:, :drags], order[:, ::-1][:, :lifts]], axis=1)
    chosen = np.take_along_axis(impacts, slots, axis=1)
    is_drag = np.arange(drags + lifts) < drags
    keep = np.where(is_drag, chosen <= -MIN_IMPACT, chosen >= MIN_IMPACT)
    # nonzero walks row by row, slot by slot: exactly the display order.
    row, slot = np.nonzero(keep)
    return ReasonPicks(row.astype(np.int64), slots[row, slot].astype(np.int64), chosen[row, slot])
