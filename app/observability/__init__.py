"""Logs, metrics and traces."""

from __future__ import annotations

from fastapi import FastAPI

from app.settings import Settings


def install(app: FastAPI, settings: Settings) -> None:
    """Attach metrics/logging middleware and routes to the app."""
