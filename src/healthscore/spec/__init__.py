"""The scorecard format: YAML -> pydantic models -> validated, resolved specs."""

from healthscore.spec._expr import Expr, ExpressionError, names_in, parse_expression
from healthscore.spec._issues import Issue, IssueLevel, ScorecardError
from healthscore.spec._models import Scorecard
from healthscore.spec._resolve import content_hash, load_scorecard, load_scorecard_text
from healthscore.spec._resolved import ResolvedScorecard

__all__ = [
    "Expr",
    "ExpressionError",
    "Issue",
    "IssueLevel",
    "ResolvedScorecard",
    "Scorecard",
    "ScorecardError",
    "content_hash",
    "load_scorecard",
    "load_scorecard_text",
    "names_in",
    "parse_expression",
]
