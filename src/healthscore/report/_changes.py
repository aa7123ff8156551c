"""Tier changes between two scorecard versions: a from/to matrix and the first rows."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from healthscore.evaluation import BacktestResult
from healthscore.report._format import count, number, table, text

COLUMNS = ("account_id", "from_tier", "to_tier", "from_score", "to_score")
LISTED = 200
NO_TIER = "(none)"


def check_columns(frame: pd.DataFrame) -> None:
    missing = [column for column in COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(
            f"The tier_changes frame must have the columns {', '.join(COLUMNS)}. Missing: "
            f"{', '.join(missing)}. Columns in the frame: {', '.join(map(str, frame.columns))}."
        )


def _missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and bool(np.isnan(value))


def _tier(value: object) -> str:
    return NO_TIER if _missing(value) else str(value)


def _score(value: object) -> float | None:
    if isinstance(value, int | float | np.integer | np.floating) and not _missing(value):
        return float(value)
    return None


def _known(results: Sequence[BacktestResult]) -> list[str]:
    """The scorecards' tiers, worst first, as the newest result lists them."""
    return list(dict.fromkeys(row.tier for result in reversed(results) for row in result.tiers))


def _order(known: Sequence[str], seen: Sequence[str]) -> list[str]:
    """Known tiers first, then any other tier seen, then "no tier"."""
    extra = sorted(set(seen) - set(known) - {NO_TIER})
    return [*known, *extra, *([NO_TIER] if NO_TIER in seen else [])]


def tier_changes_section(frame: pd.DataFrame, results: Sequence[BacktestResult]) -> str:
    check_columns(frame)
    source = [_tier(v) for v in frame["from_tier"]]
    target = [_tier(v) for v in frame["to_tier"]]
    known = _known(results)
    order = _order(known, [*source, *target])
    ranked = {tier: place for place, tier in enumerate(known)}
    cells: dict[tuple[str, str], int] = {}
    worse = better = same = other = 0
    for old, new in zip(source, target, strict=True):
        cells[(old, new)] = cells.get((old, new), 0) + 1
        if old not in ranked or new not in ranked:
            other += 1
        elif ranked[new] < ranked[old]:
            worse += 1
        elif ranked[new] > ranked[old]:
            better += 1
        else:
            same += 1
    rows_in = [tier for tier in order if tier in source]
    columns_in = [tier for tier in order if tier in target]
    matrix = [
        [
            text(old),
            *(count(cells.get((old, new), 0)) for new in columns_in),
            count(sum(cells.get((old, new), 0) for new in columns_in)),
        ]
        for old in rows_in
    ]
    headers = ["from \\ to", *(text(tier) for tier in columns_in), "total"]
    summary = (
        f"{count(len(frame))} account(s): {count(worse)} to a worse tier, {count(better)} to a "
        f"better one, {count(same)} unchanged, {count(other)} without a known tier on one side."
    )
    body = f"<p>{summary}</p>" + (table(headers, matrix, "matrix") if matrix else "")
    body += _listing(frame, source, target)
    intro = "Each account's tier in one version against the other (rows: from, columns: to)."
    heading = f'<h2>Tier changes</h2><p class="note">{intro}</p>'
    return f'<section id="tier-changes">{heading}{body}</section>'


def _listing(frame: pd.DataFrame, source: Sequence[str], target: Sequence[str]) -> str:
    head = frame.head(LISTED)
    rows = []
    for index in range(len(head)):
        old, new = _score(head["from_score"].iloc[index]), _score(head["to_score"].iloc[index])
        change = None if old is None or new is None else new - old
        rows.append(
            [
                text(head["account_id"].iloc[index]),
                text(source[index]),
                text(target[index]),
                number(old, 1),
                number(new, 1),
                number(change, 1),
            ]
        )
    shown = f"the first {count(len(head))} of {count(len(frame))}"
    caption = f'<p class="note">Listed: {shown}.</p>' if len(frame) > LISTED else ""
    headers = ["Account", "From tier", "To tier", "From score", "To score", "Change"]
    return caption + table(headers, rows, "changes", numeric_from=3) if rows else caption
