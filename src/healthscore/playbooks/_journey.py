"""Enroll accounts in a marketing journey by appending them to a CSV or Parquet file.

The marketing tool picks the file up on its own schedule. Each row carries the action's
idempotency key, and a key already in the file is skipped, so a re-run never enrolls an
account twice.
"""

from __future__ import annotations

import json
import math
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

JOURNEY_COLUMNS = (
    "account_id",
    "journey",
    "score",
    "tier",
    "reasons",
    "playbook",
    "as_of",
    "idempotency_key",
)
_TEXT_COLUMNS = ("account_id", "journey", "tier", "playbook", "idempotency_key")


def export_journey(path: Path, rows: pd.DataFrame) -> int:
    """Append the `rows` whose idempotency key is not yet in the file; the number appended.

    CSV files are appended to (the header is written only to a new file); Parquet files
    are rewritten whole through a temporary file, so a reader never sees half of one.

    >>> import datetime as dt, tempfile
    >>> rows = pd.DataFrame({"account_id": ["acme"], "journey": "win-back", "score": 31.5,
    ...     "tier": "red", "reasons": [["logins fell"]], "playbook": "rescue",
    ...     "as_of": dt.date(2026, 6, 1), "idempotency_key": "rescue:acme:2026-06-01"})
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     target = Path(folder) / "journeys" / "win-back.csv"
    ...     print(export_journey(target, rows), export_journey(target, rows))
    1 0
    """
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".parquet"}:
        raise ValueError(
            f"The journey export must end in .csv or .parquet. Got '{path.name}' instead."
        )
    frame = _journey_frame(rows).drop_duplicates("idempotency_key", ignore_index=True)
    if frame.empty:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        return _append_csv(path, frame)
    return _append_parquet(path, frame)


def _journey_frame(rows: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in JOURNEY_COLUMNS if c not in rows.columns]
    if missing:
        raise ValueError(
            f"The journey rows must have the columns {', '.join(JOURNEY_COLUMNS)}. "
            f"Missing: {', '.join(missing)}. Columns in the frame: "
            f"{', '.join(map(str, rows.columns))}."
        )
    rows = rows.reset_index(drop=True)
    frame = pd.DataFrame({name: rows[name].astype(str) for name in _TEXT_COLUMNS})
    frame["score"] = pd.to_numeric(rows["score"]).astype("float64")
    frame["reasons"] = [_reasons_text(value) for value in rows["reasons"]]
    frame["as_of"] = pd.to_datetime(rows["as_of"]).dt.date
    return frame[list(JOURNEY_COLUMNS)]


def _reasons_text(value: object) -> str:
    """Reasons as a JSON list, like the score exports; text is kept as it is."""
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "[]"
    if isinstance(value, Iterable):
        # Reason objects ({code, text, impact}) stay objects; anything else becomes text.
        items = [item if isinstance(item, dict) else str(item) for item in value]
        return json.dumps(items, ensure_ascii=False, default=str)
    return json.dumps([str(value)], ensure_ascii=False)


def _check_columns(path: Path, columns: list[str]) -> None:
    if tuple(columns) != JOURNEY_COLUMNS:
        raise ValueError(
            f"The journey file '{path}' must have the columns {', '.join(JOURNEY_COLUMNS)}. "
            f"Got {', '.join(columns)} instead. Suggestion: export to a new file."
        )


def _append_csv(path: Path, frame: pd.DataFrame) -> int:
    if not path.exists() or path.stat().st_size == 0:
        frame.to_csv(path, index=False, lineterminator="\n")
        return len(frame)
    _check_columns(path, [str(c) for c in pd.read_csv(path, nrows=0).columns])
    seen = pd.read_csv(path, usecols=["idempotency_key"], dtype=str, keep_default_na=False)
    new = frame[~frame["idempotency_key"].isin(seen["idempotency_key"])]
    if new.empty:
        return 0
    with path.open("rb") as existing:
        existing.seek(-1, os.SEEK_END)
        ends_in_newline = existing.read(1) == b"\n"
    with path.open("a", encoding="utf-8", newline="") as out:
        if not ends_in_newline:
            out.write("\n")
        new.to_csv(out, header=False, index=False, lineterminator="\n")
    return len(new)


def _append_parquet(path: Path, frame: pd.DataFrame) -> int:
    new, combined = frame, frame
    if path.exists():
        existing = pd.read_parquet(path)
        _check_columns(path, [str(c) for c in existing.columns])
        new = frame[~frame["idempotency_key"].isin(existing["idempotency_key"].astype(str))]
        if new.empty:
            return 0
        combined = pd.concat([existing, new], ignore_index=True)
    # In the same folder, so os.replace is a rename on one file system, never a copy.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        combined.to_parquet(temporary, index=False)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return len(new)
