"""Write a score frame to Parquet (reasons nested) or CSV (reasons as JSON text)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


class ExportError(ValueError):
    """The output file has a suffix we cannot write."""


def export_scores(scores: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        table = pa.Table.from_pandas(scores, preserve_index=False)
        # pandas cannot read back its own name for nested Arrow dtypes; the Arrow schema
        # alone describes the columns fully.
        pq.write_table(table.replace_schema_metadata(None), path)
    elif suffix == ".csv":
        text = scores.assign(reasons=[json.dumps(list(r)) for r in scores["reasons"]])
        text.to_csv(path, index=False)
    else:
        raise ExportError(f"The output must end in .parquet or .csv. Got '{path.name}' instead.")
