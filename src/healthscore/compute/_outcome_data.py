"""Read what an outcome needs from the warehouse: small frames, labelled later in pandas.

Activity and purchases are read as distinct (account, day) pairs, which is all the
outcome definitions need and far smaller than the rows themselves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import pandas as pd

from healthscore.compute._compile import compile_expr
from healthscore.compute._contract import CONTRACTS
from healthscore.compute._sources import SourceError, Sources
from healthscore.spec._outcomes import OutcomeSpec


@dataclass(frozen=True)
class OutcomeData:
    """The rows an outcome is decided from, and the span of the data.

    `rows` has account_id and, for subscriptions, `start` and `end`; for the others `day`
    (midnight of each day with a qualifying row). All times are datetime64[us].
    """

    rows: pd.DataFrame
    data_until: pd.Timestamp
    data_from: pd.Timestamp | None = None  # the first stamp in any source


def data_span(sources: Sources, data_end: dt.date | None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The first stamp in any source, and midnight after the data's last day (or data_end)."""
    earliest: list[pd.Timestamp] = []
    latest: list[pd.Timestamp] = []
    for name in sources.scorecard.sources:
        time = CONTRACTS[name].time
        if time is None or name == "accounts":
            continue
        stamp = sources.table(name)[time].cast("timestamp")
        low, high = stamp.min().name("low"), stamp.max().name("high")
        row = sources.table(name).aggregate([low, high]).to_pyarrow().to_pylist()[0]
        if row["low"] is not None:
            earliest.append(pd.Timestamp(row["low"]))
            latest.append(pd.Timestamp(row["high"]))
    if not latest:
        raise SourceError(
            "the data holds no timestamps, so its span is unknown: load data, or set "
            "outcome.data_end"
        )
    if data_end is not None:
        return min(earliest), pd.Timestamp(data_end) + pd.Timedelta(days=1)
    return min(earliest), max(latest).normalize() + pd.Timedelta(days=1)


def read_outcome_data(spec: OutcomeSpec, sources: Sources) -> OutcomeData:
    table = sources.table(spec.table)
    since, until = data_span(sources, spec.data_end)
    if spec.kind == "subscription_end":
        picked = table.select(
            "account_id",
            start=table.start_date.cast("timestamp"),
            end=table.end_date.cast("timestamp"),
        )
        rows = picked.to_pandas()
    else:
        time = CONTRACTS[spec.table].time or "ts"
        if spec.where is not None:
            now = ibis.literal(until.to_pydatetime(), type="timestamp")
            table = table.filter(compile_expr(spec.where, lambda n: table[n], now).fill_null(False))
        if spec.kind == "table":
            table = table.filter(table.kind.isin(list(spec.kinds)))
        days = table.select("account_id", day=table[time].cast("timestamp").truncate("D"))
        rows = days.distinct().to_pandas()
    for column in rows.columns:
        if column != "account_id":
            rows[column] = pd.to_datetime(rows[column]).astype("datetime64[us]")
    rows["account_id"] = rows["account_id"].astype(str)
    return OutcomeData(rows=rows.reset_index(drop=True), data_until=until, data_from=since)
