"""The scorecard's `outcome:` and `model:` sections (and a variant's `model:`), resolved."""

from __future__ import annotations

from pathlib import Path

from healthscore.spec import _models as m
from healthscore.spec._metrics import Report, parse_or_report
from healthscore.spec._outcomes import OutcomeSpec, outcome_table, resolve_outcome
from healthscore.spec._resolved import ModelSpec


def resolve_outcome_section(card: m.Scorecard, report: Report) -> OutcomeSpec | None:
    """The outcome, with its table's source and its `where` checked."""
    outcome = card.outcome
    if outcome is None:
        return None
    table = outcome_table(outcome)
    if table not in card.sources:
        report(
            ("outcome", "kind"),
            f"a '{table}' source for a '{outcome.kind}' outcome",
            f"sources: {', '.join(card.sources)}",
        )
    where = parse_or_report(getattr(outcome, "where", None), ("outcome", "where"), report)
    return resolve_outcome(outcome, where)


def resolve_model(card: m.Scorecard, base_dir: Path) -> ModelSpec | None:
    if card.model is None:
        return None
    section = card.model
    return ModelSpec(
        path=None if section.path is None else (base_dir / section.path).resolve(),
        features=None if section.features is None else tuple(section.features),
        attributes=tuple(section.attributes),
        sensitive=tuple(section.sensitive),
        allow_sensitive=tuple(section.allow_sensitive),
        zero_score_at=section.zero_score_at,
    )


def variant_model(
    card: m.Scorecard, segment: str, stage: str, model: ModelSpec | None, base_dir: Path
) -> Path | None:
    """The folder that scores a (segment, stage) variant: the most specific model wins,
    the stage's, then the segment's, then the scorecard's; None for the rules."""
    for section, name in (("stages", stage), ("segments", segment)):
        variant: m.Variant | None = getattr(card, section).get(name)
        if variant is not None and variant.model:
            return (base_dir / variant.model).resolve()
    return None if model is None else model.path
