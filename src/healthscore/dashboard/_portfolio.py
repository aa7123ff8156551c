"""The portfolio page: tiers over time, the score spread, movers, risk by value, the queue."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from healthscore.dashboard import _charts, _queries
from healthscore.dashboard._html import (
    MISSING,
    Html,
    account_url,
    fill,
    join,
    link,
    number,
    query_url,
    section,
    select,
    table,
    text,
    tier_badge,
    trend,
)
from healthscore.engine import Engine
from healthscore.spec._resolved import TierSpec

PAGE_SIZE = 25
MOVERS = 10


def render(engine: Engine, filters: dict[str, str | None], page: int) -> Html:
    card = engine.scorecard
    current = engine.store.current(card.name)
    counts = _queries.tiers_over_time(engine.store.db, card.name)
    parts = [_headline(current, card.tiers)]
    charts = fill(
        '<div class="pair"><div><h3>Accounts per tier over time</h3>{a}</div>'
        "<div><h3>Score distribution now</h3>{b}</div></div>",
        a=_charts.embed("chart-tiers", _charts.tiers_over_time(counts, card)),
        b=_charts.embed("chart-scores", _charts.score_histogram(current, card)),
    )
    parts.append(section("Health over time", charts, "health"))
    colors = _charts.tier_colors(card)
    parts.append(section("Biggest movers this week", _movers(current, colors), "movers"))
    if card.value is not None and "value_tier" in current.columns:
        matrix = _charts.embed("chart-risk-value", _charts.risk_by_value(current, card))
        note = fill(
            '<p class="note">Accounts by value tier (from <code>value: {v}</code>) and health '
            "tier, current rows.</p>",
            v=card.value,
        )
        parts.append(section("Risk by value", Html(note + matrix), "risk-value"))
    parts.append(section("At-risk work queue", _queue(current, colors, filters, page), "queue"))
    return join(parts)


def _headline(current: pd.DataFrame, tiers: Sequence[TierSpec]) -> Html:
    if current.empty:
        return Html(
            '<p class="empty">No live run yet: run <code>healthscore score -c scorecard.yaml'
            "</code> (or <code>POST /v1/runs</code>) and reload.</p>"
        )
    as_of = pd.to_datetime(current["as_of"]).max().strftime("%Y-%m-%d")
    tiles = [
        fill(
            '<div class="tile"><b>{n}</b><span>accounts, as of {d}</span></div>',
            n=f"{len(current):,}",
            d=as_of,
        )
    ]
    for tier in tiers:
        count = int((current["tier"] == tier.name).sum())
        share = 100 * count / len(current)
        tiles.append(
            fill(
                '<div class="tile"><b style="color:{c}">{n}</b><span>{t} ({s})</span></div>',
                c=tier.color,
                n=f"{count:,}",
                t=tier.name,
                s=f"{share:.0f}%",
            )
        )
    return fill('<div class="tiles">{t}</div>', t=join(tiles))


def _movers(current: pd.DataFrame, colors: dict[str, str]) -> Html:
    if "trend_7d" not in current.columns:
        return table([], [])
    moved = current[current["trend_7d"].notna()]
    moved = moved.reindex(moved["trend_7d"].abs().sort_values(ascending=False).index)
    rows = [
        (
            link(account_url(str(r["account_id"])), r["account_id"]),
            number(r["score"]),
            tier_badge(r["tier"], colors),
            trend(r["trend_7d"]),
            text(r.get("owner")),
            _top_reason(r["reasons"], lifts=r["trend_7d"] > 0),
        )
        for r in moved.head(MOVERS).to_dict("records")
    ]
    return table(
        ["account", "score", "tier", "7 days", "owner", "top drag or lift"],
        rows,
        numeric=(1, 3),
        empty="no 7-day trend yet: it needs a stored run 7 to 14 days before the latest",
    )


def _queue(
    current: pd.DataFrame, colors: dict[str, str], filters: dict[str, str | None], page: int
) -> Html:
    queue = _queries.work_queue(current, filters, page, PAGE_SIZE)
    form = fill(
        '<form method="get" action="/ui/" class="filters" id="queue-filters">'
        '<label for="segment">segment</label>{seg}<label for="owner">owner</label>{own}'
        '<label for="tier">tier</label>{tier}<button type="submit">Filter</button>'
        '<a href="/ui/#queue">clear</a></form>',
        seg=select("segment", _queries.choices(current, "segment"), filters["segment"], "all"),
        own=select("owner", _queries.choices(current, "owner"), filters["owner"], "all"),
        tier=select("tier", _queries.choices(current, "tier"), filters["tier"], "all"),
    )
    headers = ["account", "score", "tier", "7 days", "segment", "stage", "owner"]
    if queue.by_revenue:
        headers.append("revenue at risk")
    headers.append("top drag")
    rows = []
    for r in queue.rows.to_dict("records"):
        row: list[object] = [
            link(account_url(str(r["account_id"])), r["account_id"]),
            number(r["score"]),
            tier_badge(r["tier"], colors, bool(r.get("override_id"))),
            trend(r.get("trend_7d")),
            text(r.get("segment")),
            text(r.get("stage")),
            text(r.get("owner")),
        ]
        if queue.by_revenue:
            row.append(number(r.get("revenue_at_risk"), 0))
        row.append(_top_reason(r["reasons"]))
        rows.append(row)
    order = "most revenue at risk first" if queue.by_revenue else "lowest score first"
    summary = fill(
        '<p class="note" id="queue-summary" data-total="{n}">{n} account(s), {o}; page {p} of '
        "{pages}.</p>",
        n=queue.total,
        o=order,
        p=queue.page,
        pages=queue.pages,
    )
    numeric = (1, 3, 7) if queue.by_revenue else (1, 3)
    body = table(headers, rows, numeric=numeric, css="grid queue", empty="no account matches")
    return join([form, summary, body, _pager(filters, queue)])


def _pager(filters: dict[str, str | None], queue: _queries.Queue) -> Html:
    if queue.pages <= 1:
        return Html("")
    links = []
    for label, target in (("← previous", queue.page - 1), ("next →", queue.page + 1)):
        if 1 <= target <= queue.pages:
            href = query_url("/ui/", {**filters, "page": target}) + "#queue"
            links.append(link(href, label))
    return fill('<nav class="pager">{l}</nav>', l=join(links, " "))


def _top_reason(reasons: object, lifts: bool = False) -> str:
    """The first gate or drag (the first lift when `lifts`); else the first reason."""
    listed = [r for r in reasons if isinstance(r, dict)] if isinstance(reasons, list) else []
    wanted = [r for r in listed if ((r.get("impact") or 0) > 0) == lifts and r.get("impact")]
    picked = (wanted or listed or [{}])[0]
    return str(picked.get("text") or picked.get("code") or MISSING)
