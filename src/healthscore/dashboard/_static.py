"""The pages' three files: the stylesheet, the figure loader and the installed plotly.js.

They are served by the process itself (no CDN, no fonts from outside), with a content
hash in each URL so they can be cached for a year.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from fastapi import Request, Response

YEAR = 365 * 24 * 3600


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    media_type: str
    digest: str


_FILES = {
    "dashboard.css": "text/css; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "plotly.min.js": "text/javascript; charset=utf-8",
}
_cache: dict[str, Asset] = {}
_lock = threading.Lock()


def _read(name: str) -> bytes:
    if name == "plotly.min.js":
        import plotly

        bundled = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
        if bundled.is_file():
            return bundled.read_bytes()
        from plotly.offline import get_plotlyjs

        return str(get_plotlyjs()).encode("utf-8")
    return resources.files("healthscore.dashboard").joinpath("static", name).read_bytes()


def asset(name: str) -> Asset | None:
    """The named file, read and compressed once per process; None for other names."""
    if name not in _FILES:
        return None
    with _lock:
        if name not in _cache:
            body = _read(name)
            _cache[name] = Asset(
                body=body,
                gzipped=gzip.compress(body, compresslevel=6, mtime=0),
                media_type=_FILES[name],
                digest=hashlib.sha256(body).hexdigest()[:12],
            )
        return _cache[name]


def urls() -> dict[str, str]:
    """Where a page finds its assets; the hash in each URL changes with the file."""
    found = {}
    for key, name in (
        ("css", "dashboard.css"),
        ("js", "dashboard.js"),
        ("plotly", "plotly.min.js"),
    ):
        item = asset(name)
        digest = item.digest if item is not None else "missing"
        found[key] = f"/ui/static/{name}?v={digest}"
    return found


def respond(request: Request, item: Asset) -> Response:
    headers = {
        "Cache-Control": f"public, max-age={YEAR}, immutable",
        "ETag": f'"{item.digest}"',
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(item.gzipped, media_type=item.media_type, headers=headers)
    return Response(item.body, media_type=item.media_type, headers=headers)
