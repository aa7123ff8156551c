"""Plotly inside one offline page: the library inlined once, each figure a div and a script."""

from __future__ import annotations

from typing import Any

from plotly.offline import get_plotlyjs

CONFIG = {"displaylogo": False, "responsive": True}


def plotly_script() -> str:
    """The installed plotly.js, inline: the page needs no network."""
    source = str(get_plotlyjs()).replace("</script", "<\\/script")
    return f"<script>{source}</script>"


class Figures:
    """Numbers the page's figures and renders each; `count` ends up on the page's body."""

    def __init__(self) -> None:
        self.count = 0

    def html(self, figure: Any, css: str = "chart") -> str:
        self.count += 1
        body = figure.to_html(
            full_html=False,
            include_plotlyjs=False,
            include_mathjax=False,
            div_id=f"figure-{self.count}",
            config=CONFIG,
        )
        return f'<div class="{css}">{body}</div>'
