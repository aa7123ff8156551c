"""Which accounts a playbook holds out as its control group: a stable hash, no stored state.

An account's place is sha256 of "<playbook>\\x00<account_id>", its first 8 bytes read as
a big-endian unsigned integer and scaled to [0, 100). It is held out when that place is
below the playbook's holdout percent. So the answer never changes between runs or
machines, raising the percent only moves accounts into control, and two playbooks split
the same accounts (nearly) independently.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = ["control_group", "control_mask"]

_SCALE = 2**64


def control_group(playbook: str, account_id: str, holdout_percent: float) -> bool:
    """True when the playbook holds the account out: recorded, not acted on.

    >>> control_group("rescue_call", "acme", 0)
    False
    >>> control_group("rescue_call", "acme", 100)
    True
    """
    _check_percent(playbook, holdout_percent)
    if holdout_percent >= 100:
        return True
    return _place(playbook, account_id) < holdout_percent


def control_mask(
    playbook: str, account_ids: Sequence[str] | pd.Series, holdout_percent: float
) -> NDArray[np.bool_]:
    """`control_group` for many accounts at once, in their order.

    >>> control_mask("rescue_call", ["acme", "bolt"], 0).tolist()
    [False, False]
    """
    _check_percent(playbook, holdout_percent)
    if isinstance(account_ids, pd.Series):
        missing = int(account_ids.isna().sum())
        if missing:
            raise ValueError(
                f"The account ids of playbook '{playbook}' must not be missing. Got "
                f"{missing} missing instead. Suggestion: drop those rows first."
            )
        ids: Sequence[str] = [str(value) for value in account_ids]
    else:
        ids = account_ids
    if holdout_percent >= 100:
        return np.ones(len(ids), dtype=np.bool_)
    places = np.fromiter((_place(playbook, i) for i in ids), dtype=np.float64, count=len(ids))
    return places < holdout_percent


def _place(playbook: str, account_id: str) -> float:
    """The account's place in [0, 100] for this playbook (100 only by float rounding)."""
    digest = hashlib.sha256(f"{playbook}\x00{account_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE * 100


def _check_percent(playbook: str, holdout_percent: float) -> None:
    if not (math.isfinite(holdout_percent) and 0 <= holdout_percent <= 100):
        raise ValueError(
            f"The 'holdout_percent' of playbook '{playbook}' must be a number in the range "
            f"[0, 100]. Got {holdout_percent!r} instead."
        )
