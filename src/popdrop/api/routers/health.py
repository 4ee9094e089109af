"""Liveness and readiness: both answer without authentication."""

from __future__ import annotations

from fastapi import APIRouter

from popdrop.api import problems
from popdrop.api.deps import StoreDep
from popdrop.api.schemas import Health, Ready

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> Health:
    """The process answers; touches no storage."""
    return Health()


@router.get("/ready", responses=problems.responses(problems.STORAGE_UNAVAILABLE))
def ready(store: StoreDep) -> Ready:
    """The table and the bucket answer (one GetItem, one HeadBucket)."""
    store.check_ready()
    return Ready()
