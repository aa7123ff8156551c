"""What changed in the logic between two scorecard versions, field by field."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from healthscore.spec._resolved import ResolvedScorecard


@dataclass(frozen=True)
class LogicChange:
    section: str  # metrics, measures, groups, gates, tiers, playbooks, scorecard
    name: str
    change: str  # added, removed, changed
    detail: str  # for 'changed': "weight: 1.0 -> 2.0; bad: 0 -> 5"


def _show(value: Any) -> str:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        inner = ", ".join(f"{f.name}={_show(getattr(value, f.name))}" for f in _fields(value))
        return f"{type(value).__name__}({inner})"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    text = getattr(value, "text", None)  # parsed expressions keep their source text
    return str(text) if isinstance(text, str) else repr(value)


def _fields(value: Any) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(value) if f.compare]


def _field_changes(old: Any, new: Any) -> str:
    if type(old) is not type(new) or not dataclasses.is_dataclass(old):
        return f"{_show(old)} -> {_show(new)}"
    parts = [
        f"{f.name}: {_show(getattr(old, f.name))} -> {_show(getattr(new, f.name))}"
        for f in _fields(old)
        if _show(getattr(old, f.name)) != _show(getattr(new, f.name))
    ]
    return "; ".join(parts)


def _named(card: ResolvedScorecard) -> Iterator[tuple[str, str, Any]]:
    for metric in card.metrics:
        if not metric.name.startswith("_"):
            yield "metrics", metric.name, metric
    for (segment, stage), variant in card.variants.items():
        where = "" if (segment, stage) == ("default", "default") else f" [{segment}/{stage}]"
        for group in variant.groups:
            yield "groups", group.name + where, (group.weight, group.label)
            for measure in group.measures:
                yield "measures", measure.code + where, measure
        if variant.model is not None:
            yield "models", f"model{where}", variant.model
    for gate in card.gates:
        yield "gates", gate.name, gate
    for tier in card.tiers:
        yield "tiers", tier.name, tier
    for playbook in getattr(card, "playbooks", ()):
        yield "playbooks", playbook.name, playbook
    for name in ("population", "outcome", "model", "value", "hysteresis", "segments", "stages"):
        yield "scorecard", name, getattr(card, name, None)


def logic_diff(old: ResolvedScorecard, new: ResolvedScorecard) -> list[LogicChange]:
    """Every added, removed or changed piece of logic, in the order of the new card."""
    before = {(section, name): value for section, name, value in _named(old)}
    after = {(section, name): value for section, name, value in _named(new)}
    changes = []
    for key, value in after.items():
        if key not in before:
            changes.append(LogicChange(*key, "added", _show(value)))
        elif _show(before[key]) != _show(value):
            changes.append(LogicChange(*key, "changed", _field_changes(before[key], value)))
    changes += [
        LogicChange(*key, "removed", _show(value))
        for key, value in before.items()
        if key not in after
    ]
    return _merge_variants(changes)


def _merge_variants(changes: list[LogicChange]) -> list[LogicChange]:
    """One line for a change every variant shares: "usage.logins [smb/mature, ent/mature]"."""
    merged: dict[tuple[str, str, str, str], list[str]] = {}
    for change in changes:
        base, _, where = change.name.partition(" [")
        merged.setdefault((change.section, base, change.change, change.detail), []).append(
            where.rstrip("]")
        )
    out = []
    for (section, base, kind, detail), places in merged.items():
        named = [p for p in places if p]
        name = f"{base} [{', '.join(named)}]" if named else base
        out.append(LogicChange(section, name, kind, detail))
    return out
