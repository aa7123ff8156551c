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
from healthscore.compute._sources import Sources
from healthscore.spec._outcomes import OutcomeSpec


@dataclass(frozen=True)
class OutcomeData:
    """The rows an outcome is decided from, and the day after the data's last day.

    `rows` has account_id and, for subscriptions, `start` and `end`; for the others `day`
    (midnight of each day with a qualifying row). All times are datetime64[us].
    """

    rows: pd.DataFrame
    data_until: pd.Timestamp


def data_until(sources: Sources, data_end: dt.date | None) -> pd.Timestamp:
    """Midnight after the data's last day: the given end, or the latest stamp in any source."""
    if data_end is not None:
        return pd.Timestamp(data_end) + pd.Timedelta(days=1)
    latest: list[pd.Timestamp] = []
    for name in sources.scorecard.sources:
        time = CONTRACTS[name].time
        if time is None or name == "accounts":
            continue
        value = sources.table(name)[time].cast("timestamp").max().to_pyarrow().as_py()
        if value is not None:
            latest.append(pd.Timestamp(value))
    if not latest:
        raise ValueError(
            "the data holds no timestamps, so its end is unknown: set outcome.data_end"
        )
    return max(latest).normalize() + pd.Timedelta(days=1)


def read_outcome_data(spec: OutcomeSpec, sources: Sources) -> OutcomeData:
    table = sources.table(spec.table)
    until = data_until(sources, spec.data_end)
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
    return OutcomeData(rows=rows.reset_index(drop=True), data_until=until)
