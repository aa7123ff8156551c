"""Validation issues: each names file, line, object, what was expected and what was found."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class IssueLevel(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Issue:
    """One problem in a scorecard, formatted as `FILE:LINE: object: expected. Got found.`"""

    file: str
    line: int
    object: str
    expected: str
    found: str
    level: IssueLevel = IssueLevel.ERROR

    def __str__(self) -> str:
        prefix = "" if self.level is IssueLevel.ERROR else "warning: "
        expected = self.expected.rstrip(".")
        found = self.found.rstrip(".")
        return f"{self.file}:{self.line}: {prefix}{self.object}: {expected}. Got {found}."


class ScorecardError(ValueError):
    """A scorecard has errors; `issues` holds every one of them, in file order."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = tuple(sorted(issues, key=lambda issue: (issue.file, issue.line)))
        errors = [issue for issue in self.issues if issue.level is IssueLevel.ERROR]
        lines = "\n".join(str(issue) for issue in self.issues)
        super().__init__(f"{len(errors)} error(s) in the scorecard:\n{lines}")


def raise_if_errors(issues: Iterable[Issue]) -> None:
    collected = list(issues)
    if any(issue.level is IssueLevel.ERROR for issue in collected):
        raise ScorecardError(collected)
