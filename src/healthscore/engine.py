"""The facade every interface calls: scorecard + warehouse -> metrics and scores."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from ibis.backends import BaseBackend

from healthscore.compute import Sources, check_data, connect, metric_table, score_frame
from healthscore.spec import Issue, ResolvedScorecard, load_scorecard
from healthscore.store import write_scores

DateLike = dt.date | dt.datetime | str


def to_date(value: DateLike) -> dt.date:
    """A date from a date, datetime or ISO text ('2026-06-30')."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


class Engine:
    """Score accounts with one scorecard against one warehouse.

    >>> engine = Engine("scorecard.yaml")                      # doctest: +SKIP
    >>> scores = engine.score(as_of="2026-06-30")              # doctest: +SKIP
    """

    def __init__(
        self,
        scorecard: str | Path | ResolvedScorecard,
        warehouse: str | BaseBackend | None = None,
    ) -> None:
        self.scorecard = (
            scorecard if isinstance(scorecard, ResolvedScorecard) else load_scorecard(scorecard)
        )
        if isinstance(warehouse, BaseBackend):
            self.con = warehouse
        else:
            self.con = connect(warehouse or self.scorecard.warehouse, self.scorecard.base_dir)
        self.sources = Sources(self.scorecard, self.con)

    def check(self) -> list[Issue]:
        """Problems between the scorecard and the data it names (empty when all is well)."""
        return check_data(self.scorecard, self.sources)

    def metrics(
        self,
        as_of: DateLike | Sequence[DateLike],
        accounts: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """The metric frame: one row per account and as-of date, one column per metric.

        Many dates are computed in one pass (for backtests and training); every value uses
        only rows stamped before its row's as-of date.
        """
        dates = [to_date(as_of)] if isinstance(as_of, DateLike) else [to_date(d) for d in as_of]
        table = metric_table(self.scorecard, self.sources, dates, accounts)
        frame: pd.DataFrame = table.order_by(["as_of", "account_id"]).to_pandas()
        # Backends disagree on the resolution (DuckDB: us, Spark: ns); one dtype for all.
        frame["as_of"] = pd.to_datetime(frame["as_of"]).astype("datetime64[us]")
        return frame

    def score(
        self,
        as_of: DateLike | Sequence[DateLike] | None = None,
        accounts: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """The score frame for every account (or `accounts`) as of a date (default: today)."""
        frame = self.metrics(dt.date.today() if as_of is None else as_of, accounts)
        return score_frame(self.scorecard, frame)

    def save(self, scores: pd.DataFrame) -> int:
        """Append scores to the warehouse's score history, atomically."""
        return write_scores(self.con, scores)
