"""Shared route dependencies."""

from __future__ import annotations

from fastapi import Request

from app.model_manager import ModelManager
from app.settings import Settings


def manager(request: Request) -> ModelManager:
    """The app's model manager, started lazily if the lifespan never ran."""
    model_manager: ModelManager = request.app.state.model_manager
    model_manager.start()
    return model_manager


def settings(request: Request) -> Settings:
    return request.app.state.settings


def request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))
