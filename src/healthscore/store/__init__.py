"""Score history in runs, overrides, audit and actions, on DuckDB or PostgreSQL."""

from healthscore.store._database import Database, StoreError, open_database
from healthscore.store._export import ExportError, export_scores
from healthscore.store._overrides import OverrideError
from healthscore.store._record import RunResult, record_run
from healthscore.store._runs import RUN_MODES, RunInProgressError, RunMode
from healthscore.store._store import Store

__all__ = [
    "RUN_MODES",
    "Database",
    "ExportError",
    "OverrideError",
    "RunInProgressError",
    "RunMode",
    "RunResult",
    "Store",
    "StoreError",
    "export_scores",
    "open_database",
    "record_run",
]
