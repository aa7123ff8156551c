"""Small escaped templates: every value is escaped unless it is `Html` already.

Jinja2 is not among the package's dependencies, so pages are built from format strings
whose every argument goes through `esc`. `Html` is only ever made from literal markup or
by these helpers, never from user text.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from urllib.parse import quote, urlencode

MISSING = "\u2013"  # an en dash: a missing number


class Html(str):
    """Text that is HTML already and is never escaped again."""

    __slots__ = ()


def esc(value: object) -> Html:
    """`value` as HTML text: escaped, unless it is `Html` already.

    >>> esc("<b>") + esc(Html("<i>x</i>"))
    '&lt;b&gt;<i>x</i>'
    """
    if isinstance(value, Html):
        return value
    return Html(html.escape(str(value), quote=True))


def fill(template: str, /, **values: object) -> Html:
    """A format-string template with every value escaped (`Html` values kept as they are)."""
    return Html(template.format(**{name: esc(value) for name, value in values.items()}))


def join(parts: Iterable[object], separator: str = "") -> Html:
    return Html(separator.join(esc(part) for part in parts))


def number(value: object, digits: int = 1, signed: bool = False) -> str:
    """A number for a table cell; a missing one reads as a dash."""
    if value is None or not isinstance(value, int | float):
        return MISSING if value is None else str(value)
    if math.isnan(value):
        return MISSING
    return f"{value:+,.{digits}f}" if signed else f"{value:,.{digits}f}"


def text(value: object) -> str:
    """A text cell: missing values (None, NaN, NaT) read as a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    shown = str(value)
    return MISSING if shown in ("NaT", "nan", "None") else shown


def day(value: object) -> str:
    """A date cell (YYYY-MM-DD) from a timestamp, date or text."""
    shown = text(value)
    return shown[:10] if shown != MISSING else shown


def account_url(account_id: str) -> str:
    return "/ui/accounts/" + quote(account_id, safe="")


def link(href: str, label: object) -> Html:
    return fill('<a href="{href}">{label}</a>', href=href, label=label)


def query_url(path: str, params: dict[str, str | int | None]) -> str:
    kept = {name: value for name, value in params.items() if value not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    numeric: Sequence[int] = (),
    css: str = "grid",
    empty: str = "nothing to show",
) -> Html:
    """A table; columns whose index is in `numeric` align right."""
    head = join(
        fill('<th class="{c}">{h}</th>', h=h, c=_align(i, numeric)) for i, h in enumerate(headers)
    )
    body = [
        fill(
            "<tr>{cells}</tr>",
            cells=join(
                fill('<td class="{c}">{v}</td>', v=v, c=_align(i, numeric))
                for i, v in enumerate(row)
            ),
        )
        for row in rows
    ]
    if not body:
        return fill('<p class="empty">{empty}</p>', empty=empty)
    return fill(
        '<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>',
        css=css,
        head=head,
        body=join(body),
    )


def _align(index: int, numeric: Sequence[int]) -> str:
    return "num" if index in numeric else ""


def tier_badge(tier: object, colors: dict[str, str], overridden: bool = False) -> Html:
    """A tier name on its scorecard color; "override" beside it when one holds."""
    mark = Html(
        ' <span class="ovr" title="an override holds">override</span>' if overridden else ""
    )
    color = colors.get(str(tier), "#8a8f98")
    return fill(
        '<span class="tier" style="background:{c}">{t}</span>{m}', c=color, t=text(tier), m=mark
    )


def trend(value: object) -> Html:
    """A signed trend, colored when it moved 2 points or more (the `direction` rule)."""
    shown = number(value, 1, signed=True)
    if not isinstance(value, float) or shown == MISSING:
        return esc(shown)
    css = "down" if value <= -2 else "up" if value >= 2 else "flat"
    return fill('<span class="{c}">{v}</span>', c=css, v=shown)


def select(name: str, options: Sequence[str], chosen: str | None, blank: str) -> Html:
    """A <select> whose first option (empty value) is `blank`."""
    items = [fill('<option value="">{b}</option>', b=blank)]
    for option in options:
        picked = " selected" if option == chosen else ""
        items.append(fill('<option value="{o}"{p}>{o}</option>', o=option, p=Html(picked)))
    return fill('<select name="{n}" id="{n}">{items}</select>', n=name, items=join(items))


def hidden_csrf(token: str) -> Html:
    return fill('<input type="hidden" name="csrf" value="{t}">', t=token)


def section(title: str, body: Html, anchor: str) -> Html:
    return fill('<section id="{a}"><h2>{t}</h2>{b}</section>', a=anchor, t=title, b=body)


def document(title: str, body: Html, assets: dict[str, str], header: str = "") -> Html:
    """A whole page: local CSS, local Plotly and the figure loader; nothing from outside."""
    return fill(
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>{title} · healthscore</title>"
        '<link rel="stylesheet" href="{css}">'
        '<script src="{plotly}" defer></script>'
        '<script src="{js}" defer></script>'
        "</head><body>{header}<main>{body}</main></body></html>",
        title=title,
        css=assets["css"],
        plotly=assets["plotly"],
        js=assets["js"],
        header=Html(header),
        body=body,
    )


def masthead(active: str, who: str, role: str, csrf: str, scorecard: str) -> Html:
    """The bar on top of every signed-in page: where to go, who is signed in, log out."""
    places = (("portfolio", "/ui/", "Portfolio"), ("scorecard", "/ui/scorecard", "Scorecard"))
    nav = join(
        fill(
            '<a href="{href}"{current}>{label}</a>',
            href=href,
            label=label,
            current=Html(' aria-current="page"' if name == active else ""),
        )
        for name, href, label in places
    )
    return fill(
        '<header class="masthead"><span class="brand">healthscore</span>'
        '<span class="card">{scorecard}</span><nav>{nav}</nav>'
        '<form method="post" action="/ui/logout" class="logout">{csrf}'
        '<span class="who">{who} ({role})</span><button type="submit">Log out</button></form>'
        "</header>",
        scorecard=scorecard,
        nav=nav,
        csrf=hidden_csrf(csrf),
        who=who,
        role=role,
    )
