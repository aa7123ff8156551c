"""Check a parsed scorecard against every rule at once and resolve it for the engine."""

from __future__ import annotations

import hashlib
import json
from itertools import pairwise
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from healthscore.spec import _models as m
from healthscore.spec._issues import Issue, ScorecardError, raise_if_errors
from healthscore.spec._loader import Location, SourceText, YamlSyntaxError, load_yaml_text
from healthscore.spec._metrics import (
    baseline_ratio,
    humanize,
    order_metrics,
    parse_or_report,
    resolve_metrics,
)
from healthscore.spec._model_section import (
    resolve_model,
    resolve_outcome_section,
    variant_model,
)
from healthscore.spec._playbook_section import resolve_hysteresis, resolve_playbooks
from healthscore.spec._resolved import (
    AggregateSpec,
    BandsNormalizer,
    ConditionSpec,
    GateSpec,
    GroupSpec,
    LinearNormalizer,
    LogZNormalizer,
    MeasureSpec,
    MetricSpec,
    MissingPolicy,
    Normalizer,
    PercentileNormalizer,
    ResolvedScorecard,
    TierSpec,
    VariantSpec,
)
from healthscore.spec._schema_errors import schema_issues
from healthscore.spec._templates import TEMPLATE_FIELDS, template_problems

DEFAULT_VARIANT = "default"
_MEASURE: TypeAdapter[m.Measure] = TypeAdapter(m.Measure)


