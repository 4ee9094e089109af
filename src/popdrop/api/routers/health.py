"""Liveness: answers without authentication and without touching storage."""

from __future__ import annotations

from fastapi import APIRouter

from popdrop.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> Health:
    return Health()
