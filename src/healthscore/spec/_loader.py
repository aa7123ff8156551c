"""Read YAML while remembering the line of every key, so errors can point at it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Location = tuple[str | int, ...]


@dataclass(frozen=True)
class SourceText:
    """A parsed YAML document with the line (1-based) of each path inside it."""

    path: str
    data: Any
    lines: dict[Location, int] = field(default_factory=dict)

    def line_of(self, location: Location) -> int:
        """The line of the deepest part of `location` that exists in the document."""
        for end in range(len(location), 0, -1):
            line = self.lines.get(tuple(location[:end]))
            if line is not None:
                return line
        return 1


class YamlSyntaxError(ValueError):
    """The file is not valid YAML."""

    def __init__(self, path: str, line: int, problem: str) -> None:
        super().__init__(f"{path}:{line}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


def load_yaml_text(text: str, path: str = "<string>") -> SourceText:
    """Parse YAML text keeping key lines; raises YamlSyntaxError with the failing line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlSyntaxError(path, line, f"valid YAML. Got: {error.problem}") from None
    lines: dict[Location, int] = {}
    data = None if node is None else _build(node, (), lines)
    return SourceText(path=path, data=data, lines=lines)


def load_yaml_file(path: Path) -> SourceText:
    return load_yaml_text(path.read_text(encoding="utf-8"), str(path))


def _build(node: yaml.Node, location: Location, lines: dict[Location, int]) -> Any:
    lines.setdefault(location, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            # Keys stay text: `yes:` or `2026:` as a key means the name, not a bool or int.
            key = str(key_node.value)
            child = (*location, key)
            lines[child] = key_node.start_mark.line + 1
            result[key] = _build(value_node, child, lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*location, index), lines) for index, item in enumerate(node.value)]
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()
