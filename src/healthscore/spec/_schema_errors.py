"""Turn pydantic's validation errors into issues with file, line, expected and found."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from healthscore.spec import _models
from healthscore.spec._issues import Issue
from healthscore.spec._loader import Location, SourceText


def _all_field_names() -> frozenset[str]:
    names: set[str] = set()
    for value in vars(_models).values():
        if isinstance(value, type) and issubclass(value, BaseModel):
            names.update(value.model_fields)
    return frozenset(names)


_FIELD_NAMES = _all_field_names()


def schema_issues(error: ValidationError, source: SourceText) -> list[Issue]:
    issues: list[Issue] = []
    for detail in error.errors(include_url=False):
        location = _data_location(detail["loc"], source.data)
        issues.append(
            Issue(
                file=source.path,
                line=source.line_of(location),
                object=".".join(str(part) for part in location) or "scorecard",
                expected=_expected(detail),
                found=_found(detail),
            )
        )
    return issues


def _data_location(loc: tuple[int | str, ...], data: Any) -> Location:
    """The error's path in the user's file.

    Tagged unions add the tag (e.g. 'linear') and validators add their own names to
    pydantic's location; such parts are not in the file, so only parts that exist in the
    data are kept (the last part may be a key that is missing or unknown).
    """
    parts: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        if _contains(node, part):
            node = node[part]
        elif index == len(loc) - 1 and isinstance(node, dict) and not _is_tag(part):
            pass
        else:
            continue
        parts.append(part)
    return tuple(parts)


def _contains(node: Any, part: int | str) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _is_tag(part: int | str) -> bool:
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


def _expected(detail: ErrorDetails) -> str:
    kind = detail["type"]
    context: dict[str, Any] = dict(detail.get("ctx") or {})
    match kind:
        case "missing":
            return "a value is required here"
        case "extra_forbidden":
            return "a known key"
        case "greater_than_equal":
            return f"a number >= {context['ge']:g}"
        case "greater_than":
            return f"a number > {context['gt']:g}"
        case "less_than_equal":
            return f"a number <= {context['le']:g}"
        case "literal_error" | "enum":
            return f"one of {context.get('expected', '')}"
        case "union_tag_invalid":
            return f"a 'kind' among {context.get('expected_tags', '')}"
        case "union_tag_not_found":
            return f"a '{context.get('discriminator', 'kind').strip(chr(39))}' key"
        case "string_pattern_mismatch":
            return "a lowercase name of letters, digits and _ starting with a letter"
        case "too_short":
            return f"at least {context.get('min_length', 1)} item(s)"
        case "float_type" | "float_parsing" | "finite_number":
            return "a finite number"
        case "int_type" | "int_parsing":
            return "a whole number"
        case "string_type":
            return "text"
        case "bool_type" | "bool_parsing":
            return "true or false"
        case "dict_type" | "model_type":
            return "a mapping of keys to values"
        case "list_type":
            return "a list"
        case "value_error":
            message = str(context.get("error", detail["msg"]))
            return message.split("; got ")[0]
    return detail["msg"]


def _found(detail: ErrorDetails) -> str:
    value = detail.get("input")
    if detail["type"] == "missing":
        return "nothing"
    if detail["type"] == "extra_forbidden":
        key = str(detail["loc"][-1]) if detail["loc"] else "?"
        close = difflib.get_close_matches(key, sorted(_FIELD_NAMES), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown key '{key}'{hint}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
