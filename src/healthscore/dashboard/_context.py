"""What the dashboard needs of the running service (the api layer provides it).

The dashboard sits below the api in the layering, so it names the service by what it
does, not by its class: an engine, a rescoring queue, and `call`, which runs engine work
one call at a time (DuckDB connections are not shared between threads).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from fastapi import Request

from healthscore.engine import Engine

T = TypeVar("T")


class RescoreQueue(Protocol):
    def request(self, accounts: list[str]) -> None: ...


class ServiceLike(Protocol):
    engine: Engine
    rescorer: RescoreQueue

    def call(self, work: Callable[[Engine], T]) -> T: ...


def service_of(request: Request) -> ServiceLike:
    found: ServiceLike = request.app.state.service
    return found
