"""The scorecard page: the live version's groups, measures and weights; versions; evidence."""

from __future__ import annotations

import pandas as pd

from healthscore.dashboard._html import Html, day, fill, join, number, section, table, text
from healthscore.engine import Engine
from healthscore.spec import ResolvedScorecard
from healthscore.spec._expr import (
    Binary,
    Call,
    Compare,
    Const,
    Expr,
    ListOf,
    Logic,
    Name,
    Negate,
    Not,
)
from healthscore.spec._resolved import VariantSpec

_KINDS = {
    "BandsNormalizer": "bands",
    "LinearNormalizer": "linear",
    "PercentileNormalizer": "percentile",
    "LogZNormalizer": "log_z",
}


def render(engine: Engine) -> Html:
    card = engine.scorecard
    head = fill(
        '<div class="account-head"><h1>{name}</h1><dl class="facts"><div><dt>version</dt>'
        "<dd>{version}</dd></div><div><dt>hash</dt><dd><code>{hash}</code></dd></div>"
        "<div><dt>file</dt><dd>{file}</dd></div></dl></div>",
        name=card.name,
        version=card.version,
        hash=card.hash,
        file=card.file,
    )
    return join(
        [
            head,
            section("Tiers and gates", _tiers_and_gates(card), "tiers"),
            section("Groups, measures and weights", _variants(card, _accounts(engine)), "groups"),
            section("Versions", _versions(engine.store.versions(), card), "versions"),
            section("Backtest", _backtest(card), "backtest"),
        ]
    )


def _tiers_and_gates(card: ResolvedScorecard) -> Html:
    tops = [100.0, *(t.min for t in card.tiers[:-1])]
    tiers = table(
        ["tier", "from", "below"],
        [
            (
                fill('<span class="tier" style="background:{c}">{t}</span>', c=t.color, t=t.name),
                number(t.min),
                number(top) if top < 100 else "100 (incl.)",
            )
            for t, top in zip(card.tiers, tops, strict=True)
        ],
        numeric=(1, 2),
    )
    gates = table(
        ["gate", "when", "effect", "reason"],
        [
            (
                g.name,
                fill("<code>{e}</code>", e=expression(g.when)),
                _gate_effect(g.cap, g.floor),
                g.reason,
            )
            for g in card.gates
        ],
        empty="no gate",
    )
    return fill('<div class="pair"><div>{t}</div><div>{g}</div></div>', t=tiers, g=gates)


def _gate_effect(cap: float | None, floor: float | None) -> str:
    parts = [
        f"cap {cap:g}" if cap is not None else "",
        f"floor {floor:g}" if floor is not None else "",
    ]
    return ", ".join(p for p in parts if p)


def _accounts(engine: Engine) -> dict[tuple[str, str], int]:
    """Current accounts per (segment, stage) variant."""
    current = engine.store.current(engine.scorecard.name)
    if current.empty:
        return {}
    keys = zip(current["segment"].astype(str), current["stage"].astype(str), strict=True)
    counts: dict[tuple[str, str], int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    return counts


def _variants(card: ResolvedScorecard, accounts: dict[tuple[str, str], int]) -> Html:
    """One block per segment x stage variant; the one with most accounts open."""
    biggest = max(card.variants, key=lambda v: accounts.get(v, 0))
    blocks = []
    for key, variant in card.variants.items():
        blocks.append(
            fill(
                "<details{o}><summary>segment <b>{seg}</b>, stage <b>{stage}</b> · {n} "
                "account(s) now{model}</summary>{body}</details>",
                o=Html(" open" if key == biggest else ""),
                seg=variant.segment,
                stage=variant.stage,
                n=f"{accounts.get(key, 0):,}",
                model=f" · scored by the model in {variant.model}" if variant.model else "",
                body=_groups(variant),
            )
        )
    note = Html(
        '<p class="note">Weights are normalized: a group\'s share is its weight over all '
        "groups' weights, a measure's share is its weight within its group. Accounts whose "
        "metric is missing are reweighted over the measures that count (unless the measure "
        "says <code>neutral</code> or <code>worst</code>).</p>"
    )
    return Html(note + join(blocks))


def _groups(variant: VariantSpec) -> Html:
    total = sum(g.weight for g in variant.groups) or 1.0
    rows: list[tuple[object, ...]] = []
    for group in variant.groups:
        inner = sum(m.weight for m in group.measures) or 1.0
        for index, m in enumerate(group.measures):
            first = index == 0
            rows.append(
                (
                    group.label if first else "",
                    f"{number(group.weight, 1)} ({100 * group.weight / total:.0f}%)"
                    if first
                    else "",
                    m.label,
                    m.metric,
                    _KINDS.get(type(m.normalizer).__name__, type(m.normalizer).__name__),
                    f"{number(m.weight, 1)} ({100 * m.weight / inner:.0f}%)",
                    f"{100 * group.weight / total * m.weight / inner:.1f}%",
                    m.missing.value,
                )
            )
    return table(
        [
            "group",
            "group weight",
            "measure",
            "metric",
            "kind",
            "weight in group",
            "of score",
            "when missing",
        ],
        rows,
        numeric=(1, 5, 6),
    )


def _versions(versions: pd.DataFrame, card: ResolvedScorecard) -> Html:
    mine = versions[versions["scorecard_name"] == card.name] if not versions.empty else versions
    rows = [
        (
            r["scorecard_version"] + (" (live)" if r["scorecard_hash"] == card.hash else ""),
            r["scorecard_hash"],
            day(r["first_as_of"]),
            day(r["last_as_of"]),
            number(r["live_runs"], 0),
            number(r["shadow_runs"], 0),
            number(r["backfill_runs"], 0),
            text(r["last_run_at"])[:19],
        )
        for r in mine.to_dict("records")
    ]
    return table(
        [
            "version",
            "hash",
            "first as of",
            "last as of",
            "live runs",
            "shadow",
            "backfill",
            "last run (UTC)",
        ],
        rows,
        numeric=(4, 5, 6),
        empty="no finished run yet",
    )


def _backtest(card: ResolvedScorecard) -> Html:
    # Nothing stores backtest results yet (they are files the CLI writes): say how to make
    # one rather than run a backtest inside a request.
    return fill(
        '<p class="empty" id="no-backtest">no backtest stored: run <code>healthscore backtest '
        "--json backtest.json -c {file} --start YYYY-MM-DD --end YYYY-MM-DD</code> "
        "(and <code>--html report.html</code> for the full report).</p>",
        file=card.file,
    )


def expression(node: Expr) -> str:
    """An expression tree written back as text (fully parenthesized inside operators).

    >>> expression(Compare(">=", Name("failed_payments_90d"), Const(2)))
    'failed_payments_90d >= 2'
    """
    match node:
        case Name(name=name):
            return name
        case Const(value=value):
            return repr(value)
        case ListOf(items=items):
            return "(" + ", ".join(repr(i) for i in items) + ")"
        case Binary(op=op, left=left, right=right):
            return f"({expression(left)} {op} {expression(right)})"
        case Negate(operand=operand):
            return f"-{expression(operand)}"
        case Not(operand=operand):
            return f"not ({expression(operand)})"
        case Logic(op=op, operands=operands):
            return f" {op} ".join(f"({expression(o)})" for o in operands)
        case Compare(op=op, left=left, right=right):
            return f"{expression(left)} {op} {expression(right)}"
        case Call(function=function, args=args):
            return f"{function}({', '.join(expression(a) for a in args)})"
