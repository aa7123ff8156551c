"""`healthscore serve`: the REST service on localhost."""

from __future__ import annotations

from typing import Annotated

import typer

from healthscore.cli._common import (
    ScorecardOption,
    StoreOption,
    WarehouseOption,
    console,
    load_card,
)
from healthscore.spec._models import window_days


def _seconds(text: str | None) -> float | None:
    if text is None:
        return None
    if text.endswith("h") and text[:-1].isdigit():
        return float(int(text[:-1]) * 3600)
    if text.endswith("m") and text[:-1].isdigit():
        return float(int(text[:-1]) * 60)
    try:
        return float(window_days(text) * 86400)
    except ValueError:
        raise typer.BadParameter(
            f"a duration like 15m, 1h or 1d. Got '{text}'.", param_hint="--refresh-every"
        ) from None


def register_serve(app: typer.Typer) -> None:
    @app.command()
    def serve(
        scorecard: ScorecardOption,
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
        refresh_every: Annotated[
            str | None, typer.Option(help="Rescore every account on a schedule: 15m, 1h, 1d.")
        ] = None,
        max_batch: Annotated[int, typer.Option(help="Most events in one POST.")] = 10_000,
        rate_limit: Annotated[int, typer.Option(help="Requests per minute per key.")] = 6_000,
        warehouse: WarehouseOption = None,
        store: StoreOption = None,
    ) -> None:
        """The REST API (OpenAPI at /docs): scores, events with rescoring, overrides, tasks."""
        import uvicorn

        from healthscore.api import ServiceSettings, create_app

        load_card(scorecard)  # every problem listed before anything starts
        settings = ServiceSettings(
            scorecard=scorecard,
            warehouse=warehouse,
            store=store,
            max_batch=max_batch,
            requests_per_minute=rate_limit,
            refresh_every_seconds=_seconds(refresh_every),
        )
        console.print(
            f"healthscore on http://{host}:{port} (API docs: /docs). "
            "Keys: `healthscore keys create --role viewer|editor|admin -c ...`."
        )
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
