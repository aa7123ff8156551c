"""All-history aggregates for many dates without pairing each row with every later date.

A metric with no window reads every row before each as-of date. Joining rows to dates
pairs a row with every date after it (12 monthly dates: ~7 pairs per row). Instead, each
row falls in one bucket, the stretch between two consecutive dates; the aggregate is
computed once per (account, bucket), and each date combines the buckets before it:
counts and sums add up, minima and maxima combine. The small per-bucket table is what
gets joined to the dates.

Only aggregates whose value for a row does not depend on the as-of date qualify: no
`days_since`/`days_until` in the filter, no column the engine blanks when it lies after
as-of (a ticket's `closed_at`), and kinds that combine (not `distinct`, `last`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from healthscore.compute._compile import compile_expr
from healthscore.compute._contract import CONTRACTS
from healthscore.spec._expr import Call, Expr, names_in
from healthscore.spec._resolved import AggregateSpec

COMBINABLE = frozenset({"count", "sum", "avg", "min", "max", "days_since", "days_since_first"})


def _reads_as_of(expr: Expr) -> bool:
    if isinstance(expr, Call) and expr.function in {"days_since", "days_until"}:
        return True
    children = getattr(expr, "args", None) or getattr(expr, "operands", None) or ()
    pairs = [getattr(expr, name, None) for name in ("left", "right", "operand")]
    return any(_reads_as_of(child) for child in (*children, *(p for p in pairs if p)))


def cumulative(spec: AggregateSpec, table: str) -> bool:
    """Whether the all-history aggregate can be combined from per-bucket partials."""
    if spec.window_days is not None or spec.offset_days or spec.kind not in COMBINABLE:
        return False
    contract = CONTRACTS[table]
    blanked = set(contract.temporal) - {contract.time}
    read = set(names_in(spec.where)) if spec.where is not None else set()
    if spec.column is not None:
        read.add(spec.column)
    return not (read & blanked) and not (spec.where is not None and _reads_as_of(spec.where))


def _bucket(stamp: ir.TimestampValue, dates: Sequence[dt.datetime]) -> ir.IntegerValue:
    """The number of dates at or before the stamp: rows in bucket b count for dates b..."""
    bucket: ir.IntegerValue = ibis.literal(0)
    for day in dates:
        bucket = bucket + (stamp >= ibis.literal(day, type="timestamp")).cast("int64")
    return bucket


def cumulative_metrics(
    table: ir.Table,
    time: str,
    specs: Sequence[AggregateSpec],
    dates: Sequence[dt.datetime],
    dates_table: ir.Table,
    keys: Sequence[str],
) -> ir.Table:
    """(account_id, as_of) with each spec's value, from per-bucket partials.

    A row stamped before dates[k] and at or after dates[k-1] is in bucket k; the value
    as of dates[j] combines buckets 0..j. Rows at or after the last date are dropped.
    """
    stamp = table[time].cast("timestamp")
    rows = table.filter(stamp < ibis.literal(dates[-1], type="timestamp"))
    rows = rows.mutate(_bucket=_bucket(rows[time].cast("timestamp"), dates))
    partials: dict[str, ir.Value] = {}
    for spec in specs:
        condition = (
            None
            if spec.where is None
            else compile_expr(spec.where, lambda n: rows[n], ibis.null("timestamp"))
        )
        column = rows[spec.column] if spec.column else None
        target = column if column is not None else rows[time]
        match spec.kind:
            case "count":
                partials[f"{spec.name}__n"] = target.count(where=condition)
            case "sum" | "avg":
                numbers = target.cast("float64")
                partials[f"{spec.name}__s"] = numbers.sum(where=condition)
                partials[f"{spec.name}__n"] = numbers.count(where=condition)
            case "min":
                partials[f"{spec.name}__lo"] = target.min(where=condition)
            case "max":
                partials[f"{spec.name}__hi"] = target.max(where=condition)
            case "days_since":
                partials[f"{spec.name}__hi"] = target.cast("timestamp").max(where=condition)
            case "days_since_first":
                partials[f"{spec.name}__lo"] = target.cast("timestamp").min(where=condition)
    buckets = rows.group_by(["account_id", "_bucket"]).aggregate(**partials)
    indexed = dates_table.mutate(_index=ibis.row_number().over(order_by=dates_table.as_of))
    joined = buckets.join(indexed, buckets._bucket <= indexed._index).select(
        *buckets.columns, "as_of"
    )
    combined: dict[str, ir.Value] = {}
    for spec in specs:
        match spec.kind:
            case "count":
                combined[spec.name] = joined[f"{spec.name}__n"].sum()
            case "sum":
                combined[spec.name] = joined[f"{spec.name}__s"].sum()
            case "avg":
                total = joined[f"{spec.name}__s"].sum()
                combined[spec.name] = total / joined[f"{spec.name}__n"].sum().nullif(0)
            case "min" | "days_since_first":
                combined[spec.name] = joined[f"{spec.name}__lo"].min()
            case "max" | "days_since":
                combined[spec.name] = joined[f"{spec.name}__hi"].max()
    return joined.group_by(list(keys)).aggregate(**combined)
