"""Reason text templates: Python format strings over a fixed set of fields."""

from __future__ import annotations

import string

TEMPLATE_FIELDS = frozenset(
    {
        "value",
        "shown",
        "label",
        "previous",
        "numerator",
        "denominator",
        "percent",
        "direction",
        "abs_percent",
    }
)


def template_problems(template: str) -> str | None:
    """What is wrong with a template, or None; only plain field names are allowed."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        return f"a format error ({error})"
    unknown = sorted({name for _, name, _, _ in parsed if name is not None} - TEMPLATE_FIELDS)
    if unknown:
        return f"unknown field(s) {', '.join('{' + name + '}' for name in unknown)}"
    return None
