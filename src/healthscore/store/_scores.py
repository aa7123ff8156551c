"""Append score frames to the warehouse's score history in one transaction."""

from __future__ import annotations

import json

import pandas as pd
from ibis.backends import BaseBackend

SCORES_TABLE = "healthscore_scores"
STORED_COLUMNS = (
    "account_id",
    "as_of",
    "score",
    "tier",
    "confidence",
    "reasons",
    "segment",
    "stage",
    "scorecard_name",
    "scorecard_version",
    "scorecard_hash",
)


def _storable(scores: pd.DataFrame) -> pd.DataFrame:
    frame = scores.loc[:, list(STORED_COLUMNS)].copy()
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    frame["account_id"] = frame["account_id"].astype(str)
    # Reasons are stored as JSON text: every warehouse stores text, not every one nests.
    frame["reasons"] = [json.dumps(items) for items in frame["reasons"]]
    return frame


def write_scores(con: BaseBackend, scores: pd.DataFrame) -> int:
    """Append `scores`; all rows land or none do. Returns the number of rows written."""
    frame = _storable(scores)
    raw = getattr(con, "con", None)
    if raw is None or not hasattr(raw, "begin"):
        if SCORES_TABLE in con.list_tables():
            con.insert(SCORES_TABLE, frame)
        else:
            con.create_table(SCORES_TABLE, frame)
        return len(frame)
    cursor = raw.cursor()
    cursor.register("_healthscore_new_scores", frame)
    try:
        cursor.begin()
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {SCORES_TABLE} AS "
            "SELECT * FROM _healthscore_new_scores LIMIT 0"
        )
        cursor.execute(f"INSERT INTO {SCORES_TABLE} SELECT * FROM _healthscore_new_scores")
        cursor.commit()
    except BaseException:
        cursor.rollback()
        raise
    finally:
        cursor.unregister("_healthscore_new_scores")
        cursor.close()
    return len(frame)


def read_scores(con: BaseBackend) -> pd.DataFrame:
    """The whole stored score history (reasons decoded)."""
    if SCORES_TABLE not in con.list_tables():
        return pd.DataFrame(columns=list(STORED_COLUMNS))
    frame: pd.DataFrame = con.table(SCORES_TABLE).to_pandas()
    frame["reasons"] = [json.loads(text) for text in frame["reasons"]]
    return frame