class _Resolver:
    def __init__(self, card: m.Scorecard, source: SourceText) -> None:
        self.card = card
        self.source = source
        self.issues: list[Issue] = []
        self.metrics: dict[str, MetricSpec] = {}

    def report(self, where: Location, expected: str, found: str) -> None:
        self.issues.append(
            Issue(
                file=self.source.path,
                line=self.source.line_of(where),
                object=".".join(str(part) for part in where),
                expected=expected,
                found=found,
            )
        )

    # ------------------------------------------------------------ sections

    def check_sources(self) -> None:
        if "accounts" not in self.card.sources:
            self.report(("sources",), "an 'accounts' source (the one required table)", "none")
        for table, source in self.card.sources.items():
            given = [key for key in ("table", "path") if getattr(source, key) is not None]
            if len(given) != 1:
                self.report(
                    ("sources", table),
                    "exactly one of 'table' or 'path'",
                    " and ".join(given) or "neither",
                )

    def resolve_measure(
        self, group: str, name: str, measure: m.Measure, where: Location
    ) -> MeasureSpec | None:
        metric_name = measure.metric
        normalizer: Normalizer
        match measure:
            case m.BandsMeasure(bands=bands):
                thresholds = [band.min for band in bands]
                if any(b <= a for a, b in pairwise(thresholds)):
                    self.report(
                        (*where, "bands"),
                        "bands in increasing order of 'min'",
                        f"mins {thresholds}",
                    )
                normalizer = BandsNormalizer(tuple(thresholds), tuple(b.score for b in bands))
            case m.LinearMeasure(bad=bad, good=good):
                if bad == good:
                    self.report((*where, "good"), "'good' different from 'bad'", f"both {bad}")
                normalizer = LinearNormalizer(bad, good)
            case m.PercentileMeasure():
                normalizer = PercentileNormalizer(
                    measure.direction == "higher_is_better", measure.within == "segment"
                )
            case m.LogZMeasure():
                normalizer = LogZNormalizer(
                    measure.direction == "higher_is_better",
                    measure.within == "segment",
                    measure.z_range,
                )
            case m.BaselineMeasure():
                base = self.metrics.get(metric_name)
                if (
                    not isinstance(base, AggregateSpec)
                    or base.window_days is None
                    or base.kind in ("distinct", "days_since", "days_since_first")
                ):
                    self.report(
                        (*where, "metric"),
                        "a windowed count, sum, avg, min, max or last metric",
                        f"'{metric_name}'",
                    )
                    return None
                history, ratio = baseline_ratio(base, m.window_days(measure.baseline))
                self.metrics.setdefault(history.name, history)
                self.metrics.setdefault(ratio.name, ratio)
                metric_name = ratio.name
                normalizer = LinearNormalizer(measure.bad, measure.good)
                if measure.bad == measure.good:
                    self.report(
                        (*where, "good"), "'good' different from 'bad'", f"both {measure.bad}"
                    )
        if measure.reason is not None:
            problem = template_problems(measure.reason)
            if problem is not None:
                fields = ", ".join(sorted(TEMPLATE_FIELDS))
                self.report(
                    (*where, "reason"), f"a template using only {{field}}s among {fields}", problem
                )
        if measure.metric not in self.card.metrics:
            known = ", ".join(sorted(self.card.metrics))
            self.report(
                (*where, "metric"),
                f"a metric defined under 'metrics' ({known})",
                f"'{measure.metric}'",
            )
        label = (
            self.card.metrics[measure.metric].label if measure.metric in self.card.metrics else None
        )
        return MeasureSpec(
            name=name,
            group=group,
            metric=metric_name,
            weight=measure.weight,
            missing=MissingPolicy(measure.missing),
            neutral=measure.neutral,
            normalizer=normalizer,
            label=label or humanize(measure.metric),
            reason=measure.reason,
        )

    def resolve_group(self, name: str, group: m.Group, where: Location) -> GroupSpec:
        measures = []
        for measure_name, measure in group.measures.items():
            spec = self.resolve_measure(
                name, measure_name, measure, (*where, "measures", measure_name)
            )
            if spec is not None:
                measures.append(spec)
        # A group weighted 0 is switched off, and may switch off all its measures too.
        if group.weight > 0 and all(m.weight == 0 for m in group.measures.values()):
            self.report(
                (*where, "measures"),
                "measure weights >= 0 and not all zero (or the group's weight 0)",
                "all zero",
            )
        return GroupSpec(name, group.weight, group.label or humanize(name), tuple(measures))

    def resolve_groups(self, groups: dict[str, m.Group], where: Location) -> tuple[GroupSpec, ...]:
        resolved = tuple(
            self.resolve_group(name, group, (*where, name)) for name, group in groups.items()
        )
        if groups and all(group.weight == 0 for group in groups.values()):
            self.report(
                where, "group weights >= 0 and not all zero (they are normalized)", "all zero"
            )
        return resolved

    def merge_variant(
        self, groups: dict[str, m.Group], variant: m.Variant, where: Location
    ) -> dict[str, m.Group]:
        merged = dict(groups)
        for name, override in variant.groups.items():
            here = (*where, "groups", name)
            base = merged.get(name)
            if base is None or override.replace:
                if not override.measures:
                    self.report(here, f"'measures' for new or replaced group '{name}'", "none")
                    continue
                # A replaced group keeps its weight and label unless the override sets them.
                data: dict[str, Any] = {"measures": override.measures}
                weight = (
                    override.weight
                    if override.weight is not None
                    else (base.weight if base is not None else None)
                )
                if weight is not None:
                    data["weight"] = weight
                label = override.label or (base.label if base is not None else None)
                if label:
                    data["label"] = label
                group = self._validate(m.Group, data, here)
                if group is not None:
                    merged[name] = group
                continue
            measures = dict(base.measures)
            for measure_name, changes in (override.measures or {}).items():
                old = measures.get(measure_name)
                fields = (
                    changes
                    if old is None or "kind" in changes
                    else {**old.model_dump(exclude_defaults=True), "kind": old.kind, **changes}
                )
                new = self._validate(_MEASURE, fields, (*here, "measures", measure_name))
                if new is not None:
                    measures[measure_name] = new
            merged[name] = base.model_copy(
                update={
                    "measures": measures,
                    "weight": base.weight if override.weight is None else override.weight,
                    "label": override.label or base.label,
                }
            )
        return merged

    def _validate(self, model: Any, data: dict[str, Any], where: Location) -> Any:
        adapter = model if isinstance(model, TypeAdapter) else TypeAdapter(model)
        try:
            return adapter.validate_python(data)
        except ValidationError as error:
            shifted = SourceText(
                self.source.path,
                data,
                {
                    loc[len(where) :]: line
                    for loc, line in self.source.lines.items()
                    if loc[: len(where)] == where
                },
            )
            for issue in schema_issues(error, shifted):
                inner = () if issue.object == "scorecard" else tuple(issue.object.split("."))
                self.report((*where, *inner), issue.expected, issue.found)
            return None

    def conditions(self, section: str) -> tuple[ConditionSpec, ...]:
        variants: dict[str, m.Variant] = getattr(self.card, section)
        defaults = [name for name, variant in variants.items() if variant.when is None]
        if len(defaults) > 1:
            self.report(
                (section, defaults[1]),
                "at most one variant without 'when' (the default)",
                f"{len(defaults)}: {', '.join(defaults)}",
            )
        return tuple(
            ConditionSpec(name, parse_or_report(variant.when, (section, name, "when"), self.report))
            for name, variant in variants.items()
        ) or (ConditionSpec(DEFAULT_VARIANT, None),)

    def tiers(self) -> tuple[TierSpec, ...]:
        tiers = self.card.tiers
        names = [tier.name for tier in tiers]
        for index, (upper, lower) in enumerate(pairwise(tiers)):
            if lower.min >= upper.min:
                self.report(
                    ("tiers", index + 1, "min"),
                    f"tiers ordered best first with strictly decreasing 'min' "
                    f"(below {upper.min:g} of '{upper.name}')",
                    f"{lower.min:g}",
                )
        if len(set(names)) != len(names):
            self.report(("tiers",), "unique tier names", ", ".join(names))
        if tiers[-1].min != 0:
            self.report(
                ("tiers", len(tiers) - 1, "min"),
                "the last tier to start at 0, so every score has a tier",
                f"{tiers[-1].min:g}",
            )
        return tuple(TierSpec(t.name, t.min, t.color, t.label or t.name) for t in tiers)

    def gates(self) -> tuple[GateSpec, ...]:
        gates = []
        for name, gate in self.card.gates.items():
            if (gate.cap is None) == (gate.floor is None):
                self.report(
                    ("gates", name),
                    "exactly one of 'cap' or 'floor'",
                    "both" if gate.cap is not None else "neither",
                )
            when = parse_or_report(gate.when, ("gates", name, "when"), self.report)
            if when is not None:
                gates.append(GateSpec(name, when, gate.cap, gate.floor, gate.reason))
        return tuple(gates)


