"""Write a scorecard's YAML again with new measure weights, keeping comments and layout."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML


def bump_version(version: str) -> str:
    """1.0.0 -> 1.1.0 (the minor part: same logic, new weights); other forms get '-evidence'."""
    match = re.fullmatch(r"(\d+)\.(\d+)(\.\d+)?", version)
    if match is None:
        return f"{version}-evidence"
    major, minor, patch = match.groups()
    return f"{major}.{int(minor) + 1}" + (".0" if patch else "")


def _measure_names(group: Mapping[str, Any]) -> list[str]:
    return list((group.get("measures") or {}).keys())


def rewrite_weights(
    text: str, weights: Mapping[str, float], version: str, header: list[str]
) -> str:
    """The scorecard text with each measure's weight from `weights` (by 'group.measure').

    Group weights become the sum of their measures' weights, so a measure's share of the
    score is its weight over the total, as fitted. Overrides in segments and stages that
    set a group's weight get the sum over the measures that group has there.
    """
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 100
    data = yaml.load(text)
    data["version"] = version
    base = data["groups"]
    for group_name, group in base.items():
        total = 0.0
        for name in _measure_names(group):
            weight = weights.get(f"{group_name}.{name}", 0.0)
            group["measures"][name]["weight"] = weight
            total += weight
        group["weight"] = round(total, 4)
    for section in ("segments", "stages"):
        for variant in (data.get(section) or {}).values():
            for group_name, override in ((variant or {}).get("groups") or {}).items():
                names = _measure_names(override)
                for name in names:
                    measure = override["measures"][name]
                    # A partial override inherits the base weight, already replaced.
                    if f"{group_name}.{name}" in weights and (
                        "kind" in measure or "weight" in measure
                    ):
                        measure["weight"] = weights[f"{group_name}.{name}"]
                if "weight" in override:
                    inside = set(names)
                    if not override.get("replace"):
                        inside |= set(_measure_names(base.get(group_name) or {}))
                    total = sum(weights.get(f"{group_name}.{name}", 0.0) for name in inside)
                    override["weight"] = round(total, 4)
    out = io.StringIO()
    yaml.dump(data, out)
    return "".join(f"# {line}\n" if line else "#\n" for line in header) + out.getvalue()
