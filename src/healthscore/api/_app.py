"""The FastAPI application: routers, limits and errors as clear 4xx answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

import healthscore
from healthscore import dashboard
from healthscore.api import _routes_accounts, _routes_events, _routes_integrations, _routes_ops
from healthscore.api._service import Service, ServiceSettings
from healthscore.store import RunInProgressError, StoreError


class Refusal(BaseModel):
    """A 4xx answer: the reason as text, or pydantic's list of each problem in the request."""

    detail: str | list[dict[str, Any]]


# The handlers' own 422s (a batch too big, a value the table cannot hold, an override in
# the past) carry text; without this the schema promised only pydantic's list.
_REFUSED: dict[int | str, dict[str, Any]] = {
    422: {"model": Refusal, "description": "The request cannot be processed; `detail` says why"}
}


def create_app(settings: ServiceSettings) -> FastAPI:
    """The service for one scorecard; workers start with the app and stop with it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = Service(settings)
        app.state.service = service
        try:
            yield
        finally:
            service.close()

    app = FastAPI(
        title="healthscore",
        version=healthscore.__version__,
        description="Customer health scores: read them, feed events, act on them.",
        lifespan=lifespan,
        responses=_REFUSED,
    )

    @app.middleware("http")
    async def limit_body(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        limit = settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return _too_large(limit)
        if declared is None and request.method in {"POST", "PUT", "PATCH"}:
            body = await request.body()  # chunked: read (bounded by the server) and measure
            if len(body) > limit:
                return _too_large(limit)
        return await call_next(request)

    @app.exception_handler(RunInProgressError)
    async def busy(_: Request, error: RunInProgressError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=409)

    @app.exception_handler(StoreError)
    async def refused(_: Request, error: StoreError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=422)

    for module in (_routes_ops, _routes_accounts, _routes_events, _routes_integrations):
        app.include_router(module.router)
    app.include_router(dashboard.router)
    return app


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"detail": f"the request body is larger than {limit:,} bytes; send smaller batches"},
        status_code=413,
    )
