"""Action texts: templates filled with an account's fields, and Slack's message shape."""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from typing import Any

# Slack refuses a section block whose text is longer (HTTP 400 invalid_blocks).
SLACK_SECTION_LIMIT = 3000


class _EscapingFormatter(string.Formatter):
    def __init__(self, escape: Callable[[str], str]) -> None:
        self._escape = escape

    def format_field(self, value: Any, format_spec: str) -> str:
        return self._escape(super().format_field(value, format_spec))


def render(
    template: str,
    fields: Mapping[str, object],
    *,
    escape: Callable[[str], str] | None = None,
) -> str:
    """Fill the `{name}` placeholders of a validated template; `escape` applies to field values.

    Escaping the values, not the template, keeps the template's own links and mentions
    working while an account named "<!channel>" cannot notify a whole Slack channel.

    >>> fields = {"account_id": "acme", "score": 41.26, "tier": "red"}
    >>> render("{account_id} fell to {score:.1f} ({tier})", fields)
    'acme fell to 41.3 (red)'
    >>> render("<{url}|{name}>", {"url": "https://x.io", "name": "<!channel>"}, escape=slack_escape)
    '<https://x.io|&lt;!channel&gt;>'
    """
    if escape is None:
        return template.format_map(dict(fields))
    return _EscapingFormatter(escape).vformat(template, (), dict(fields))


def slack_escape(text: str) -> str:
    """Text shown as typed in Slack mrkdwn: only `&`, `<` and `>` need escaping.

    >>> slack_escape("R&D <team>")
    'R&amp;D &lt;team&gt;'
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(text: str) -> dict[str, Any]:
    """A Slack incoming-webhook message: `text` for notifications, one mrkdwn section to show.

    >>> slack_body("*acme* is now red")["blocks"][0]["text"]
    {'type': 'mrkdwn', 'text': '*acme* is now red'}
    """
    shown = text if len(text) <= SLACK_SECTION_LIMIT else text[: SLACK_SECTION_LIMIT - 1] + "…"
    return {
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": shown}}],
    }
