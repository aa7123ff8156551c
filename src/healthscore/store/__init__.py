"""Score history in the warehouse."""

from healthscore.store._export import ExportError, export_scores
from healthscore.store._scores import SCORES_TABLE, read_scores, write_scores

__all__ = ["SCORES_TABLE", "ExportError", "export_scores", "read_scores", "write_scores"]
