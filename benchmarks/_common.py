"""What every implementation returns, the benchmark's tiers, and the agreement check."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: The default tiers of a scorecard (best first): green >= 70, yellow >= 40, red below.
TIERS: tuple[tuple[str, float], ...] = (("green", 70.0), ("yellow", 40.0), ("red", 0.0))


@dataclass(frozen=True)
class Scores:
    """One row per account: id, score (rounded to 2 decimals, as the engine does), tier.

    `raw` is the unrounded score where the implementation has it (SQL and pandas).
    """

    account_id: NDArray[Any]
    score: NDArray[np.float64]
    tier: NDArray[Any]
    raw: NDArray[np.float64] | None = None

    def __len__(self) -> int:
        return len(self.account_id)

    def sorted(self) -> Scores:
        order = np.argsort(self.account_id.astype(str), kind="stable")
        return Scores(
            self.account_id[order],
            self.score[order],
            self.tier[order],
            None if self.raw is None else self.raw[order],
        )


def finish(account_id: NDArray[Any], raw: NDArray[np.float64]) -> Scores:
    """Round like the engine (numpy's round half to even, 2 decimals) and assign tiers."""
    score = np.round(raw, 2)
    tier = np.full(score.shape, TIERS[-1][0], dtype=object)
    for name, minimum in reversed(TIERS):
        tier = np.where(score >= minimum, name, tier)
    return Scores(account_id, score, tier, raw)


def midnight(day: dt.date) -> dt.datetime:
    """As of a date means "known at 00:00 that day": rows stamped strictly before it count."""
    return dt.datetime(day.year, day.month, day.day)


@dataclass(frozen=True)
class Comparison:
    """How two implementations' answers differ."""

    left: str
    right: str
    same_accounts: bool
    max_score_diff: float  # over the rounded scores the implementations output
    max_raw_diff: float | None  # over the unrounded scores, when both have them
    tier_mismatches: int

    @property
    def agrees(self) -> bool:
        return self.same_accounts and self.max_score_diff < 1e-6 and self.tier_mismatches == 0


def compare(left_name: str, left: Scores, right_name: str, right: Scores) -> Comparison:
    a, b = left.sorted(), right.sorted()
    same = len(a) == len(b) and bool(np.array_equal(a.account_id, b.account_id))
    if not same:
        return Comparison(left_name, right_name, False, float("inf"), None, -1)
    diff = float(np.max(np.abs(a.score - b.score))) if len(a) else 0.0
    raw = None
    if a.raw is not None and b.raw is not None and len(a):
        raw = float(np.max(np.abs(a.raw - b.raw)))
    return Comparison(left_name, right_name, True, diff, raw, int(np.sum(a.tier != b.tier)))


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def describe_machine(console: Any, **versions: str) -> dict[str, object]:
    """Cores, load, Python and library versions; warns when other work loads the machine."""
    import os
    import platform

    import duckdb
    import pandas as pd

    load = os.getloadavg()
    cores = os.cpu_count() or 1
    if load[0] > cores * 0.75:
        console.print(
            f"[yellow]load average {load[0]:.1f} on {cores} cores: other work is running, "
            "timings will be noisy[/]"
        )
    return {
        "cores": cores,
        "load_before": load,
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pandas": pd.__version__,
        **versions,
    }
