"""Spec -> Ibis: warehouse connections, the point-in-time metric engine, data checks."""

from healthscore.compute._check import check_data
from healthscore.compute._contract import CONTRACTS, TableContract
from healthscore.compute._metrics import metric_frame, metric_table
from healthscore.compute._scores import AssignmentError, score_frame
from healthscore.compute._sources import DEFAULT_WAREHOUSE, SourceError, Sources, connect

__all__ = [
    "CONTRACTS",
    "DEFAULT_WAREHOUSE",
    "AssignmentError",
    "SourceError",
    "Sources",
    "TableContract",
    "check_data",
    "connect",
    "metric_frame",
    "metric_table",
    "score_frame",
]
