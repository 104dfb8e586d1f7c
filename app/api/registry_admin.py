"""Management API over the MLflow registry (admin key required)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["registry"])
