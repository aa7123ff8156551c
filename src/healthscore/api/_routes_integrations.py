"""Intake adapters: Stripe webhooks and Segment calls, mapped onto the data contract."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/integrations", tags=["integrations"])
