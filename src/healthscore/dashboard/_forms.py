"""HTML form bodies (application/x-www-form-urlencoded) and the override form's checks.

python-multipart is not a dependency, so FastAPI's `Form` is not available; the pages'
forms are URL-encoded and small, and are read here.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from urllib.parse import parse_qsl

from fastapi import HTTPException, Request, status

MAX_FORM_BYTES = 64 * 1024


async def form_of(request: Request) -> dict[str, str]:
    """The submitted fields (the first value of each); 415 or 413 when it is not a form."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            "the dashboard takes URL-encoded forms (application/x-www-form-urlencoded)",
        )
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, f"a form is at most {MAX_FORM_BYTES:,} bytes"
        )
    fields: dict[str, str] = {}
    pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=50)
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


@dataclass(frozen=True)
class Override:
    score: float | None
    tier: str | None
    reason: str
    until: dt.date


def read_override(fields: dict[str, str], tiers: tuple[str, ...]) -> Override | list[str]:
    """The override the form asks for, or every problem with it (the engine checks again)."""
    problems: list[str] = []
    score: float | None = None
    raw_score = fields.get("score", "").strip()
    if raw_score:
        try:
            score = float(raw_score)
        except ValueError:
            score = math.nan
        if not 0 <= score <= 100:  # NaN fails too
            problems.append(f"The 'score' must be a number from 0 to 100. Got '{raw_score}'.")
    tier = fields.get("tier", "").strip() or None
    if tier is not None and tier not in tiers:
        problems.append(f"The 'tier' must be one of {', '.join(tiers)}. Got '{tier}'.")
    if not raw_score and tier is None:
        problems.append("Give a score, a tier, or both.")
    reason = fields.get("reason", "").strip()
    if not reason:
        problems.append("The 'reason' must say why. Got nothing.")
    elif len(reason) > 2000:
        problems.append(f"The 'reason' must be at most 2,000 characters. Got {len(reason):,}.")
    raw_until = fields.get("until", "").strip()
    until: dt.date | None = None
    try:
        until = dt.date.fromisoformat(raw_until)
    except ValueError:
        problems.append(f"The 'until' must be a date (YYYY-MM-DD). Got '{raw_until}'.")
    if until is not None and until < dt.date.today():
        problems.append(f"The 'until' must be today ({dt.date.today()}) or later. Got {until}.")
    if problems or until is None:
        return problems
    return Override(score, tier, reason, until)
