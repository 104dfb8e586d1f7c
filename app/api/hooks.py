"""MLflow registry webhooks: verified, then an immediate model refresh on this instance."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["hooks"])
