"""Bearer API keys with roles (viewer < editor < admin) and per-key rate limits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from healthscore.api._service import Service
from healthscore.store._keys import ApiKey, Role, allows, authenticate


def service_of(request: Request) -> Service:
    found: Service = request.app.state.service
    return found


def require(role: Role) -> Callable[..., ApiKey]:
    """A dependency: the caller's key, with at least `role`; else 401, 403 or 429."""

    def check(request: Request, service: Annotated[Service, Depends(service_of)]) -> ApiKey:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "an API key is needed: 'Authorization: Bearer <key>' "
                "(create one with `healthscore keys create`)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        key = authenticate(service.engine.store.db, token.strip())
        if key is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "unknown or revoked API key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not allows(key.role, role):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs the {role} role; key '{key.name}' is {key.role}",
            )
        wait = service.limiter.retry_after(key.key_id)
        if wait is not None:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"more than {service.limiter.per_minute} requests in a minute for key "
                f"'{key.name}'; retry in {wait:.1f} s",
                headers={"Retry-After": str(max(1, round(wait)))},
            )
        return key

    return check


def actor(key: ApiKey) -> str:
    """How a key's writes are attributed in the audit log."""
    return f"key:{key.name} ({key.key_id})"
