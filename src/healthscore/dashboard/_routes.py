"""Dashboard pages (served by the same process as the REST API)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