def resolve(card: m.Scorecard, source: SourceText) -> ResolvedScorecard:
    """Apply every rule; raise ScorecardError listing all issues, or return the resolved card."""
    resolver = _Resolver(card, source)
    resolver.check_sources()
    resolver.metrics = resolve_metrics(card, resolver.report)
    segments = resolver.conditions("segments")
    stages = resolver.conditions("stages")
    base_groups = resolver.resolve_groups(card.groups, ("groups",))
    path = None if source.path.startswith("<") else Path(source.path).resolve()
    base_dir = path.parent if path is not None else Path.cwd()

    model = resolve_model(card, base_dir)
    variants: dict[tuple[str, str], VariantSpec] = {}
    for segment in segments:
        for stage in stages:
            # The stage applies on top of the segment: onboarding rules win over segment rules.
            merged = dict(card.groups)
            changed: Location | None = None
            for section, name in (("segments", segment.name), ("stages", stage.name)):
                variant = getattr(card, section).get(name)
                if variant is not None and variant.groups:
                    merged = resolver.merge_variant(merged, variant, (section, name))
                    changed = (section, name, "groups")
            groups = base_groups if changed is None else resolver.resolve_groups(merged, changed)
            scorer = variant_model(card, segment.name, stage.name, model, base_dir)
            variants[(segment.name, stage.name)] = VariantSpec(
                segment.name, stage.name, groups, scorer
            )
    tiers = resolver.tiers()
    gates = resolver.gates()
    population = parse_or_report(card.population, ("population",), resolver.report)
    outcome = resolve_outcome_section(card, resolver.report)
    playbooks = resolve_playbooks(card, segments, stages, variants.values(), resolver.report)
    hysteresis = resolve_hysteresis(card, resolver.report)
    metrics = order_metrics(resolver.metrics, resolver.report)
    raise_if_errors(resolver.issues)
    return ResolvedScorecard(
        name=card.name,
        version=card.version,
        hash=content_hash(card),
        path=path,
        warehouse=card.warehouse,
        sources={str(table): source for table, source in card.sources.items()},
        population=population,
        metrics=metrics,
        segments=segments,
        stages=stages,
        variants=variants,
        gates=gates,
        tiers=tiers,
        max_drags=card.reasons.max_drags,
        max_lifts=card.reasons.max_lifts,
        outcome=outcome,
        model=model,
        value=card.value,
        playbooks=playbooks,
        hysteresis=hysteresis,
        lines=dict(source.lines),
        file=source.path,
    )


def content_hash(card: m.Scorecard) -> str:
    """A hash of the scorecard's logic: comments and formatting do not change it."""
    canonical = json.dumps(card.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def load_scorecard_text(text: str, path: str = "<string>") -> ResolvedScorecard:
    """Like load_scorecard, from YAML text (`path` is used in messages)."""
    try:
        source = load_yaml_text(text, path)
    except YamlSyntaxError as error:
        raise ScorecardError(
            [Issue(error.path, error.line, "scorecard", "valid YAML", error.problem)]
        ) from None
    return parse_scorecard(source)


def parse_scorecard(source: SourceText) -> ResolvedScorecard:
    try:
        card = m.Scorecard.model_validate(source.data)
    except ValidationError as error:
        raise ScorecardError(schema_issues(error, source)) from None
    return resolve(card, source)


def load_scorecard(path: str | Path) -> ResolvedScorecard:
    """Load, validate and resolve a scorecard file; raises ScorecardError with every issue."""
    path = Path(path)
    if not path.is_file():
        raise ScorecardError(
            [Issue(str(path), 1, "scorecard", "an existing YAML file", "no such file")]
        )
    return load_scorecard_text(path.read_text(encoding="utf-8"), str(path))
